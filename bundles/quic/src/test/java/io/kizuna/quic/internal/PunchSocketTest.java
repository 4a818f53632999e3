package io.kizuna.quic.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Stream;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.PunchSocket;
import io.kizuna.transport.udp.PunchSockets;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Punch sockets on loopback: probes to and from a listener's shared socket,
 * then a QUIC dial from the same socket that the listener accepts from the
 * punch socket's port; a wrong key, the cap, the lifetime and stopping the
 * transport each end the socket, and no UDP socket is left behind.
 */
class PunchSocketTest {

    private static final InetSocketAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    private final List<QuicTransport> transports = new ArrayList<>();
    private final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();

    @AfterEach
    void stop() {
        transports.forEach(QuicTransport::deactivate);
    }

    private QuicTransport node(int maxPunchSockets, Duration lifetime) {
        QuicTransport t = new QuicTransport(Identities.generate(), QuicSettings.defaults(), s -> () -> { },
                maxPunchSockets, lifetime);
        transports.add(t);
        return t;
    }

    private QuicListener listen(QuicTransport t) throws Exception {
        return (QuicListener) get(t.listen(LOOPBACK, accepted::add));
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(10, SECONDS);
    }

    private static byte[] probe(int n) {
        byte[] p = UdpDemuxTest.stunBinding();
        p[19] = (byte) n;
        return p;
    }

