package io.kizuna.quic.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.testing.TransportContractTest;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The transport contract over QUIC, plus what only QUIC has: streams, Retry, limits. */
class QuicTransportTest extends TransportContractTest {

    private QuicSettings nextSettings = QuicSettings.defaults();

    @Override
    protected Transport newNode() {
        return new QuicTransport(Identities.generate(), nextSettings);
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((QuicTransport) transport).identity().peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((QuicTransport) transport).deactivate();
    }

    private QuicTransport node(QuicSettings settings) {
        nextSettings = settings;
        try {
            return (QuicTransport) node();
        } finally {
            nextSettings = QuicSettings.defaults();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void reportsRttAndBandwidthFromQuichePathStats() throws Exception {
        Pair p = connectPair();
        Future<Long> echoed = inBackground(() -> echo(p.accepted()));
        byte[] data = randomBytes(MIB, 11);
        Future<?> writer = inBackground(() -> await(p.dialer().write(ByteBuffer.wrap(data))));
        readExactly(p.dialer(), MIB);
        writer.get(STEP.toSeconds(), SECONDS);

        for (Connection c : new Connection[] {p.dialer(), p.accepted()}) {
            // info() reports the sample its previous call asked quiche for (or the handshake's).
            Awaitility.await().atMost(STEP).pollInterval(Duration.ofMillis(20))
                    .until(() -> c.info().rtt().isPresent() && c.info().bandwidth().isPresent());
            var info = c.info();
            assertThat(info.rtt().get()).as("loopback RTT").isPositive().isLessThan(Duration.ofSeconds(1));
            assertThat(info.bandwidth().get()).as("bytes per second").isPositive();
        }
        await(p.dialer().shutdownOutput());
        assertThat(echoed.get(STEP.toSeconds(), SECONDS)).isEqualTo(MIB);
    }

    @Test
    @Timeout(value = 10, unit = SECONDS)
    void nativeLibraryLoadsHere() {
        QuicTransport t = (QuicTransport) node();
        assertThat(t.unavailableReason()).isEmpty();
        assertThat(t.isAvailable()).isTrue();
        assertThat(t.capabilities().multiplexed()).isTrue();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void manyStreamsRideOneHandshake() throws Exception {
        QuicTransport server = (QuicTransport) node();
        QuicTransport client = (QuicTransport) node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        BlockingQueue<Connection> incomingStreams = new LinkedBlockingQueue<>();
        Listener listener = listen(server, c -> {
            ((MultiplexedConnection) c).onStream(incomingStreams::add);
            accepted.add(c);
        });
        MultiplexedConnection dialer = (MultiplexedConnection) dial(client, addressOf(server, listener));
        await(dialer.write(ByteBuffer.wrap(new byte[] {0})));
        Connection first = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(first).isNotNull();
        assertThat(readExactly(first, 1)).containsExactly(0);

        int streams = 20;
        List<Connection> opened = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            Connection s = await(dialer.openStream());
            byte[] msg = ("stream " + i).getBytes(StandardCharsets.UTF_8);
            await(s.write(ByteBuffer.wrap(msg)));
            await(s.shutdownOutput());
            opened.add(s);
        }
        for (int i = 0; i < streams; i++) {
            Connection in = incomingStreams.poll(STEP.toSeconds(), SECONDS);
            assertThat(in).as("incoming stream %d", i).isNotNull();
            assertThat(in.info().peerId()).isEqualTo(client.identity().peerId());
            byte[] got = readToEnd(in);
            await(in.write(ByteBuffer.wrap(got)));
            await(in.shutdownOutput());
        }
        for (int i = 0; i < streams; i++) {
            assertThat(new String(readToEnd(opened.get(i)), StandardCharsets.UTF_8)).isEqualTo("stream " + i);
        }
        assertThat(client.handshakes()).as("handshakes the dialer started").isEqualTo(1);
        assertThat(server.handshakes()).as("handshakes the listener accepted").isEqualTo(1);
        assertThat(dialer.isConnected()).isTrue();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void listenersValidateAddressesWithRetryTokens() throws Exception {
        Pair p = connectPair();
        QuicTransport server = (QuicTransport) p.listenerNode();
        await(p.dialer().write(ByteBuffer.wrap(new byte[] {42})));
        assertThat(readExactly(p.accepted(), 1)).containsExactly(42);
        assertThat(server.retryTokenCounts()[0]).as("Retry tokens minted").isGreaterThanOrEqualTo(1);
        assertThat(server.retryTokenCounts()[1]).as("tokens refused").isZero();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void connectionLimitRefusesTheNextDialer() throws Exception {
        QuicTransport server = node(QuicSettings.defaults().withMaxConnections(1));
        QuicTransport client = (QuicTransport) node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        Connection one = dial(client, addressOf(server, listener));
        await(one.write(ByteBuffer.wrap(new byte[] {1})));
        assertThat(accepted.poll(STEP.toSeconds(), SECONDS)).isNotNull();

        Throwable refused = failureOf(() -> client.connect(addressOf(server, listener), connectTimeout()));
        assertThat(refused).isInstanceOf(TransportException.ConnectionFailed.class);
        assertThat(server.refusedForLimit()).as("inbound connections refused for the limit").isPositive();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void stoppingClosesConnectionsPromptly() throws Exception {
        Pair p = connectPair();
        await(p.dialer().write(ByteBuffer.wrap(new byte[] {5})));
        assertThat(readExactly(p.accepted(), 1)).containsExactly(5);

        long start = System.nanoTime();
        ((QuicTransport) p.dialerNode()).deactivate();
        long millis = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(millis).as("milliseconds to stop with a connection open").isLessThan(1000);
        awaitDone(p.accepted().closeFuture(), java.time.Duration.ofSeconds(10));
        assertThat(p.accepted().isConnected()).isFalse();
        assertThat(p.dialerNode().isAvailable()).isFalse();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void withoutRetryTheHandshakeStillWorksAndNoTokenIsMinted() throws Exception {
        QuicTransport server = node(QuicSettings.defaults().withRetry(false));
        QuicTransport client = (QuicTransport) node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        Connection out = dial(client, addressOf(server, listener));
        await(out.write(ByteBuffer.wrap(new byte[] {3})));
        Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(in).isNotNull();
        assertThat(readExactly(in, 1)).containsExactly(3);
        assertThat(server.retryTokenCounts()).containsExactly(0, 0);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aResumedConnectionSendsItsFirstBytesInTheFirstFlight() throws Exception {
        QuicTransport server = (QuicTransport) node();
        QuicTransport client = node(QuicSettings.defaults().withEarlyData(true));
        QuicTransport plainClient = (QuicTransport) node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        for (int i = 0; i < 3; i++) {
            QuicConnection out = (QuicConnection) dial(client, addressOf(server, listener));
            assertThat(out.early()).as("dial %d used 0-RTT", i).isEqualTo(i > 0);
            assertThat(out.info().peerId()).isEqualTo(server.identity().peerId());
            await(out.write(ByteBuffer.wrap(new byte[] {(byte) i})));
            QuicConnection in = (QuicConnection) accepted.poll(STEP.toSeconds(), SECONDS);
            assertThat(in).isNotNull();
            assertThat(in.info().peerId()).isEqualTo(client.identity().peerId());
            assertThat(readExactly(in, 1)).containsExactly(i);
            await(in.write(ByteBuffer.wrap(new byte[] {42})));
            assertThat(readExactly(out, 1)).as("the listener's preamble is not data").containsExactly(42);
            await(out.close());
        }
        for (int i = 0; i < 2; i++) {
            QuicConnection plain = (QuicConnection) dial(plainClient, addressOf(server, listener));
            assertThat(plain.early()).as("without earlyData, dial %d waits for the handshake", i).isFalse();
            await(plain.close());
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aReplayedFirstFlightReachesNoApplication() throws Exception {
        QuicTransport server = (QuicTransport) node();
        QuicTransport client = node(QuicSettings.defaults().withEarlyData(true));
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        try (UdpProxy proxy = new UdpProxy(listener.localAddress(), 0)) {
            io.kizuna.transport.PeerAddress viaProxy = io.kizuna.transport.PeerAddress.of(server.identity().peerId(),
                    new io.kizuna.transport.Endpoint("quic", proxy.address()));
            await(dial(client, viaProxy).close()); // a full handshake leaves a ticket for the proxy's endpoint
            assertThat(accepted.poll(STEP.toSeconds(), SECONDS)).isNotNull();

            proxy.captureNext(4); // the resumed dial's first datagrams: Initial, then Initial with token and 0-RTT
            QuicConnection early = (QuicConnection) dial(client, viaProxy);
            assertThat(early.early()).isTrue();
            await(early.write(ByteBuffer.wrap("pay once".getBytes(StandardCharsets.UTF_8))));
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            assertThat(readExactly(in, 8)).isEqualTo("pay once".getBytes(StandardCharsets.UTF_8));
            await(early.close());
            awaitDone(in.closeFuture(), java.time.Duration.ofSeconds(10));
            long handshakes = server.handshakes();
            long refused = server.retryTokenCounts()[1];

            // An attacker on the path sends the captured flight again, from the same address (so the Retry
            // token would still be within its lifetime). The token was used: the listener drops the flight
            // before it keeps any state, and its application sees nothing.
            TimeUnit.SECONDS.sleep(1); // past the old connection's draining period
            proxy.replayCaptured();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                    .until(() -> server.retryTokenCounts()[1] > refused);
            assertThat(accepted.poll(2, SECONDS)).as("a connection handed to the application by the replay")
                    .isNull();
            assertThat(server.handshakes()).as("handshakes the replay started").isEqualTo(handshakes);
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void zeroRttGoesOnlyToThePeerThatIssuedTheTicket() throws Exception {
        QuicTransport server = (QuicTransport) node();
        QuicTransport client = node(QuicSettings.defaults().withEarlyData(true));
        Listener listener = listen(server, c -> { });
        await(dial(client, addressOf(server, listener)).close());
        // the same endpoint, but another peer is expected there: no early data, and the full handshake refuses
        Throwable refused = failureOf(() -> client.connect(io.kizuna.transport.PeerAddress.of(randomPeerId(),
                listener.endpoint()), connectTimeout()));
        assertThat(refused).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aDialerWithoutACertificateIsRefused() throws Exception {
        QuicTransport server = (QuicTransport) node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
                io.netty.channel.nio.NioIoHandler.newFactory());
        try {
            // a plain QUIC client: trusts any listener, presents no certificate
            io.netty.util.concurrent.Future<io.netty.handler.codec.quic.QuicChannel> dial =
                    rawDial(group, null, listener.localAddress());
            if (dial.isSuccess()) {
                // TLS 1.3: the client may finish before the listener has checked it; the listener then closes it
                io.netty.handler.codec.quic.QuicChannel quic = dial.getNow();
                quic.createStream(io.netty.handler.codec.quic.QuicStreamType.BIDIRECTIONAL,
                        new io.netty.channel.ChannelInboundHandlerAdapter()).sync().getNow()
                        .writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(new byte[] {QuicConnection.PREAMBLE}));
                assertThat(quic.closeFuture().await(10, SECONDS)).as("the listener closed the connection").isTrue();
            }
            assertThat(accepted.poll(2, SECONDS)).as("a connection handed to the listener's application").isNull();
        } finally {
            group.shutdownGracefully(0, 1, SECONDS).sync();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aDialerThatNeverOpensAStreamLosesItsSlotAfterTheHandshakeTimeout() throws Exception {
        QuicTransport server = node(QuicSettings.defaults().withMaxConnections(1).withHandshakeTimeout(1000));
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        io.netty.channel.EventLoopGroup group = new io.netty.channel.MultiThreadIoEventLoopGroup(1,
                io.netty.channel.nio.NioIoHandler.newFactory());
        try {
            // a node that proves its key, then opens no stream and keeps the connection alive
            io.netty.util.concurrent.Future<io.netty.handler.codec.quic.QuicChannel> dial =
                    rawDial(group, Identities.generate(), listener.localAddress());
            assertThat(dial.isSuccess()).as("handshake: %s", dial.cause()).isTrue();
            io.netty.handler.codec.quic.QuicChannel quic = dial.getNow();
            io.netty.util.concurrent.ScheduledFuture<?> keepAlive = quic.eventLoop().scheduleAtFixedRate(
                    () -> quic.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(new byte[] {0})),
                    100, 100, java.util.concurrent.TimeUnit.MILLISECONDS);
            try {
                // well before the 30 s idle timeout, which the keep-alives would defer anyway
                assertThat(quic.closeFuture().await(10, SECONDS)).as("the listener closed the silent dialer")
                        .isTrue();
            } finally {
                keepAlive.cancel(false);
            }
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                    .until(() -> server.refusedHandshakes() == 1);
            QuicTransport client = (QuicTransport) node();
            Connection next = dial(client, addressOf(server, listener));
            await(next.write(ByteBuffer.wrap(new byte[] {7})));
            assertThat(readExactly(accepted.poll(STEP.toSeconds(), SECONDS), 1)).as("the slot is free again")
                    .containsExactly(7);
        } finally {
            group.shutdownGracefully(0, 1, SECONDS).sync();
        }
    }

    /**
     * A plain QUIC client on its own socket that trusts any listener.
     *
     * @param key the node key whose certificate it presents, or null for none
     * @return the finished handshake attempt
     */
    private static io.netty.util.concurrent.Future<io.netty.handler.codec.quic.QuicChannel> rawDial(
            io.netty.channel.EventLoopGroup group, io.kizuna.identity.NodeIdentity key,
            java.net.InetSocketAddress remote) throws InterruptedException {
        io.netty.handler.codec.quic.QuicSslContextBuilder tls = io.netty.handler.codec.quic.QuicSslContextBuilder
                .forClient()
                .trustManager(io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE)
                .applicationProtocols(QuicTransport.ALPN);
        if (key != null) {
            tls.keyManager(key.keyManager(), null);
        }
        io.netty.channel.Channel socket = new io.netty.bootstrap.Bootstrap().group(group)
                .channel(io.netty.channel.socket.nio.NioDatagramChannel.class)
                .handler(new io.netty.handler.codec.quic.QuicClientCodecBuilder().sslContext(tls.build())
                        .maxIdleTimeout(30, SECONDS).initialMaxData(1 << 20)
                        .initialMaxStreamDataBidirectionalLocal(1 << 20).datagram(4, 4).build())
                .bind(new java.net.InetSocketAddress("127.0.0.1", 0)).sync().channel();
        return io.netty.handler.codec.quic.QuicChannel.newBootstrap(socket)
                .streamHandler(new io.netty.channel.ChannelInboundHandlerAdapter())
                .remoteAddress(remote).connect().await();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void everyCongestionControllerCarriesData() throws Exception {
        for (io.netty.handler.codec.quic.QuicCongestionControlAlgorithm cc
                : io.netty.handler.codec.quic.QuicCongestionControlAlgorithm.values()) {
            QuicTransport server = node(QuicSettings.defaults().withCongestionControl(cc));
            QuicTransport client = node(QuicSettings.defaults().withCongestionControl(cc));
            BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            Listener listener = listen(server, accepted::add);
            Connection out = dial(client, addressOf(server, listener));
            byte[] data = randomBytes(8 * MIB, cc.ordinal());
            java.util.concurrent.Future<?> writer = inBackground(() -> {
                await(out.write(ByteBuffer.wrap(data)));
                return await(out.shutdownOutput());
            });
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            assertThat(in).as("accepted with %s", cc).isNotNull();
            assertThat(readToEnd(in)).as("8 MiB over %s", cc).isEqualTo(data);
            writer.get(STEP.toSeconds(), SECONDS);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void onLinuxTheKernelSegmentsSendsAndEitherKindOfSocketTalksToTheOther() throws Exception {
        // the epoll fragment is on this module's test class path, as it is in the runtime
        QuicTransport gso = node(QuicSettings.defaults());
        assertThat(gso.datagramIo().segmentationOffload()).as(gso.datagramIo().description()).isTrue();
        assertThat(gso.datagramIo().channelType().getSimpleName()).isEqualTo("EpollDatagramChannel");
        QuicTransport nio = node(QuicSettings.defaults().withSegmentationOffload(false));
        assertThat(nio.datagramIo().segmentationOffload()).isFalse();
        assertThat(nio.datagramIo().description()).contains("off in the configuration");

        for (QuicTransport[] pair : new QuicTransport[][] {{gso, nio}, {nio, gso}}) {
            BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            Listener listener = listen(pair[1], accepted::add);
            Connection out = dial(pair[0], addressOf(pair[1], listener));
            byte[] data = randomBytes(16 * MIB, pair[0] == gso ? 1 : 2);
            java.util.concurrent.Future<?> writer = inBackground(() -> {
                await(out.write(ByteBuffer.wrap(data)));
                return await(out.shutdownOutput());
            });
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            assertThat(in).isNotNull();
            assertThat(readToEnd(in)).as("16 MiB from %s", pair[0].datagramIo().description()).isEqualTo(data);
            writer.get(STEP.toSeconds(), SECONDS);
            await(listener.close());
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void anIdleDialerSendsKeepAlivesAndTheListenerDoesNot() throws Exception {
        QuicTransport server = node(QuicSettings.defaults().withKeepAlive(100));
        QuicTransport client = node(QuicSettings.defaults().withKeepAlive(100));
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        Connection out = dial(client, addressOf(server, listener));
        await(out.write(ByteBuffer.wrap(new byte[] {1})));
        assertThat(accepted.poll(STEP.toSeconds(), SECONDS)).isNotNull();
        // nothing else is written: only keep-alives cross, from the dialer
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> server.keepAlivesReceived() >= 5);
        assertThat(client.keepAlivesReceived()).as("keep-alives the listener sent").isZero();
        assertThat(out.isConnected()).isTrue();
    }

    @Test
    @Timeout(value = 10, unit = SECONDS)
    void aKeepAliveAtOrAboveTheIdleTimeoutIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> QuicSettings.defaults()
                        .withKeepAlive(QuicSettings.DEFAULT_IDLE_TIMEOUT_MILLIS))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keepAliveMillis=30000")
                .hasMessageContaining("below idleTimeoutMillis=30000");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aKernelCapOnSocketBuffersIsReported() throws Exception {
        // far above any kernel's default net.core.rmem_max / wmem_max (a few MiB)
        int wanted = 256 * MIB;
        QuicTransport capped = node(QuicSettings.defaults().withUdpBuffers(wanted));
        listen(capped, c -> { });
        assertThat(capped.cappedBuffers()).as("buffers granted below %d bytes", wanted).isPositive();
    }
}
