package io.kizuna.quic.internal;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.EndpointDial;
import io.kizuna.transport.support.TransportLifecycle;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.handler.codec.quic.Quic;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicChannelOption;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicCodecBuilder;
import io.netty.handler.codec.quic.QuicServerCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicSslEngine;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The QUIC transport: QUIC (quiche, through Netty) with TLS 1.3 bound to the
 * node keys, many streams per connection.
 *
 * <p>Listeners share one UDP socket among all the connections they accept and
 * validate a client's address with a Retry token before any handshake work.
 * Each dial uses its own UDP socket, connected to the peer's endpoint so that an
 * ICMP port-unreachable fails the dial at once. All dials share one client TLS
 * context, whose session cache lets a second connection to a peer resume.
 * For hole punching, {@link QuicPunchSockets} opens unconnected sockets that
 * are shared until they dial, the same way, from the port the probes used.
 *
 * <p>When quiche's native library cannot load, the transport registers anyway
 * and reports itself unavailable with the reason, so the rest of the platform
 * goes on without it.
 */
@Component(service = Transport.class, configurationPid = QuicTransport.PID,
        property = {Transport.PROTOCOL + "=" + QuicTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + QuicSettings.DEFAULT_PRIORITY})
@Designate(ocd = QuicConfig.class)
public final class QuicTransport implements Transport {

    /** The configuration PID. */
    static final String PID = "io.kizuna.quic";

    /** The protocol name in endpoints: {@code quic://ip:port}. */
    static final String PROTOCOL_NAME = "quic";

    /** ALPN of the platform's protocol over QUIC. */
    static final String ALPN = "kizuna/1";

    /** The connection a QUIC channel belongs to. */
    static final AttributeKey<QuicConnection> CONNECTION = AttributeKey.valueOf("kizuna.quic.connection");

