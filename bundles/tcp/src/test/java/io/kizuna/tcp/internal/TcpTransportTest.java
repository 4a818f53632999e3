package io.kizuna.tcp.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.SocketListener;
import io.kizuna.transport.support.tls.NettyTls;
import io.kizuna.transport.testing.TransportContractTest;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.handler.ssl.SslHandler;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The transport contract over TCP, plus what only TCP has: socket options, limits, deactivation. Runs on the
 * default NIO sockets ({@link TcpEpollTest} checks what epoll sockets add) and TCP's default TLS engine, the
 * JDK's. TCP on OpenSSL, which only {@code tlsEngine = openssl} chooses, cannot half-close (a close_notify ends
 * both directions), which the contract requires, so it is not held to it: {@link TcpAuthenticationTest} and
 * {@link TcpTlsEngineTest} check its identity binding and what it does.
 */
class TcpTransportTest extends TransportContractTest {

    private TcpSettings nextSettings = TcpSettings.defaults();

    /** @return the sockets the nodes of this test run on */
    SocketIo io() {
        return SocketIo.choose(false);
    }

    /** @return the TLS engine the nodes of this test run on */
    NettyTls engine() {
        return TestTls.jdk();
    }

    @Override
    protected Transport newNode() {
        try {
            return new TcpTransport(Identities.generate(), nextSettings, io(), engine());
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** OpenSSL answers a close_notify with its own: on it, a half-close ends both directions. */
    @Override
    protected boolean peerWritesAfterHalfClose() {
        return !engine().isOpenSsl();
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((TcpTransport) transport).identity().peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((TcpTransport) transport).deactivate();
    }

    private TcpTransport node(TcpSettings settings) {
        nextSettings = settings;
        try {
            return (TcpTransport) node();
        } finally {
            nextSettings = TcpSettings.defaults();
        }
    }

    private static TcpConnection tcp(Connection c) {
        return (TcpConnection) c;
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void setsSocketOptionsAndSpeaksTls13() throws Exception {
        Pair p = connectPair();
        TcpSettings s = TcpSettings.defaults();
        for (Connection c : new Connection[] {p.dialer(), p.accepted()}) {
            Channel ch = tcp(c).channel();
            assertThat(ch.config().getOption(ChannelOption.TCP_NODELAY)).isTrue();
            assertThat(ch.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
            assertThat(ch.config().getOption(ChannelOption.AUTO_READ)).as("reads are driven by demand").isFalse();
            assertThat(ch.config().getOption(ChannelOption.ALLOW_HALF_CLOSURE)).isTrue();
            WriteBufferWaterMark marks = ch.config().getOption(ChannelOption.WRITE_BUFFER_WATER_MARK);
            assertThat(marks.high()).isEqualTo(s.writeHighWaterMark());
            assertThat(marks.low()).isEqualTo(s.writeLowWaterMark());
            SslHandler tls = ch.pipeline().get(SslHandler.class);
            assertThat(tls.engine().getSession().getProtocol()).isEqualTo("TLSv1.3");
            assertThat(NettyTls.isOpenSsl(tls.engine())).as("the TLS engine is OpenSSL's")
                    .isEqualTo(engine().isOpenSsl());
        }
        assertThat(p.dialerNode().tlsEngine()).contains(engine().describe());
        assertThat(tcp(p.accepted()).channel().pipeline().get(SslHandler.class).engine().getNeedClientAuth())
                .as("the listener requires the dialer's certificate").isTrue();
        Channel server = ((SocketListener) p.listener()).channel();
        assertThat(server.config().getOption(ChannelOption.SO_BACKLOG)).isEqualTo(s.backlog());
        assertThat(server.config().getOption(ChannelOption.SO_REUSEADDR)).isTrue();
        assertThat(p.dialerNode().priority()).isEqualTo(100);
        assertThat(p.dialerNode().capabilities().reliable()).isTrue();
        assertThat(p.dialerNode().isAvailable()).isTrue();
        assertThat(p.dialerNode().unavailableReason()).isEmpty();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void reportsNoRttOrBandwidthOnNio() throws Exception {
        Pair p = connectPair();
        Future<Long> echoed = inBackground(() -> echo(p.accepted()));
        byte[] data = randomBytes(MIB, 11);
        Future<?> writer = inBackground(() -> await(p.dialer().write(ByteBuffer.wrap(data))));
        readExactly(p.dialer(), MIB);
        writer.get(STEP.toSeconds(), SECONDS);

        assertThat(io().epoll()).isFalse();
        for (Connection c : new Connection[] {p.dialer(), p.accepted()}) {
            assertThat(c.info().rtt()).as("NIO sockets do not tell the RTT").isEmpty();
            assertThat(c.info().bandwidth()).isEmpty();
        }
        await(p.dialer().shutdownOutput());
        assertThat(echoed.get(STEP.toSeconds(), SECONDS)).isEqualTo(MIB);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aCloseLingersAtMostCloseTimeoutForAPeerThatNeverEnds() throws Exception {
        TcpSettings d = TcpSettings.defaults();
        TcpSettings quick = new TcpSettings(d.priority(), d.backlog(), d.maxConnections(), d.connectTimeoutMillis(),
                d.handshakeTimeoutMillis(), d.writeHighWaterMark(), d.writeLowWaterMark(), d.readQueueBytes(),
                true, true, 0, 500);
        TcpTransport server = node(d);
        TcpTransport client = node(quick);
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listen(server, accepted::add);
        Connection c = dial(client, addressOf(server, l));
        Connection s = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(s).isNotNull();
        // The peer writes without end and never reads nor closes: the close cannot wait for its end.
        AtomicLong written = new AtomicLong();
        Future<Throwable> writer = inBackground(() -> writeUntilFailure(s, written));
        Awaitility.await().atMost(STEP).until(() -> written.get() >= MIB);

        long start = System.nanoTime();
        c.close().toCompletableFuture().get(STEP.toSeconds(), SECONDS);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(millis).as("ms until the lingering close gave up (closeTimeoutMillis 500)")
                .isGreaterThanOrEqualTo(400).isLessThan(5_000);
        assertThat(c.isConnected()).isFalse();
        assertThat(writer.get(STEP.toSeconds(), SECONDS)).as("the peer's writes fail once the socket closed")
                .isNotNull();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void priorityIsConfigurableAndSettingsAreChecked() {
        assertThat(node(TcpSettings.defaults().withPriority(150)).priority()).isEqualTo(150);
        TcpSettings d = TcpSettings.defaults();
        assertThatThrownBy(() -> new TcpSettings(d.priority(), d.backlog(), 0, d.connectTimeoutMillis(),
                d.handshakeTimeoutMillis(), d.writeHighWaterMark(), d.writeLowWaterMark(), d.readQueueBytes(),
                true, true, 0, d.closeTimeoutMillis()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxConnections=0");
        assertThatThrownBy(() -> new TcpSettings(d.priority(), d.backlog(), d.maxConnections(),
                d.connectTimeoutMillis(), d.handshakeTimeoutMillis(), 1000, 2000, d.readQueueBytes(), true, true, 0,
                d.closeTimeoutMillis()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("writeLowWaterMark=2000");
        assertThat(d.ioThreads()).isBetween(1, 2);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void connectionLimitClosesNewInboundAndRefusesDials() throws Exception {
        TcpTransport limited = node(TcpSettings.defaults().withMaxConnections(1));
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(limited, accepted::add);
        PeerAddress limitedAddress = addressOf(limited, listener);

        Connection first = dial(node(), limitedAddress);
        Connection firstAccepted = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(firstAccepted).isNotNull();

        // Inbound beyond the limit: closed at once, never handed to the acceptor.
        Transport late = node();
        Throwable refused = failureOf(() -> late.connect(limitedAddress, connectTimeout()));
        assertThat(refused).isInstanceOf(TransportException.ConnectionFailed.class);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> limited.refusedForLimit() == 1);
        assertThat(accepted).isEmpty();

        // Outbound beyond the limit: LimitExceeded, naming the limit.
        Transport other = node();
        Listener otherListener = listen(other, c -> { });
        Throwable limit = failureOf(() -> limited.connect(addressOf(other, otherListener), connectTimeout()));
        assertThat(limit).isInstanceOf(TransportException.LimitExceeded.class);
        assertThat(((TransportException.LimitExceeded) limit).limit()).isEqualTo("maxConnections");
        assertThat(((TransportException.LimitExceeded) limit).value()).isEqualTo(1);

        // The connection inside the limit still works, and closing it frees the slot.
        await(first.write(ByteBuffer.wrap(new byte[] {1})));
        assertThat(readExactly(firstAccepted, 1)).containsExactly(1);
        await(firstAccepted.close());
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> limited.openChannels() == 0);
        dial(late, limitedAddress);
        assertThat(accepted.poll(STEP.toSeconds(), SECONDS)).isNotNull();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void deactivateClosesConnectionsGracefully() throws Exception {
        Pair p = connectPair();
        await(p.dialer().write(ByteBuffer.wrap(new byte[] {9})));
        assertThat(readExactly(p.accepted(), 1)).containsExactly(9);
        CompletableFuture<Integer> dialerRead = p.dialer().read(ByteBuffer.allocate(16)).toCompletableFuture();

        TcpTransport stopping = (TcpTransport) p.listenerNode();
        stopping.deactivate();

        // The far side reads an orderly end of stream, not a reset.
        assertThat(dialerRead.get(5, SECONDS)).isEqualTo(-1);
        p.accepted().closeFuture().toCompletableFuture().get(5, SECONDS);
        assertThat(stopping.isAvailable()).isFalse();
        assertThat(stopping.unavailableReason()).isPresent();
        assertThat(stopping.openChannels()).isZero();

        // The far side closes in order too; the stopped node's listener is gone.
        await(p.dialer().close());
        p.dialer().closeFuture().toCompletableFuture().get(5, SECONDS);
        assertThat(failureOf(() -> p.dialerNode().connect(addressOf(stopping, p.listener()), connectTimeout())))
                .isInstanceOf(TransportException.ConnectionFailed.class);
        assertThat(failureOf(() -> stopping.connect(addressOf(p.dialerNode(), p.listener()), connectTimeout())))
                .isInstanceOf(TransportException.ConnectionFailed.class);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void silentListenerTimesOutTheHandshake() throws Exception {
        try (ServerSocket silent = new ServerSocket(0, 50, listenAddress().getAddress())) {
            // The kernel completes the TCP handshake from the backlog; nobody ever answers TLS.
            PeerAddress address = PeerAddress.of(randomPeerId(),
                    new Endpoint("tcp", new InetSocketAddress(listenAddress().getAddress(), silent.getLocalPort())));

            TcpTransport quick = node(TcpSettings.defaults().withHandshakeTimeoutMillis(300));
            long start = System.nanoTime();
            Throwable handshake = failureOf(() -> quick.connect(address, Duration.ofSeconds(10)));
            assertThat(handshake).isInstanceOf(TransportException.ConnectionTimeout.class)
                    .hasMessageContaining("TLS handshake");
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(3000);

            Transport patient = node();
            start = System.nanoTime();
            Throwable overall = failureOf(() -> patient.connect(address, Duration.ofMillis(400)));
            assertThat(overall).isInstanceOf(TransportException.ConnectionTimeout.class);
            assertThat(((TransportException.ConnectionTimeout) overall).timeout()).isEqualTo(Duration.ofMillis(400));
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(3000);
            Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> ((TcpTransport) patient).openChannels() == 0);
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void triesEveryEndpointInOrder() throws Exception {
        Transport server = node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        int closedA = closedPort();
        int closedB = closedPort();
        Endpoint deadA = new Endpoint("tcp", new InetSocketAddress(listenAddress().getAddress(), closedA));
        Endpoint deadB = new Endpoint("tcp", new InetSocketAddress(listenAddress().getAddress(), closedB));
        Transport client = node();

        Connection c = dial(client, PeerAddress.of(peerIdOf(server), deadA, listener.endpoint()));
        assertThat(c.info().remoteAddress()).isEqualTo(listener.localAddress());
        assertThat(accepted.poll(STEP.toSeconds(), SECONDS)).isNotNull();

        Throwable none = failureOf(() -> client.connect(PeerAddress.of(peerIdOf(server), deadA, deadB),
                connectTimeout()));
        assertThat(none).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining(Integer.toString(closedA)).hasMessageContaining(Integer.toString(closedB));
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void endOfStreamWithoutCloseNotifyIsAFailureNotAnEnd() throws Exception {
        NodeIdentity serverIdentity = Identities.generate();
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(new KeyManager[] {serverIdentity.keyManager()},
                new TrustManager[] {serverIdentity.trustManager()}, null);
        try (ServerSocket server = new ServerSocket(0, 5, listenAddress().getAddress())) {
            // A TLS peer that sends a few bytes and then a bare FIN, as a truncation attack would.
            Future<Void> peer = inBackground(() -> {
                try (Socket plain = server.accept()) {
                    SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain, null,
                            plain.getPort(), false);
                    tls.setUseClientMode(false);
                    tls.setNeedClientAuth(true);
                    tls.startHandshake();
                    tls.getOutputStream().write(new byte[] {1, 2, 3});
                    tls.getOutputStream().flush();
                    plain.shutdownOutput();
                    plain.getInputStream().readAllBytes();
                }
                return null;
            });
            Transport client = node();
            Connection c = dial(client, PeerAddress.of(serverIdentity.peerId(),
                    new Endpoint("tcp", new InetSocketAddress(listenAddress().getAddress(), server.getLocalPort()))));

            // Read only once the bare FIN has closed the connection: the bytes that came before it were
            // authenticated, so they stay readable, and the truncation is reported after them.
            c.closeFuture().toCompletableFuture().handle((v, e) -> e).thenAccept(e ->
                    assertThat(e).as("the close future reports the failure").isNotNull()).get(5, SECONDS);
            assertThat(readExactly(c, 3)).containsExactly(1, 2, 3);
            Throwable truncated = failureOf(() -> c.read(ByteBuffer.allocate(8)));
            assertThat(truncated).isInstanceOf(TransportException.Io.class).hasMessageContaining("close_notify");
            peer.get(10, SECONDS);
        }
    }

    private int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, listenAddress().getAddress())) {
            return s.getLocalPort();
        }
    }
}
