package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import io.kizuna.core.internal.mux.MuxSession;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The manager multiplexes single-stream connections (the memory transport, as
 * TCP, WebSocket and relay circuits): a stream to a connected peer costs no
 * dial, i.e. no handshake; a peer that does not multiplex still works, with a
 * dial per stream as before.
 */
@Timeout(120)
class StreamMuxTest extends ManagerTestSupport {

    private static final String ECHO = "test/echo/1";

    private Node echoing(ManagerSettings.Builder settings) {
        Node n = node(settings, "mem-a:10");
        n.manager.bindStreamHandler((s, p) -> echo(s), Map.of(StreamHandler.PROTOCOL, ECHO));
        return n;
    }

    @Test
    void streamsToAConnectedPeerCostNoHandshakeRunTogetherAndCloseApart() throws Exception {
        Node a = node("mem-a:100");
        Node b = echoing(Node.settings());
        get(a.manager.connectToPeer(b.address()));
        assertThat(a.dials()).isEqualTo(1);
        assertThat(a.manager.connections().get(0).id()).as("the control session is the connection's first stream")
                .isEqualTo(a.transport("mem-a").dialed().get(0).info().id());

        int n = 12;
        int size = 300 * 1024;
        List<Connection> streams = new ArrayList<>();
        List<CompletableFuture<byte[]>> echoed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            streams.add(get(a.manager.openStream(b.address(), ECHO)));
        }
        for (int i = 0; i < n; i++) {
            echoed.add(exchange(streams.get(i), bytes(size, i)));
        }
        // One stream is closed before its echo is read; the others carry on.
        get(streams.get(3).close());
        for (int i = 0; i < n; i++) {
            if (i != 3) {
                assertThat(get(echoed.get(i))).as("stream %d", i).isEqualTo(bytes(size, i));
            }
        }
        assertThat(get(a.manager.perf(b.address(), 200_000, 300_000, null)).downloadBytes()).isEqualTo(300_000);

        assertThat(a.dials()).as("only the pooled connection was dialed: one handshake").isEqualTo(1);
        assertThat(b.dials()).isZero();
        assertThat(a.transport("mem-a").openConnections()).hasSize(1);
        assertThat(a.manager.connections()).hasSize(1);
        assertThat(a.manager.protocolViolations() + b.manager.protocolViolations()).isZero();
    }

    @Test
    void theAcceptorOpensStreamsOnTheConnectionItAccepted() throws Exception {
        Node a = echoing(Node.settings());
        Node b = echoing(Node.settings());
        get(a.manager.connectToPeer(b.address()));
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().size() == 1);
        Connection s = get(b.manager.openStream(PeerAddress.of(a.id), ECHO));
        assertThat(get(exchange(s, bytes(100_000, 9)))).isEqualTo(bytes(100_000, 9));
        assertThat(a.dials() + b.dials()).isEqualTo(1);
    }

    @Test
    void theStreamLimitPerConnectionIsAnError() throws Exception {
        Node a = node(Node.settings().maxStreamsPerConnection(2), "mem-a:100");
        Node b = echoing(Node.settings());
        Connection first = get(a.manager.openStream(b.address(), ECHO));
        Throwable t = failure(a.manager.openStream(b.address(), ECHO));
        assertThat(t).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxStreamsPerConnection=2");
        get(first.close());
        MuxSession pooled = (MuxSession) get(a.manager.session(b.address())).connection();
        await().atMost(Duration.ofSeconds(5)).until(() -> pooled.openStreams() == 1);
        Connection again = get(a.manager.openStream(b.address(), ECHO));
        assertThat(get(exchange(again, bytes(10, 1)))).isEqualTo(bytes(10, 1));
        assertThat(a.dials()).isEqualTo(1);
    }

    @Test
    void aPeerThatDoesNotMultiplexIsDialedAgainWithoutAndEachStreamDials() throws Exception {
        Node a = node("mem-a:100");
        Node old = echoing(Node.settings().streamMux(false));
        get(a.manager.connectToPeer(old.address()));
        assertThat(a.dials()).as("refused, then dialed without").isEqualTo(2);
        Connection s = get(a.manager.openStream(old.address(), ECHO));
        assertThat(get(exchange(s, bytes(50_000, 3)))).isEqualTo(bytes(50_000, 3));
        assertThat(a.dials()).as("a stream of its own").isEqualTo(3);

        // Remembered: the next connection to it does not offer the multiplexer again.
        get(a.manager.disconnect(old.id));
        await().atMost(Duration.ofSeconds(5)).until(() -> a.manager.connections().isEmpty());
        get(a.manager.connectToPeer(old.address()));
        assertThat(a.dials()).isEqualTo(4);
    }

    @Test
    void aNodeThatDoesNotMultiplexDialsAsBefore() throws Exception {
        Node old = node(Node.settings().streamMux(false), "mem-a:100");
        Node b = echoing(Node.settings());
        get(old.manager.connectToPeer(b.address()));
        assertThat(old.dials()).isEqualTo(1);
        Connection s = get(old.manager.openStream(b.address(), ECHO));
        assertThat(get(exchange(s, bytes(50_000, 4)))).isEqualTo(bytes(50_000, 4));
        assertThat(old.dials()).isEqualTo(2);
    }

    @Test
    void theFirstStreamFollowsTheOpenWithoutWaitingForItsAnswer() throws Exception {
        Node a = node("mem-a:100");
        RawPeer peer = RawPeer.listen(hub, "mem-a");
        try {
            a.manager.connectToPeer(peer.address());
            Connection c = peer.accepted.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(RawPeer.read(c)).isEqualTo(new io.kizuna.core.internal.protocol.ControlMessage.Open(
                    StreamMux.PROTOCOL));
            // Not answered yet, the session's first frame is there already: SYN of stream 1.
            ByteBuffer next = ByteBuffer.allocate(12);
            while (next.hasRemaining()) {
                assertThat(get(c.read(next))).isPositive();
            }
            assertThat(java.util.HexFormat.of().formatHex(next.array())).isEqualTo("000100010000000100000000");
        } finally {
            peer.close();
        }
    }

    // ------------------------------------------------------------------ helpers

    private static CompletableFuture<byte[]> exchange(Connection s, byte[] data) {
        ByteBuffer in = ByteBuffer.allocate(data.length);
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        s.write(ByteBuffer.wrap(data)).thenCompose(v -> s.shutdownOutput()).whenComplete((v, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            }
        });
        readAll(s, in, result);
        return result;
    }

    private static void readAll(Connection s, ByteBuffer in, CompletableFuture<byte[]> result) {
        s.read(in.hasRemaining() ? in : ByteBuffer.allocate(1)).whenComplete((n, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            } else if (n < 0) {
                result.complete(java.util.Arrays.copyOf(in.array(), in.position()));
            } else {
                readAll(s, in, result);
            }
        });
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void echo(Connection s) {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        Async.loop(() -> {
            buf.clear();
            return s.read(buf).thenCompose(n -> {
                if (n < 0) {
                    return s.shutdownOutput().thenApply(v -> false);
                }
                buf.flip();
                return s.write(buf).thenApply(v -> true);
            });
        });
    }
}
