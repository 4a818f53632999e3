package io.kizuna.relay.internal;

import static io.kizuna.relay.internal.ServerHarness.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

import io.kizuna.identity.Identities;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Circuits the relay announced to a reserved peer that has not taken them yet. */
class PendingCircuitsTest {

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aCircuitWaitingOnAReservationThatEndsIsRefusedAtOnce() throws Exception {
        RelaySettings.Builder s = RelaySettings.builder();
        s.streamsPerSource = 0;
        try (ServerHarness h = new ServerHarness(s.build())) {
            PeerId b = Identities.generate().peerId();
            Connection reservation = h.reserve(b, "203.0.113.5");
            Connection dialer = h.stream(Identities.generate().peerId(), "203.0.113.6");
            RelayCodec.write(dialer, new RelayMessage.Connect(b, new byte[0]));
            assertThat(get(RelayCodec.read(reservation))).isInstanceOf(RelayMessage.Incoming.class);

            // B gives its reservation up instead of taking the circuit.
            long start = System.nanoTime();
            reservation.close();
            RelayMessage answer = get(RelayCodec.read(dialer));

            assertThat(answer).isInstanceOfSatisfying(RelayMessage.Refused.class,
                    r -> assertThat(r.reason()).isEqualTo(Reason.NO_RESERVATION));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("not after acceptTimeout")
                    .isLessThan(RelaySettings.builder().build().acceptTimeout().dividedBy(2));
        }
    }
}
