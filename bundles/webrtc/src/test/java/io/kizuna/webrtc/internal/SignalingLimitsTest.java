package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Listener;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** WebSockets that never send an offer count against maxConnections, so they cannot pile up. */
@Timeout(30)
class SignalingLimitsTest {

    @Test
    void signalingSessionsBeyondMaxConnectionsAreClosed() throws Exception {
        WebRtcSettings d = WebRtcContractTest.loopbackSettings();
        WebRtcSettings one = new WebRtcSettings(d.priority(), d.stunServers(), d.turnServers(), d.turnUsername(),
                d.turnPassword(), d.relayOnly(), d.candidateNetworks(), d.loopbackCandidates(), 1, d.maxStreams(),
                30_000, d.maxMessageSize(), d.receiveWindow(), d.writeHighWaterMark(),
                d.writeLowWaterMark(), d.maxSignalingMessage(), d.maxCandidates(), d.closeTimeoutMillis(),
                d.nativeLibrary(), d.acceptSignaled());
        WebRtcTransport t = new WebRtcTransport(Identities.generate(), one);
        try {
            Listener l = t.listen(new InetSocketAddress("127.0.0.1", 0), c -> { }).toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            SignalingChannel first = WsSignaling.connect(t.signalingGroup(), l.endpoint(), Duration.ofSeconds(5),
                    65536).get(10, TimeUnit.SECONDS);
            SignalingChannel second = WsSignaling.connect(t.signalingGroup(), l.endpoint(), Duration.ofSeconds(5),
                    65536).get(10, TimeUnit.SECONDS);
            // closed by the limit, well before the 30 s negotiation timeout would close it
            second.closeFuture().toCompletableFuture().get(5, TimeUnit.SECONDS);
            assertThat(first.closeFuture().toCompletableFuture().isDone()).as("the first one waits for its offer")
                    .isFalse();
            first.close();
        } finally {
            t.deactivate();
        }
    }
}