    private static final System.Logger LOG = System.getLogger(QuicTransport.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Endpoints remembered for 0-RTT (as many as BoringSSL's client session cache holds by default). */
    private static final int MAX_KNOWN_PEERS = 1024;
    /** How long stopping waits for connections to finish closing before it closes their sockets. */
    private static final long STOP_DRAIN_MILLIS = 200;
    /** DATAGRAM frames queued per connection, each way: keep-alives only, so a few. */
    private static final int KEEP_ALIVE_QUEUE = 4;
    /** QUIC transport error CONNECTION_REFUSED (RFC 9000 §20.1). */
    private static final int CONNECTION_REFUSED = 0x02;

    private final NodeIdentity identity;
    private final QuicSettings settings;
    private final String unavailable;
    private final DatagramIo datagrams;
    private final EventLoopGroup group;
    private final QuicSslContext serverContext;
    private final QuicSslContext clientContext;
    private final DialTrustManager dialTrust;
    private final ChannelHandler streamInitializer;
    private final TransportLifecycle<QuicConnection, QuicListener> lifecycle;
    private final Function<SharedSocket, Runnable> publisher;
    private final QuicPunchSockets punchSockets;
    /** Withdraws the {@link PunchSockets} service; set once registered. */
    private volatile Runnable withdrawPunchSockets = () -> { };
    private final AtomicBoolean warnedBuffers = new AtomicBoolean();
    private final AtomicLong cappedBuffers = new AtomicLong();
    private final AtomicLong handshakes = new AtomicLong();
    private final AtomicLong amplificationDrops = new AtomicLong();
    private final AtomicLong keepAlives = new AtomicLong();
    private final AtomicLong resetsSent = new AtomicLong();
    private final AtomicLong resetsSuppressed = new AtomicLong();
    private final AtomicLong resetsReceived = new AtomicLong();
    private final StatelessResets resets;
    private final List<RetryTokens> retryTokens = new CopyOnWriteArrayList<>();
    /** Endpoint -> the PeerId that proved its key there last: 0-RTT goes only to the peer a ticket came from. */
    private final java.util.Map<String, PeerId> knownPeers = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(java.util.Map.Entry<String, PeerId> eldest) {
                    return size() > MAX_KNOWN_PEERS;
                }
            });

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     */
    @Activate
    public QuicTransport(QuicConfig config, @Reference NodeIdentity identity, BundleContext context) {
        this(identity, QuicSettings.from(config), services(context));
        if (isAvailable()) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put(SharedUdpSocket.OWNER, PROTOCOL_NAME);
            try {
                ServiceRegistration<PunchSockets> registration = context.registerService(PunchSockets.class,
                        punchSockets, properties);
                withdrawPunchSockets = once(() -> unregister(registration));
            } catch (IllegalStateException e) {
                // the bundle is stopping: the transport is about to stop too
            }
        }
    }

    /**
     * Outside a framework: listeners' sockets are shared through {@link QuicListener#sharedSocket()} only.
     *
     * @param identity this node's identity
     * @param settings the settings
     */
    QuicTransport(NodeIdentity identity, QuicSettings settings) {
        this(identity, settings, s -> () -> { });
    }

    /**
     * @param identity  this node's identity
     * @param settings  the settings
     * @param publisher offers a listener's shared socket to other bundles, returning what withdraws it
     */
    QuicTransport(NodeIdentity identity, QuicSettings settings, Function<SharedSocket, Runnable> publisher) {
        this(identity, settings, publisher, QuicPunchSockets.MAX_OPEN, QuicPunchSockets.LIFETIME);
    }

    /**
     * @param identity          this node's identity
     * @param settings          the settings
     * @param publisher         offers a listener's shared socket to other bundles, returning what withdraws it
     * @param maxPunchSockets   the most punch sockets open at once that have not connected
     * @param punchLifetime     how long a punch socket may stay open without connecting
     */
    QuicTransport(NodeIdentity identity, QuicSettings settings, Function<SharedSocket, Runnable> publisher,
            int maxPunchSockets, Duration punchLifetime) {
        this.punchSockets = new QuicPunchSockets(this, maxPunchSockets, punchLifetime);
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.publisher = Objects.requireNonNull(publisher, "publisher");
        this.lifecycle = new TransportLifecycle<>(PROTOCOL_NAME, PID, settings.maxConnections(), LOG);
        this.unavailable = nativeProblem();
        this.datagrams = DatagramIo.choose(settings.segmentationOffload());
        this.dialTrust = DialTrustManager.shared(identity.trustManager());
        this.streamInitializer = new StreamInitializer();
        this.resets = new StatelessResets(identity);
        if (unavailable != null) {
            LOG.log(System.Logger.Level.WARNING, "quic transport unavailable: {0}", unavailable);
            this.group = null;
            this.serverContext = null;
            this.clientContext = null;
            return;
        }
        this.serverContext = QuicSslContextBuilder.forServer(identity.keyManager(), null)
                .trustManager(identity.trustManager())
                .clientAuth(ClientAuth.REQUIRE)
                .applicationProtocols(ALPN)
                .earlyData(true) // tickets allow 0-RTT; nothing is handed over before the handshake completes
                .build();
        this.clientContext = QuicSslContextBuilder.forClient()
                .keyManager(identity.keyManager(), null)
                .trustManager(dialTrust)
                .applicationProtocols(ALPN)
                .earlyData(settings.earlyData())
                .build();
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("kizuna-quic", true), datagrams.ioHandler());
        LOG.log(System.Logger.Level.INFO, "quic transport on {0}", datagrams.description());
    }

    /** Each listener's socket becomes a {@link SharedUdpSocket} service while it listens. */
    private static Function<SharedSocket, Runnable> services(BundleContext context) {
        return s -> {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put(SharedUdpSocket.OWNER, PROTOCOL_NAME);
            // ip:port as endpoints write it, IPv6 in brackets
            properties.put(SharedUdpSocket.LOCAL_ADDRESS,
                    s.endpoint().toString().substring((PROTOCOL_NAME + "://").length()));
            ServiceRegistration<SharedUdpSocket> registration;
            try {
                registration = context.registerService(SharedUdpSocket.class, s, properties);
            } catch (IllegalStateException e) {
                return () -> { }; // the bundle is stopping: the listener is about to close anyway
            }
            return () -> unregister(registration);
        };
    }

    private static void unregister(ServiceRegistration<?> registration) {
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already gone: the framework withdraws a stopping bundle's services itself
        }
    }

    /** @return runs {@code action} the first time only */
    private static Runnable once(Runnable action) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                action.run();
            }
        };
    }

    private static String nativeProblem() {
        try {
            if (Quic.isAvailable()) {
                return null;
            }
            Throwable cause = Quic.unavailabilityCause();
            return "quiche's native library did not load: " + describe(cause);
        } catch (LinkageError e) {
            return "the QUIC codec is not usable here: " + describe(e);
        }
    }

    /**
     * Closes every connection gracefully, then the sockets, then stops the event loops.
     */
    @Deactivate
    void deactivate() {
        if (!lifecycle.stop() || group == null) {
            return;
        }
        withdrawPunchSockets.run();
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (QuicListener l : lifecycle.listeners()) {
            l.close();
        }
        for (QuicConnection c : lifecycle.connections()) {
            closing.add(c.closeFuture().toCompletableFuture().exceptionally(e -> null));
            c.channel().eventLoop().execute(() -> c.closeNow(QuicConnection.REFUSED, "transport stopped"));
        }
        boolean onEventLoop = TransportLifecycle.inEventLoop(group);
        if (!onEventLoop) {
            // CONNECTION_CLOSE leaves at once; quiche then drains for three probe timeouts before it calls a
            // connection closed. The peers need the packet, not the drain: wait a little, not the whole drain.
            try {
                CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                        .get(Math.min(settings.closeTimeoutMillis(), STOP_DRAIN_MILLIS), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                LOG.log(System.Logger.Level.DEBUG, "quic transport: stopping while {0} connections drain",
                        lifecycle.connections().size());
            }
        }
        for (Channel s : lifecycle.channels()) {
            s.close();
        }
        var terminated = group.shutdownGracefully(0, 1000, TimeUnit.MILLISECONDS);
        if (!onEventLoop) {
            terminated.awaitUninterruptibly(3000);
        }
    }

    // ------------------------------------------------------------------ Transport

    @Override
    public String protocolName() {
        return PROTOCOL_NAME;
    }

    @Override
    public int priority() {
        return settings.priority();
    }

    @Override
    public TransportCapabilities capabilities() {
        return new TransportCapabilities(true, true, true, true, false, 0);
    }

    @Override
    public boolean isAvailable() {
        return unavailable == null && lifecycle.isActive();
    }

    @Override
    public Optional<String> unavailableReason() {
        if (unavailable != null) {
            return Optional.of(unavailable);
        }
        return lifecycle.unavailableReason();
    }

    /** @return QUIC's TLS is quiche's, on the BoringSSL linked into its native library, whatever tlsEngine says */
    @Override
    public Optional<String> tlsEngine() {
        return Optional.of("quiche (BoringSSL)");
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(timeout, "timeout");
        List<Endpoint> endpoints = peer.endpoints(PROTOCOL_NAME);
        if (endpoints.isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(PROTOCOL_NAME, peer));
        }
        if (!isAvailable()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot dial " + peer
                    + " over quic: " + unavailableReason().orElse(""), null));
        }
        if (timeout.isNegative() || timeout.isZero()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionTimeout("dialing " + peer, timeout));
        }
        if (lifecycle.open() >= settings.maxConnections()) {
            return CompletableFuture.failedFuture(lifecycle.limitReached("dialing " + peer));
        }
        return new Dial(peer, endpoints, timeout).start();
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(acceptor, "acceptor");
        String where = new Endpoint(PROTOCOL_NAME, local).toString();
        if (!isAvailable()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where + ": "
                    + unavailableReason().orElse(""), null));
        }
        AtomicReference<QuicListener> listener = new AtomicReference<>();
        QuicServerCodecBuilder codec = configure(new QuicServerCodecBuilder())
                .sslContext(serverContext)
                .tokenHandler(settings.retry() ? newRetryTokens() : RetryTokens.NONE)
                .localConnectionIdLength(StatelessResets.CONNECTION_ID_LENGTH)
                .connectionIdAddressGenerator(resets.idGenerator())
                .resetTokenGenerator(resets.tokenGenerator())
                .option(QuicChannelOption.SEGMENTED_DATAGRAM_PACKET_ALLOCATOR, datagrams.segments())
                .streamOption(ChannelOption.AUTO_READ, false)
                .streamOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .streamHandler(streamInitializer)
                .handler(new ChannelInitializer<QuicChannel>() {
                    @Override
                    protected void initChannel(QuicChannel ch) {
                        accepted(ch, listener.get(), acceptor);
                    }
                });
        CompletableFuture<Listener> result = new CompletableFuture<>();
        ChannelHandler quic = codec.build();
        SharedSocket shared = new SharedSocket();
        Bootstrap b = new Bootstrap().group(group).channel(datagrams.channelType());
        socketOptions(b);
        b.handler(new ChannelInitializer<DatagramChannel>() {
            @Override
            protected void initChannel(DatagramChannel ch) {
                ch.pipeline().addLast(new UdpDemux(shared),
                        new StatelessResetResponder(resets, resetsSent, resetsSuppressed),
                        new AmplificationGuard(amplificationDrops), quic);
            }
        }).bind(local).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                Channel ch = f.channel();
                checkBuffers(ch, where);
                QuicListener l = new QuicListener(ch, shared, once(publisher.apply(shared)));
                listener.set(l);
                lifecycle.listening(l, ch);
                lifecycle.register(ch);
                result.complete(l);
            } else {
                result.completeExceptionally(new TransportException.Io("cannot listen on " + where + ": "
                        + describe(f.cause()) + "; choose another address or port", f.cause()));
            }
        });
        return result;
    }

    @Override
    public String toString() {
        return "quic transport of " + identity.peerId().shortForm();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(QuicChannel ch, QuicListener listener, Consumer<Connection> acceptor) {
        String target = ch.remoteSocketAddress() instanceof InetSocketAddress a
                ? new Endpoint(PROTOCOL_NAME, a).toString() : "quic://unknown";
        if (!lifecycle.isActive() || listener == null || !listener.accepting()) {
            refuse(ch, "not accepting");
            return;
        }
        if (!lifecycle.reserve()) {
            lifecycle.refusedForLimitNow();
            LOG.log(System.Logger.Level.WARNING, "quic: refused inbound connection from {0}: limit "
                    + "maxConnections={1} reached", target, settings.maxConnections());
            refuse(ch, "connection limit");
            return;
        }
        handshakes.incrementAndGet();
        listener.connectionOpened();
        ch.closeFuture().addListener(f -> {
            lifecycle.release();
            listener.connectionClosed();
        });
        CompletableFuture<QuicConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast(new QuicConnection(this, Direction.INBOUND, target, null, established));
        lifecycle.handOver(established, acceptor);
    }

    /**
     * Closes a connection the listener will not take with CONNECTION_REFUSED. The
     * close must wait until the channel is registered, or quiche sends nothing and
     * the dialer waits for its handshake timeout.
     */
    private static void refuse(QuicChannel ch, String reason) {
        ch.eventLoop().execute(() -> ch.close(false, CONNECTION_REFUSED,
                io.netty.buffer.Unpooled.copiedBuffer(reason, java.nio.charset.StandardCharsets.US_ASCII)));
    }

    /** Sets up every stream channel, both directions: demand-driven reads, bounded writes. */
    @ChannelHandler.Sharable
    private final class StreamInitializer extends ChannelInitializer<QuicStreamChannel> {
        @Override
        protected void initChannel(QuicStreamChannel ch) {
            ch.config().setAutoRead(false);
            ch.config().setAllowHalfClosure(true);
            QuicConnection owner = ch.parent().attr(CONNECTION).get();
            if (owner == null) {
                ch.close();
                return;
            }
            ch.pipeline().addLast(new QuicStream(owner, ch));
        }
    }

    ChannelHandler streamInitializer() {
        return streamInitializer;
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's quic endpoints in order, within one overall timeout. */
    private final class Dial extends EndpointDial<QuicConnection> {

        Dial(PeerAddress peer, List<Endpoint> endpoints, Duration timeout) {
            super(lifecycle, group, peer, endpoints, timeout, settings.handshakeTimeoutMillis());
        }

        @Override
        protected void attempt(Endpoint endpoint, int handshakeMillis, CompletableFuture<QuicConnection> established) {
            PeerAddress peer = peer();
            InetSocketAddress remote = endpoint.address();
            InetSocketAddress local;
            try {
                local = sourceFor(remote);
            } catch (IOException e) {
                lifecycle.release();
                established.completeExceptionally(new TransportException.ConnectionFailed("no route to "
                        + endpoint + ": " + describe(e), e));
                return;
            }
            DialTls tls = new DialTls(remote, peer.peerId());
            ChannelFuture binding = bindDialSocket(local, () -> tls, null, new Unreachable(endpoint, established));
            Channel socket = binding.channel();
            current(socket);
            socket.closeFuture().addListener(f -> lifecycle.release());
            watch(socket, tls, endpoint, established, handshakeMillis);
            binding.addListener((ChannelFuture bound) -> {
                if (!bound.isSuccess()) {
                    established.completeExceptionally(new TransportException.ConnectionFailed("cannot open a UDP "
                            + "socket to dial " + endpoint + ": " + describe(bound.cause()), bound.cause()));
                    return;
                }
                checkBuffers(socket, endpoint.toString());
                socket.connect(remote).addListener((ChannelFuture connected) -> {
                    if (!connected.isSuccess()) {
                        established.completeExceptionally(new TransportException.ConnectionFailed("cannot send to "
                                + endpoint + ": " + describe(connected.cause()), connected.cause()));
                        return;
                    }
                    handshake(socket, endpoint, peer.peerId(), established);
                });
            });
        }
    }

    /**
     * The TLS side of one dial: its engine comes from the shared client context
     * and is registered with the PeerId it must meet, until the dial ends.
     */
    final class DialTls {
        private final InetSocketAddress remote;
        private final PeerId expected;
        private volatile QuicSslEngine engine;

        /**
         * @param remote   where the dial goes
         * @param expected the PeerId that must answer
         */
        DialTls(InetSocketAddress remote, PeerId expected) {
            this.remote = remote;
            this.expected = expected;
        }

        QuicSslEngine newEngine(QuicChannel q) {
            // Host and port name the session in the cache: a later dial to them resumes.
            QuicSslEngine e = clientContext.newEngine(q.alloc(), remote.getAddress().getHostAddress(),
                    remote.getPort());
            dialTrust.expect(e, expected);
            engine = e;
            return e;
        }

        void forget() {
            dialTrust.forget(engine);
        }
    }

    /**
     * Binds a UDP socket that dials: a stateless-reset detector in front of a
     * QUIC client codec, whose handshakes take their TLS from what {@code tls}
     * gives at the time. The socket is registered, so stopping closes it.
     *
     * @param local where to bind
     * @param tls   the TLS of the dial under way
     * @param front first in the pipeline, or null
     * @param back  last in the pipeline, or null
     * @return the bind
     */
    ChannelFuture bindDialSocket(InetSocketAddress local, Supplier<DialTls> tls, ChannelHandler front,
            ChannelHandler back) {
        ChannelHandler codec = configure(new QuicClientCodecBuilder())
                .sslEngineProvider(q -> tls.get().newEngine(q))
                .build();
        Bootstrap b = new Bootstrap().group(group).channel(datagrams.channelType());
        socketOptions(b);
        b.handler(new ChannelInitializer<DatagramChannel>() {
            @Override
            protected void initChannel(DatagramChannel ch) {
                if (front != null) {
                    ch.pipeline().addLast(front);
                }
                ch.pipeline().addLast(new StatelessResetDetector(resetsReceived), codec);
                if (back != null) {
                    ch.pipeline().addLast(back);
                }
            }
        });
        ChannelFuture binding = b.bind(local);
        lifecycle.register(binding.channel());
        return binding;
    }

    /**
     * Bounds a dial on {@code socket} by {@code millis} and cleans up after it:
     * the engine is forgotten when the dial ends, and the socket closes when the
     * dial fails.
     */
    void watch(Channel socket, DialTls tls, Endpoint endpoint, CompletableFuture<QuicConnection> established,
            int millis) {
        socket.closeFuture().addListener(f -> tls.forget());
        established.whenComplete((c, e) -> {
            tls.forget();
            if (e != null) {
                socket.close();
            }
        });
        ScheduledFuture<?> handshakeTimer = group.schedule(() -> {
            if (established.completeExceptionally(new TransportException.ConnectionTimeout("QUIC handshake "
                    + "with " + tls.expected + " at " + endpoint, Duration.ofMillis(millis)))) {
                socket.close();
            }
        }, millis, TimeUnit.MILLISECONDS);
        established.whenComplete((c, e) -> handshakeTimer.cancel(false));
    }

    /**
     * Starts the QUIC handshake of a dial from {@code socket}, whose client codec
     * takes the dial's TLS; the socket closes with the connection.
     *
     * @param socket      a bound dial socket ({@link #bindDialSocket})
     * @param endpoint    where to
     * @param expected    the PeerId that must answer
     * @param established completed with the authenticated connection whose first stream is there
     */
    void handshake(Channel socket, Endpoint endpoint, PeerId expected,
            CompletableFuture<QuicConnection> established) {
        QuicConnection conn = new QuicConnection(this, Direction.OUTBOUND, endpoint.toString(), expected,
                established);
        handshakes.incrementAndGet();
        QuicChannel.newBootstrap(socket)
                .option(QuicChannelOption.SEGMENTED_DATAGRAM_PACKET_ALLOCATOR, datagrams.segments())
                .handler(conn)
                .streamHandler(streamInitializer)
                .streamOption(ChannelOption.AUTO_READ, false)
                .streamOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .remoteAddress(endpoint.address())
                .connect()
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        established.completeExceptionally(handshakeError(conn, endpoint.toString(), expected,
                                f.cause()));
                    } else {
                        ((QuicChannel) f.getNow()).closeFuture().addListener(x -> socket.close());
                    }
                });
    }

    /** Fails a dial at once when the peer's host answers that nothing listens on the port. */
    private static final class Unreachable extends ChannelInboundHandlerAdapter {
        private final Endpoint endpoint;
        private final CompletableFuture<QuicConnection> established;

        Unreachable(Endpoint endpoint, CompletableFuture<QuicConnection> established) {
            this.endpoint = endpoint;
            this.established = established;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof PortUnreachableException && !established.isDone()) {
                established.completeExceptionally(new TransportException.ConnectionFailed("QUIC to " + endpoint
                        + " failed: port unreachable (nothing listens there); check that the peer is running "
                        + "and listens there, and that no firewall blocks UDP", cause));
                ctx.close();
            } else {
                LOG.log(System.Logger.Level.DEBUG, "quic socket to {0}: {1}", endpoint, describe(cause));
            }
        }
    }

    /** @return the local address the kernel would send from to reach {@code remote}, with port 0 */
    private static InetSocketAddress sourceFor(InetSocketAddress remote) throws IOException {
        try (DatagramSocket probe = new DatagramSocket(0, null)) {
            probe.connect(remote); // a route lookup: no packet is sent
            return new InetSocketAddress(probe.getLocalAddress(), 0);
        }
    }

    TransportException handshakeError(QuicConnection conn, String target, PeerId expected, Throwable cause) {
        QuicChannel ch = conn.channel();
        PeerId presented = ch != null ? dialTrust.mismatch(ch.sslEngine()) : null;
        if (expected != null && presented != null) {
            return new TransportException.PeerAuthenticationFailed(expected, presented,
                    "the listener at " + target + " proved another key in the TLS handshake");
        }
        String why = cause != null ? describe(cause) : "the connection closed during the handshake";
        return new TransportException.ConnectionFailed("QUIC handshake with " + conn.peerName() + " failed: " + why
                + "; the peer may be at its connection limit, may not be a kizuna node, or may not accept its "
                + "certificate", cause);
    }

    // ------------------------------------------------------------------ settings

    private <B extends QuicCodecBuilder<B>> B configure(B b) {
        return b.maxIdleTimeout(settings.idleTimeoutMillis(), TimeUnit.MILLISECONDS)
                .initialMaxData(settings.connectionWindow())
                .initialMaxStreamDataBidirectionalLocal(settings.streamWindow())
                .initialMaxStreamDataBidirectionalRemote(settings.streamWindow())
                .initialMaxStreamsBidirectional(settings.maxStreamsPerConnection())
                .initialMaxStreamsUnidirectional(0)
                .congestionControlAlgorithm(settings.congestionControl())
                // DATAGRAM frames (RFC 9221) carry the dialer's keep-alive; nothing else uses them
                .datagram(KEEP_ALIVE_QUEUE, KEEP_ALIVE_QUEUE)
                .activeMigration(true);
    }

    private void socketOptions(Bootstrap b) {
        if (settings.udpReceiveBuffer() > 0) {
            b.option(ChannelOption.SO_RCVBUF, settings.udpReceiveBuffer());
        }
        if (settings.udpSendBuffer() > 0) {
            b.option(ChannelOption.SO_SNDBUF, settings.udpSendBuffer());
        }
    }

    /** Linux caps socket buffers at net.core.rmem_max / wmem_max, silently: say so. */
    void checkBuffers(Channel ch, String where) {
        if (!(ch instanceof DatagramChannel d)) {
            return;
        }
        int rcv = d.config().getReceiveBufferSize();
        int snd = d.config().getSendBufferSize();
        // Linux reports twice what it granted (it counts its bookkeeping too).
        if (settings.udpReceiveBuffer() > 0 && rcv < settings.udpReceiveBuffer()) {
            warnCapped("receive", where, settings.udpReceiveBuffer(), rcv, "rmem_max");
        }
        if (settings.udpSendBuffer() > 0 && snd < settings.udpSendBuffer()) {
            warnCapped("send", where, settings.udpSendBuffer(), snd, "wmem_max");
        }
    }

    private void warnCapped(String which, String where, int wanted, int got, String sysctl) {
        cappedBuffers.incrementAndGet();
        if (warnedBuffers.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "quic: the kernel capped the UDP {0} buffer of {1} at {2} bytes "
                    + "(asked for {3}); throughput on fast or long links suffers. Raise it with: sysctl -w "
                    + "net.core.{4}={3}", which, where, Integer.toString(got), Integer.toString(wanted), sysctl);
        }
    }

    private RetryTokens newRetryTokens() {
        RetryTokens t = new RetryTokens(TimeUnit.SECONDS.toMillis(settings.retryTokenLifetimeSeconds()),
                System::currentTimeMillis);
        retryTokens.add(t);
        return t;
    }

    // ------------------------------------------------------------------ bookkeeping

    /** @return the punch sockets, which the {@link PunchSockets} service offers while the transport runs */
    QuicPunchSockets punchSockets() {
        return punchSockets;
    }

    /** @return whether a connection slot was free and is now taken (a punch socket's dial) */
    boolean reserveConnection() {
        return lifecycle.isActive() && lifecycle.reserve();
    }

    /** @return connection slots taken, handshakes included */
    int connectionSlots() {
        return lifecycle.open();
    }

    /** Gives a connection slot back. */
    void releaseConnection() {
        lifecycle.release();
    }

    /** @return the error that says maxConnections was reached while doing {@code what} */
    TransportException limitReached(String what) {
        return lifecycle.limitReached(what);
    }

    void keepAliveReceived() {
        keepAlives.incrementAndGet();
    }

    /** @return keep-alive DATAGRAM frames received from dialers */
    long keepAlivesReceived() {
        return keepAlives.get();
    }

    /** @return the keys and connection IDs of stateless resets */
    StatelessResets statelessResets() {
        return resets;
    }

    /** @return stateless resets listeners sent, not sent for their rate limit, and dialers received */
    long[] statelessResetCounts() {
        return new long[] {resetsSent.get(), resetsSuppressed.get(), resetsReceived.get()};
    }

    /** @return bytes listeners did not send because an unvalidated address had used its 3x budget */
    long amplificationDroppedBytes() {
        return amplificationDrops.get();
    }

    /** @return the UDP sockets in use, and whether the kernel segments their sends */
    DatagramIo datagramIo() {
        return datagrams;
    }

    void rememberPeer(String endpoint, PeerId peer) {
        knownPeers.put(endpoint, peer);
    }

    PeerId knownPeer(String endpoint) {
        return knownPeers.get(endpoint);
    }

    void opened(QuicConnection c) {
        lifecycle.opened(c);
    }

    void closed(QuicConnection c) {
        lifecycle.closed(c);
    }

    void refusedHandshake() {
        lifecycle.refusedHandshake();
    }

    QuicSettings settings() {
        return settings;
    }

    NodeIdentity identity() {
        return identity;
    }

    /** @return QUIC handshakes started, both directions */
    long handshakes() {
        return handshakes.get();
    }

    /** @return inbound connections refused because maxConnections was reached */
    long refusedForLimit() {
        return lifecycle.refusedForLimit();
    }

    /** @return inbound connections whose handshake or authentication failed */
    long refusedHandshakes() {
        return lifecycle.refusedHandshakes();
    }

    /** @return socket buffers the kernel granted smaller than configured (each logged once per transport) */
    long cappedBuffers() {
        return cappedBuffers.get();
    }

    /** @return Retry tokens minted and refused by this transport's listeners */
    long[] retryTokenCounts() {
        long issued = 0;
        long rejected = 0;
        for (RetryTokens t : retryTokens) {
            issued += t.issued();
            rejected += t.rejected();
        }
        return new long[] {issued, rejected};
    }

    static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        RANDOM.nextBytes(b);
        return b;
    }

    static String describe(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getMessage() == null) {
            c = c.getCause();
        }
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }
}