    /** The listener and the punch socket each send a probe and each receives the other's, with its source. */
    private static void exchangeProbes(QuicListener listener, PunchSocket punch) throws Exception {
        BlockingQueue<Map.Entry<InetSocketAddress, byte[]>> atListener = new LinkedBlockingQueue<>();
        BlockingQueue<Map.Entry<InetSocketAddress, byte[]>> atPunch = new LinkedBlockingQueue<>();
        Runnable stopListener = listener.sharedSocket().receive((from, data) -> atListener.add(Map.entry(from, data)));
        Runnable stopPunch = punch.receive((from, data) -> atPunch.add(Map.entry(from, data)));
        try {
            get(punch.send(listener.localAddress(), probe(1)));
            Map.Entry<InetSocketAddress, byte[]> in = atListener.poll(10, SECONDS);
            assertThat(in).as("the punch socket's probe reached the listener").isNotNull();
            assertThat(in.getKey()).isEqualTo(punch.localAddress());
            assertThat(in.getValue()).isEqualTo(probe(1));

            get(listener.sharedSocket().send(in.getKey(), probe(2)));
            Map.Entry<InetSocketAddress, byte[]> back = atPunch.poll(10, SECONDS);
            assertThat(back).as("the listener's probe reached the punch socket").isNotNull();
            assertThat(back.getKey()).isEqualTo(listener.localAddress());
            assertThat(back.getValue()).isEqualTo(probe(2));
        } finally {
            stopListener.run();
            stopPunch.run();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void probesPassBetweenAPunchSocketAndAListenersSharedSocket() throws Exception {
        QuicListener listener = listen(node(4, Duration.ofSeconds(30)));
        QuicTransport dialer = node(4, Duration.ofSeconds(30));
        PunchSocket punch = get(dialer.punchSockets().open(LOOPBACK));
        assertThat(punch.localAddress().getPort()).isPositive();
        assertThat(punch.endpoint().toString()).isEqualTo("quic://127.0.0.1:" + punch.localAddress().getPort());

        exchangeProbes(listener, punch);
        assertThat(punch.counters().sent()).isEqualTo(1);
        assertThat(punch.counters().delivered()).isEqualTo(1);
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(1, 1, 0, 0, 0, 0));
        // A datagram is counted as delivered when it is handed over: a receiver that looks sees it counted.
        BlockingQueue<Long> seen = new LinkedBlockingQueue<>();
        Runnable stop = punch.receive((from, data) -> seen.add(punch.counters().delivered()));
        try {
            get(listener.sharedSocket().send(punch.localAddress(), probe(4)));
            assertThat(seen.poll(10, SECONDS)).isEqualTo(2);
        } finally {
            stop.run();
        }

        punch.close();
        get(punch.closeFuture());
        assertThat(dialer.punchSockets().counters().open()).isZero();
        assertThatThrownBy(() -> get(punch.send(listener.localAddress(), probe(3))))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TransportException.Io.class);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void quicDialsFromThePunchSocketToTheAddressTheProbesReached() throws Exception {
        QuicTransport server = node(4, Duration.ofSeconds(30));
        QuicListener listener = listen(server);
        QuicTransport dialer = node(4, Duration.ofSeconds(30));
        PunchSocket punch = get(dialer.punchSockets().open(LOOPBACK));
        exchangeProbes(listener, punch);

        Connection out = get(punch.connect(server.identity().peerId(), listener.localAddress(),
                Duration.ofSeconds(10)));
        assertThat(out).isInstanceOf(MultiplexedConnection.class);
        assertThat(out.info().peerId()).isEqualTo(server.identity().peerId());
        assertThat(out.info().localAddress().getPort()).isEqualTo(punch.localAddress().getPort());
        assertThat(punch.isConnected()).isTrue();
        Connection in = accepted.poll(10, SECONDS);
        assertThat(in).as("the listener accepted the dial").isNotNull();
        assertThat(in.info().peerId()).isEqualTo(dialer.identity().peerId());
        assertThat(in.info().remoteAddress()).as("the dial came from the punch socket")
                .isEqualTo(punch.localAddress());

        byte[] data = new byte[1 << 20];
        new Random(7).nextBytes(data);
        CompletableFuture<Void> echo = CompletableFuture.runAsync(() -> {
            try {
                byte[] got = readExactly(in, data.length);
                get(in.write(ByteBuffer.wrap(got)));
                get(in.flush());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        get(out.write(ByteBuffer.wrap(data)));
        get(out.flush());
        byte[] back = readExactly(out, data.length);
        echo.get(10, SECONDS);
        assertThat(sha256(back)).isEqualTo(sha256(data));

        // Still shared once connected: probes keep reaching the punch socket beside QUIC.
        exchangeProbes(listener, punch);
        punch.close();
        assertThat(punch.isConnected()).as("close() leaves a connected punch socket to its connection").isTrue();
        assertThat(out.isConnected()).isTrue();
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(1, 0, 0, 0, 1, 0));

        out.close();
        in.close();
        get(punch.closeFuture());
        await().atMost(Duration.ofSeconds(10)).until(() -> dialer.connectionSlots() == 0);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void anotherKeyAtTheAddressIsRefusedAndTheSocketCloses() throws Exception {
        QuicListener listener = listen(node(4, Duration.ofSeconds(30)));
        QuicTransport dialer = node(4, Duration.ofSeconds(30));
        PunchSocket punch = get(dialer.punchSockets().open(LOOPBACK));
        exchangeProbes(listener, punch);

        var someoneElse = Identities.generate().peerId();
        assertThatThrownBy(() -> get(punch.connect(someoneElse, listener.localAddress(), Duration.ofSeconds(10))))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining(someoneElse.toString());
        get(punch.closeFuture());
        assertThat(punch.isConnected()).isFalse();
        assertThat(accepted).isEmpty();
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(1, 0, 0, 0, 0, 1));
        assertThatThrownBy(() -> punch.connect(someoneElse, listener.localAddress(), Duration.ofSeconds(1)))
                .isInstanceOf(IllegalStateException.class);
        await().atMost(Duration.ofSeconds(10)).until(() -> dialer.connectionSlots() == 0);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void openSocketsAreCappedAndCloseAfterTheirLifetime() throws Exception {
        QuicTransport dialer = node(2, Duration.ofMillis(800));
        PunchSocket first = get(dialer.punchSockets().open(LOOPBACK));
        PunchSocket second = get(dialer.punchSockets().open(LOOPBACK));
        assertThatThrownBy(() -> get(dialer.punchSockets().open(LOOPBACK)))
                .isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxPunchSockets");
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(2, 2, 1, 0, 0, 0));

        get(first.closeFuture());
        get(second.closeFuture());
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(2, 0, 1, 2, 0, 0));
        PunchSocket third = get(dialer.punchSockets().open(LOOPBACK));
        assertThat(third.localAddress()).isNotNull();
        third.close();
        get(third.closeFuture());
        assertThat(dialer.punchSockets().counters().expired()).as("closed, not expired").isEqualTo(2);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aPortInUseFailsTheOpenAndFreesItsPlace() throws Exception {
        QuicTransport dialer = node(1, Duration.ofSeconds(30));
        try (java.net.DatagramSocket taken = new java.net.DatagramSocket(LOOPBACK)) {
            assertThatThrownBy(() -> get(dialer.punchSockets().open(
                    (InetSocketAddress) taken.getLocalSocketAddress())))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(TransportException.Io.class)
                    .hasMessageContaining("cannot open a punch socket on quic://127.0.0.1:" + taken.getLocalPort());
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> dialer.punchSockets().counters().open() == 0);
        PunchSocket next = get(dialer.punchSockets().open(LOOPBACK));
        assertThat(dialer.punchSockets().counters()).isEqualTo(new PunchSockets.Counters(1, 1, 0, 0, 0, 0));
        next.close();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void stoppingTheTransportClosesItsPunchSocketsAndLeavesNoSocket() throws Exception {
        QuicTransport server = node(4, Duration.ofSeconds(30));
        QuicListener listener = listen(server);
        Set<Long> before = udpSockets();
        QuicTransport dialer = node(4, Duration.ofSeconds(30));
        PunchSocket idle = get(dialer.punchSockets().open(LOOPBACK));
        PunchSocket punched = get(dialer.punchSockets().open(LOOPBACK));
        get(punched.connect(server.identity().peerId(), listener.localAddress(), Duration.ofSeconds(10)));
        assertThat(udpSockets()).as("two punch sockets more").hasSize(before.size() + 2).containsAll(before);

        dialer.deactivate();
        get(idle.closeFuture());
        get(punched.closeFuture());
        await().atMost(Duration.ofSeconds(10)).until(() -> udpSockets().equals(before));
        assertThatThrownBy(() -> get(dialer.punchSockets().open(LOOPBACK)))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TransportException.Io.class);
    }

    /** @return the inodes of the UDP sockets this process holds open */
    private static Set<Long> udpSockets() throws IOException {
        Set<Long> udp = new HashSet<>();
        for (String table : List.of("/proc/self/net/udp", "/proc/self/net/udp6")) {
            Path p = Path.of(table);
            if (!Files.exists(p)) {
                continue;
            }
            try (Stream<String> lines = Files.lines(p)) {
                lines.skip(1).map(String::trim).map(l -> l.split("\\s+")).filter(f -> f.length > 9)
                        .forEach(f -> udp.add(Long.parseLong(f[9])));
            }
        }
        Set<Long> ours = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (target.startsWith("socket:[")) {
                    long inode = Long.parseLong(target.substring(8, target.length() - 1));
                    if (udp.contains(inode)) {
                        ours.add(inode);
                    }
                }
            }
        }
        return ours;
    }

    private static byte[] readExactly(Connection c, int n) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            int r = get(c.read(buf));
            if (r < 0) {
                throw new IOException("closed after " + buf.position() + " of " + n + " bytes");
            }
        }
        return buf.array();
    }

    private static byte[] sha256(byte[] data) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(data);
    }
}
