package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.kizuna.identity.Identities;
import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

/** What the punch transport says before it can punch: no manager connection, no QUIC. */
class PunchTransportTest {

    private final PunchTransport transport = new PunchTransport(new PunchEngine(Identities.generate(),
            PunchSettings.of(new String[0], false, 3, 3000, 6, 16), () -> NatType.UNKNOWN, PunchEngine.Mapping.NONE, new PunchStats()));

    @AfterEach
    void stop() {
        transport.engine().close();
    }

    @Test
    void aPeerWithoutAConnectionOfTheManagerIsNotAnAddressOfPunch() {
        PeerAddress peer = PeerAddress.of(Identities.generate().peerId());
        assertThatThrownBy(() -> transport.connect(peer, java.time.Duration.ofSeconds(1)).toCompletableFuture()
                .get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class).cause()
                .isInstanceOf(TransportException.AddressNotSupported.class);
    }

    @Test
    void withoutQuicItIsUnavailableWithTheReasonAndHasNoEndpoints() {
        assertThat(transport.isAvailable()).isFalse();
        assertThat(transport.unavailableReason()).get().asString().contains("QUIC transport");
        assertThat(transport.protocolName()).isEqualTo("punch");
        assertThat(transport.priority()).isBetween(91, 99);
        assertThat(transport.acceptSignaled(c -> { })).isPresent();
        assertThatThrownBy(() -> transport.listen(new java.net.InetSocketAddress(0), c -> { }).toCompletableFuture()
                .get(5, TimeUnit.SECONDS)).cause().hasMessageContaining("no endpoints");
    }
}
