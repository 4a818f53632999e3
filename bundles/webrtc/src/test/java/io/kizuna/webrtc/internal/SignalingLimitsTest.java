package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Listener;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * WebSockets that never send an offer count against maxConnections, so they cannot pile up; connections that
 * never upgrade are bounded in time and number; browser pages of other origins may not signal.
 */
@Timeout(30)
class SignalingLimitsTest {

    @Test
    void signalingSessionsBeyondMaxConnectionsAreClosed() throws Exception {
        WebRtcSettings d = WebRtcContractTest.loopbackSettings();
        WebRtcSettings one = new WebRtcSettings(d.priority(), d.stunServers(), d.turnServers(), d.turnUsername(),
                d.turnPassword(), d.relayOnly(), d.candidateNetworks(), d.loopbackCandidates(), 1, d.maxStreams(),
                30_000, d.maxMessageSize(), d.receiveWindow(), d.writeHighWaterMark(),
                d.writeLowWaterMark(), d.maxSignalingMessage(), d.maxCandidates(), d.closeTimeoutMillis(),
                d.nativeLibrary(), d.acceptSignaled(), d.maxPendingSignaling(), d.allowedOrigins(),
                d.maxConnectionsPerPeer());
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

    private static WebRtcTransport gated(int maxPending, int timeoutMillis, java.util.List<String> origins) {
        return new WebRtcTransport(Identities.generate(), WebRtcContractTest.loopbackSettings()
                .withSignalingGate(maxPending, timeoutMillis, origins));
    }

    private static WebRtcListener listen(WebRtcTransport t) throws Exception {
        return (WebRtcListener) t.listen(new InetSocketAddress("127.0.0.1", 0), c -> { }).toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
    }

    private static java.net.Socket raw(Listener l, String send) throws Exception {
        java.net.Socket s = new java.net.Socket();
        s.connect(l.localAddress(), 5000);
        s.setSoTimeout(5000);
        s.getOutputStream().write(send.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        return s;
    }

    /** @return -1 once the server closed the connection; a timeout when it did not within 5 s */
    private static int readEnd(java.net.Socket s) throws Exception {
        try (s) {
            return s.getInputStream().read();
        }
    }

    @Test
    void idleAndPartialRequestsAreClosedWithinTheHandshakeTimeout() throws Exception {
        WebRtcTransport t = gated(64, 1000, java.util.List.of());
        try {
            WebRtcListener l = listen(t);
            java.net.Socket idle = raw(l, "");
            java.net.Socket partial = raw(l, "GET " + WsSignaling.PATH + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg");
            assertThat(readEnd(idle)).as("an idle connection").isEqualTo(-1);
            assertThat(readEnd(partial)).as("a partial request").isEqualTo(-1);
            assertThat(l.gate().timedOut()).isEqualTo(2);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> l.gate().pending() == 0);
        } finally {
            t.deactivate();
        }
    }

    @Test
    void connectionsBeyondMaxPendingSignalingAreClosedAtOnce() throws Exception {
        WebRtcTransport t = gated(2, 30_000, java.util.List.of());
        try {
            WebRtcListener l = listen(t);
            java.net.Socket first = raw(l, "");
            java.net.Socket second = raw(l, "");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> l.gate().pending() == 2);
            assertThat(readEnd(raw(l, ""))).as("a third, well before the 30 s timeout").isEqualTo(-1);
            assertThat(l.gate().refusedPending()).isEqualTo(1);
            first.close();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> l.gate().pending() == 1);
            SignalingChannel upgraded = WsSignaling.connect(t.signalingGroup(), l.endpoint(), Duration.ofSeconds(5),
                    65536).get(10, TimeUnit.SECONDS);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> l.gate().pending() == 1);
            assertThat(upgraded.closeFuture().toCompletableFuture().isDone()).isFalse();
            upgraded.close();
            second.close();
        } finally {
            t.deactivate();
        }
    }

    /** @return the status line of a WebSocket upgrade with these Origin and Host headers (null: none) */
    private static String upgrade(Listener l, String origin, String host) throws Exception {
        String request = "GET " + WsSignaling.PATH + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + (origin == null ? "" : "Origin: " + origin + "\r\n") + "\r\n";
        try (java.net.Socket s = raw(l, request)) {
            return new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
        }
    }

    @Test
    void onlyTheEndpointsOwnPageAndConfiguredOriginsMaySignal() throws Exception {
        WebRtcTransport t = gated(64, 10_000, java.util.List.of("https://app.example.org"));
        try {
            WebRtcListener l = listen(t);
            String self = "127.0.0.1:" + l.localAddress().getPort();
            assertThat(upgrade(l, null, self)).as("no Origin: a node or a tool").startsWith("HTTP/1.1 101");
            assertThat(upgrade(l, "http://" + self, self)).as("the endpoint's own page").startsWith("HTTP/1.1 101");
            assertThat(upgrade(l, "https://app.example.org", self)).as("configured").startsWith("HTTP/1.1 101");
            assertThat(upgrade(l, "http://evil.example", self)).as("another site").startsWith("HTTP/1.1 403");
            String rebound = "evil.example:" + l.localAddress().getPort();
            assertThat(upgrade(l, "http://" + rebound, rebound)).as("a DNS name rebound to this address")
                    .startsWith("HTTP/1.1 403");
            assertThat(upgrade(l, "null", self)).as("an opaque origin").startsWith("HTTP/1.1 403");
            assertThat(l.gate().refusedOrigin()).isEqualTo(3);
        } finally {
            t.deactivate();
        }
    }
}
