package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A node whose libwebrtc does not load: the transport says why, and fails every use with that reason. */
@Timeout(30)
class UnavailableTest {

    private final NodeIdentity id = Identities.generate();

    @Test
    void aLibraryThatDoesNotLoadMakesTheTransportUnavailableWithTheReason() throws Exception {
        WebRtcTransport t = new WebRtcTransport(id,
                WebRtcContractTest.loopbackSettings().withNativeLibrary("webrtc-java-absent"));
        try {
            assertThat(t.isAvailable()).isFalse();
            assertThat(t.unavailableReason()).hasValueSatisfying(r -> assertThat(r)
                    .contains("webrtc-java-absent").contains("did not load").contains("libpulse0"));
            assertThat(t.toString()).contains("unavailable");

            Throwable listen = failure(() -> t.listen(new InetSocketAddress("127.0.0.1", 0), c -> { })
                    .toCompletableFuture().get(5, TimeUnit.SECONDS));
            assertThat(listen).isInstanceOf(TransportException.WebRtcFailure.class)
                    .hasMessageContaining("webrtc-java-absent");
            PeerAddress peer = PeerAddress.of(Identities.generate().peerId(),
                    Endpoint.parse("webrtc://127.0.0.1:9"));
            Throwable dial = failure(() -> t.connect(peer, Duration.ofSeconds(1)).toCompletableFuture()
                    .get(5, TimeUnit.SECONDS));
            assertThat(dial).isInstanceOf(TransportException.WebRtcFailure.class)
                    .hasMessageContaining("unavailable");
            // Not its address: still "try another transport", whatever the library does.
            Throwable other = failure(() -> t.connect(PeerAddress.of(peer.peerId(),
                    Endpoint.parse("tcp://127.0.0.1:9")), Duration.ofSeconds(1)).toCompletableFuture()
                    .get(5, TimeUnit.SECONDS));
            assertThat(other).isInstanceOf(TransportException.AddressNotSupported.class);
        } finally {
            t.deactivate();
        }
        // The same process still runs a working transport.
        WebRtcTransport good = new WebRtcTransport(id, WebRtcContractTest.loopbackSettings());
        try {
            assertThat(good.isAvailable()).as(good.unavailableReason().orElse("")).isTrue();
        } finally {
            good.deactivate();
        }
    }

    private interface Call {
        Object run() throws Exception;
    }

    private static Throwable failure(Call c) throws Exception {
        try {
            c.run();
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected a failure");
    }
}
