package io.kizuna.websocket.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.Deflater;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the listener does with input no well-behaved peer sends, and its other
 * bounds: frames and messages over their maximum and deflate bombs close with
 * 1009 without a large allocation; reserved bits, unknown opcodes, text, a wrong
 * path or subprotocol, a dialer without a node key, a silent or oversized
 * handshake, a connection over the limit and a dead peer each end that one
 * connection.
 */
class WebSocketLimitsTest {

    private static final int MAX = WebSocketSettings.DEFAULT_MAX_MESSAGE_SIZE;

    private final List<WebSocketTransport> nodes = new ArrayList<>();
    private final List<AutoCloseable> clients = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : clients) {
            c.close();
        }
        nodes.forEach(WebSocketTransport::deactivate);
    }

    private record Server(WebSocketTransport node, Listener listener, BlockingQueue<Connection> accepted) {
    }

    private Server server(WebSocketSettings settings) throws Exception {
        WebSocketTransport node = new WebSocketTransport(Identities.generate(), settings);
        nodes.add(node);
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = node.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        return new Server(node, listener, accepted);
    }

    private RawClient client(Server s, NodeIdentity identity) throws Exception {
        RawClient c = new RawClient(s.listener().localAddress(), identity == null ? null : identity.keyManager());
        clients.add(c);
        return c;
    }

    /** A client with a node key, upgraded to kizuna.v1, and the server's end of it. */
    private record Upgraded(RawClient client, Connection accepted, NodeIdentity identity) {
    }

    private Upgraded upgraded(Server s, String extensions) throws Exception {
        NodeIdentity id = Identities.generate();
        RawClient c = client(s, id);
        Map<String, String> head = c.upgrade("/kizuna", "kizuna.v1", extensions);
        assertThat(head.get(":status")).startsWith("HTTP/1.1 101");
        Connection accepted = s.accepted().poll(10, SECONDS);
        assertThat(accepted).as("the listener accepted the upgraded connection").isNotNull();
        return new Upgraded(c, accepted, id);
    }

    // ------------------------------------------------------------------ handshake

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void upgradeNeedsThePathTheSubprotocolAndANodeKey() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded good = upgraded(s, null);
        assertThat(good.accepted().info().peerId()).isEqualTo(good.identity().peerId());

        Map<String, String> wrongPath = client(s, Identities.generate()).upgrade("/other", "kizuna.v1", null);
        Map<String, String> noProtocol = client(s, Identities.generate()).upgrade("/kizuna", null, null);
        Map<String, String> otherProtocol = client(s, Identities.generate()).upgrade("/kizuna", "chat", null);
        Map<String, String> anonymous = client(s, null).upgrade("/kizuna", "kizuna.v1", null);

        for (Map<String, String> refused : List.of(wrongPath, noProtocol, otherProtocol, anonymous)) {
            assertThat(refused.get(":status")).as("refused upgrade").doesNotStartWith("HTTP/1.1 101");
        }
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().refusedHandshakes() == 4);
        assertThat(s.accepted().poll(200, TimeUnit.MILLISECONDS)).as("nothing more reached the acceptor").isNull();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void silentDialersAreClosedAfterTheHandshakeTimeout() throws Exception {
        Server s = server(WebSocketSettings.defaults().withHandshakeTimeoutMillis(500));
        long start = System.nanoTime();
        try (Socket plain = new Socket()) {
            plain.connect(s.listener().localAddress(), 5000);
            plain.setSoTimeout(10_000);
            assertThat(plain.getInputStream().readAllBytes().length).as("at most a TLS alert, then the end")
                    .isLessThan(64);
        }
        RawClient tlsOnly = client(s, Identities.generate()); // TLS done, no upgrade request
        assertThat(tlsOnly.readByte()).isEqualTo(-1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(5000);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().refusedHandshakes() == 2);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().openChannels() == 0);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void oversizedUpgradeRequestIsRefused() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        RawClient c = client(s, Identities.generate());
        byte[] filler = new byte[4096];
        Arrays.fill(filler, (byte) 'a');
        StringBuilder r = new StringBuilder("GET /kizuna HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (int i = 0; i < 4; i++) {
            r.append("X-Filler-").append(i).append(": ").append(new String(filler, StandardCharsets.US_ASCII))
                    .append("\r\n");
        }
        try {
            c.sendRaw(r.toString().getBytes(StandardCharsets.US_ASCII));
            assertThat(c.readByte()).isEqualTo(-1);
        } catch (IOException closedWhileSending) {
            // the listener closed while the request was still going out: refused as well
        }
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().refusedHandshakes() == 1);
        assertThat(s.accepted()).isEmpty();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void connectionLimitClosesNewInboundAndRefusesDials() throws Exception {
        Server s = server(WebSocketSettings.defaults().withMaxConnections(1));
        upgraded(s, null);
        try (Socket second = new Socket()) {
            second.connect(s.listener().localAddress(), 5000);
            second.setSoTimeout(10_000);
            assertThat(second.getInputStream().read()).as("closed at once").isEqualTo(-1);
        }
        assertThat(s.node().refusedForLimit()).isEqualTo(1);

        WebSocketTransport full = new WebSocketTransport(Identities.generate(),
                WebSocketSettings.defaults().withMaxConnections(1));
        nodes.add(full);
        Server other = server(WebSocketSettings.defaults());
        full.connect(PeerAddress.of(other.node().identity().peerId(), other.listener().endpoint()),
                Duration.ofSeconds(5)).toCompletableFuture().get(10, SECONDS);
        Throwable refused = failure(() -> full.connect(PeerAddress.of(other.node().identity().peerId(),
                other.listener().endpoint()), Duration.ofSeconds(5)).toCompletableFuture().get(10, SECONDS));
        assertThat(refused).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxConnections");
    }

    // ------------------------------------------------------------------ sizes

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void hugeDeclaredFrameLengthClosesWith1009WithoutAllocatingIt() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        long[] declared = {MAX + 1L, Integer.MAX_VALUE, 1L << 40, Long.MAX_VALUE};
        for (int i = 0; i < declared.length; i++) {
            Upgraded u = upgraded(s, null);
            long before = allocatedByEventLoops();
            u.client().sendRaw(RawClient.frame(true, 0, 2, declared[i], new byte[64]));
            RawClient.Frame close = u.client().readUntilClose();
            long allocated = allocatedByEventLoops() - before;

            assertThat(close.closeCode()).as("close code for a declared length of %d", declared[i])
                    .isEqualTo(1009);
            assertThat(u.client().readByte()).as("the listener ended the connection").isEqualTo(-1);
            assertThat(allocated).as("bytes the event loops allocated meanwhile").isLessThan(4L * 1024 * 1024);
            Throwable why = closeFailure(u.accepted());
            assertThat(why).isInstanceOf(TransportException.LimitExceeded.class);
            int expected = i + 1;
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().closedTooBig() == expected);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void messageFragmentedPastTheLimitClosesWith1009() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded u = upgraded(s, null);
        var read = u.accepted().read(ByteBuffer.allocate(1024)).toCompletableFuture();
        byte[] fragment = new byte[60 * 1024];
        u.client().sendFrame(false, 0, 2, fragment);
        try {
            // Each fragment is far below maxFrameSize; together they pass maxMessageSize.
            for (int i = 0; i < 64; i++) {
                u.client().sendFrame(false, 0, 0, fragment);
            }
        } catch (IOException closedWhileSending) {
            // the listener closed while fragments were still going out
        }
        assertThat(u.client().readUntilClose().closeCode()).isEqualTo(1009);
        assertThat(causeOf(read)).as("the application never saw part of the message")
                .isInstanceOf(TransportException.LimitExceeded.class);
        assertThat(s.node().closedTooBig()).isEqualTo(1);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void deflateIsOffByDefaultAndACompressedFrameIsThenAProtocolError() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded u = upgraded(s, PerMessageDeflate.OFFER);
        // the 101 did not accept the offer: a frame with RSV1 breaks the protocol
        u.client().sendFrame(true, 4, 2, new byte[] {1, 2, 3});
        assertThat(u.client().readUntilClose().closeCode()).isEqualTo(1002);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void deflateBombClosesWith1009AndSmallCompressedMessagesArrive() throws Exception {
        Server s = server(WebSocketSettings.defaults().withDeflate(true));
        NodeIdentity id = Identities.generate();
        RawClient c = client(s, id);
        Map<String, String> head = c.upgrade("/kizuna", "kizuna.v1", "permessage-deflate; client_max_window_bits");
        assertThat(head.get(":status")).startsWith("HTTP/1.1 101");
        assertThat(head.get("sec-websocket-extensions")).startsWith("permessage-deflate");
        Connection accepted = s.accepted().poll(10, SECONDS);
        assertThat(accepted).isNotNull();

        byte[] text = "a small message, compressed, arrives as it was sent. ".repeat(40)
                .getBytes(StandardCharsets.UTF_8);
        c.sendFrame(true, 4, 2, deflate(text));
        ByteBuffer got = ByteBuffer.allocate(text.length);
        while (got.hasRemaining()) {
            assertThat(accepted.read(got).toCompletableFuture().get(10, SECONDS)).isPositive();
        }
        assertThat(got.array()).isEqualTo(text);

        byte[] bomb = deflate(new byte[64 * 1024 * 1024]); // 64 MiB of zeros
        assertThat(bomb.length).as("compressed size").isLessThan(MAX);
        long before = allocatedByEventLoops();
        c.sendFrame(true, 4, 2, bomb);
        var read = accepted.read(ByteBuffer.allocate(64 * 1024)).toCompletableFuture();
        assertThat(c.readUntilClose().closeCode()).isEqualTo(1009);
        long allocated = allocatedByEventLoops() - before;
        assertThat(causeOf(read)).isInstanceOf(TransportException.LimitExceeded.class);
        assertThat(allocated).as("bytes the event loops allocated while refusing the bomb")
                .isLessThan(16L * 1024 * 1024);
        assertThat(s.node().closedTooBig()).isEqualTo(1);
    }

    // ------------------------------------------------------------------ frames

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void badFramesCloseWithTheirCodes() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        record Case(String what, byte[] frame, int code) {
        }
        List<Case> cases = List.of(
                new Case("RSV2 without an extension", RawClient.frame(true, 2, 2, 3, new byte[3]), 1002),
                new Case("reserved opcode 3", RawClient.frame(true, 0, 3, 3, new byte[3]), 1002),
                new Case("ping of 126 bytes", RawClient.frame(true, 0, 9, 126, new byte[126]), 1002),
                new Case("fragmented ping", RawClient.frame(false, 0, 9, 1, new byte[1]), 1002),
                new Case("continuation without a start", RawClient.frame(true, 0, 0, 3, new byte[3]), 1002),
                new Case("text message", RawClient.frame(true, 0, 1, 2, "hi".getBytes(StandardCharsets.UTF_8)),
                        1003));
        for (Case k : cases) {
            Upgraded u = upgraded(s, null);
            u.client().sendRaw(k.frame());
            assertThat(u.client().readUntilClose().closeCode()).as(k.what()).isEqualTo(k.code());
            assertThat(closeFailure(u.accepted())).as(k.what()).isInstanceOf(TransportException.class);
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void pingsArePongedAndFragmentsWithPingsBetweenArrive() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded u = upgraded(s, null);
        byte[] nonce = "nonce-42".getBytes(StandardCharsets.UTF_8);
        u.client().sendFrame(true, 0, 9, nonce);
        RawClient.Frame pong = u.client().readFrame();
        assertThat(pong.opcode()).isEqualTo(10);
        assertThat(pong.payload()).isEqualTo(nonce);

        u.client().sendFrame(false, 0, 2, "frag".getBytes(StandardCharsets.UTF_8));
        u.client().sendFrame(true, 0, 9, nonce);
        u.client().sendFrame(false, 0, 0, "ment".getBytes(StandardCharsets.UTF_8));
        u.client().sendFrame(true, 0, 0, "ed".getBytes(StandardCharsets.UTF_8));
        assertThat(u.client().readFrame().opcode()).isEqualTo(10);
        ByteBuffer got = ByteBuffer.allocate(10);
        while (got.hasRemaining()) {
            assertThat(u.accepted().read(got).toCompletableFuture().get(10, SECONDS)).isPositive();
        }
        assertThat(new String(got.array(), StandardCharsets.UTF_8)).isEqualTo("fragmented");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void closeFromThePeerIsEchoedAndEndsTheStream() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded u = upgraded(s, null);
        u.client().sendFrame(true, 0, 2, new byte[] {7});
        u.client().sendFrame(true, 0, 8, new byte[] {0x03, (byte) 0xe8, 'b', 'y', 'e'}); // 1000 "bye"
        RawClient.Frame echo = u.client().readUntilClose();
        assertThat(echo.closeCode()).isEqualTo(1000);
        assertThat(u.client().readByte()).isEqualTo(-1);
        ByteBuffer one = ByteBuffer.allocate(8);
        assertThat(u.accepted().read(one).toCompletableFuture().get(10, SECONDS)).isEqualTo(1);
        assertThat(u.accepted().read(one).toCompletableFuture().get(10, SECONDS)).as("end of stream").isEqualTo(-1);
        u.accepted().closeFuture().toCompletableFuture().get(10, SECONDS); // orderly, not a failure

        Upgraded v = upgraded(s, null);
        v.client().sendFrame(true, 0, 8, new byte[] {0x03, (byte) 0xf3}); // 1011
        assertThat(v.client().readUntilClose().closeCode()).isEqualTo(1011);
        assertThat(closeFailure(v.accepted())).hasMessageContaining("1011");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void stoppingTheTransportClosesWith1001() throws Exception {
        Server s = server(WebSocketSettings.defaults());
        Upgraded u = upgraded(s, null);
        s.node().deactivate();
        assertThat(u.client().readUntilClose().closeCode()).isEqualTo(1001);
    }

    // ------------------------------------------------------------------ keep-alive

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void silentPeerIsPingedThenClosedAsDead() throws Exception {
        Server s = server(WebSocketSettings.defaults().withKeepAlive(200, 1000));
        Upgraded u = upgraded(s, null);
        long start = System.nanoTime();
        assertThat(u.client().readFrame().opcode()).as("a ping after 200 ms of silence").isEqualTo(9);
        // The raw client never answers: the listener gives up on it.
        Throwable why = closeFailure(u.accepted());
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(why).isInstanceOf(TransportException.ConnectionTimeout.class);
        assertThat(millis).isBetween(500L, 5000L);
        assertThat(s.node().deadPeers()).isEqualTo(1);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void idleNodesKeepTheirConnectionWithPingsAndPongs() throws Exception {
        WebSocketSettings quick = WebSocketSettings.defaults().withKeepAlive(100, 400);
        Server s = server(quick);
        WebSocketTransport dialer = new WebSocketTransport(Identities.generate(), quick);
        nodes.add(dialer);
        Connection c = dialer.connect(PeerAddress.of(s.node().identity().peerId(), s.listener().endpoint()),
                Duration.ofSeconds(5)).toCompletableFuture().get(10, SECONDS);
        Connection accepted = s.accepted().poll(10, SECONDS);
        // The applications stay silent for several dead-peer timeouts: pings and pongs keep both ends.
        // Each side pings only after 100 ms of silence, so 20 pongs take at least 10 x 100 ms.
        long start = System.nanoTime();
        Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> s.node().pongs() + dialer.pongs() >= 20);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThan(2 * 400L);
        assertThat(c.isConnected()).isTrue();
        assertThat(accepted.isConnected()).isTrue();
        assertThat(s.node().deadPeers() + dialer.deadPeers()).isZero();
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] deflate(byte[] data) {
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        d.setInput(data);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[64 * 1024];
        int n;
        do {
            n = d.deflate(chunk, 0, chunk.length, Deflater.SYNC_FLUSH);
            out.write(chunk, 0, n);
        } while (n == chunk.length);
        d.end();
        byte[] b = out.toByteArray();
        return Arrays.copyOf(b, b.length - 4); // without the 00 00 ff ff tail (RFC 7692)
    }

    /** @return bytes allocated so far by the transports' event-loop threads */
    static long allocatedByEventLoops() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("kizuna-websocket")) {
                sum += Math.max(0, mx.getThreadAllocatedBytes(t.getId()));
            }
        }
        return sum;
    }

    private static Throwable closeFailure(Connection c) throws Exception {
        return causeOf(c.closeFuture().toCompletableFuture());
    }

    private static Throwable causeOf(java.util.concurrent.CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("completed without a failure");
    }

    private interface Op {
        void run() throws Exception;
    }

    private static Throwable failure(Op op) throws Exception {
        try {
            op.run();
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("no failure");
    }
}
