package io.kizuna.tcp.internal;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import javax.net.ssl.SSLException;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.Causes;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The TCP transport: TLS 1.3 over TCP on Netty, both sides authenticated by
 * their node keys.
 *
 * <p>One event-loop group (NIO, 1-2 threads) serves every listener and
 * connection of the transport. Stopping the component (bundle stop, update,
 * new configuration) closes every connection gracefully, so peers read an
 * orderly end of stream, then the listeners, then the event loops.
 */
@Component(service = Transport.class, configurationPid = TcpTransport.PID,
        property = {Transport.PROTOCOL + "=" + TcpTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + TcpSettings.DEFAULT_PRIORITY})
@Designate(ocd = TcpConfig.class)
public final class TcpTransport implements Transport {

    /** The configuration PID. */
    static final String PID = "io.kizuna.tcp";

    /** The protocol name in endpoints: {@code tcp://ip:port}. */
    static final String PROTOCOL_NAME = "tcp";

    private static final System.Logger LOG = System.getLogger(TcpTransport.class.getName());
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private final NodeIdentity identity;
    private final TcpSettings settings;
    private final EventLoopGroup group;
    private final SslContext serverContext;
    private final AtomicBoolean active = new AtomicBoolean(true);
    private final AtomicInteger openChannels = new AtomicInteger();
    private final AtomicLong refusedForLimit = new AtomicLong();
    private final AtomicLong refusedHandshakes = new AtomicLong();
    private final Set<TcpConnection> connections = ConcurrentHashMap.newKeySet();
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private final Set<TcpListener> listeners = ConcurrentHashMap.newKeySet();

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    @Activate
    public TcpTransport(TcpConfig config, @Reference NodeIdentity identity) throws SSLException {
        this(identity, TcpSettings.from(config));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    TcpTransport(NodeIdentity identity, TcpSettings settings) throws SSLException {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.serverContext = SslContextBuilder.forServer(identity.keyManager())
                .trustManager(identity.trustManager())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .clientAuth(ClientAuth.REQUIRE)
                .build();
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("kizuna-tcp", true), NioIoHandler.newFactory());
    }

    /**
     * Closes every connection gracefully (close_notify, then FIN), then the
     * listeners, then stops the event loops.
     */
    @Deactivate
    void deactivate() {
        if (!active.compareAndSet(true, false)) {
            return;
        }
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (TcpListener l : listeners) {
            closing.add(l.close().toCompletableFuture());
        }
        for (TcpConnection c : connections) {
            closing.add(c.close().toCompletableFuture());
        }
        for (Channel ch : channels) {
            TcpConnection c = ch.pipeline().get(TcpConnection.class);
            if (c == null || !connections.contains(c)) {
                ch.close(); // still in its handshake: nothing to close gracefully
            }
        }
        boolean onEventLoop = false;
        for (EventExecutor e : group) {
            onEventLoop |= e.inEventLoop();
        }
        if (!onEventLoop) {
            try {
                CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                        .get(settings.closeTimeoutMillis() + 1000L, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "tcp transport: not every connection closed in time: {0}",
                        Causes.describe(e));
            }
        }
        var terminated = group.shutdownGracefully(20, 2000, TimeUnit.MILLISECONDS);
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
        return TransportCapabilities.STREAM;
    }

    @Override
    public boolean isAvailable() {
        return active.get();
    }

    @Override
    public Optional<String> unavailableReason() {
        return active.get() ? Optional.empty() : Optional.of("the tcp transport has stopped");
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(timeout, "timeout");
        List<Endpoint> endpoints = peer.endpoints(PROTOCOL_NAME);
        if (endpoints.isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(PROTOCOL_NAME, peer));
        }
        if (!active.get()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot dial " + peer
                    + ": the tcp transport has stopped", null));
        }
        if (timeout.isNegative() || timeout.isZero()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionTimeout("dialing " + peer, timeout));
        }
        if (openChannels.get() >= settings.maxConnections()) {
            return CompletableFuture.failedFuture(limitReached("dialing " + peer));
        }
        return new Dial(peer, endpoints, timeout).start();
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(acceptor, "acceptor");
        String where = PROTOCOL_NAME + "://" + local.getHostString() + ":" + local.getPort();
        if (!active.get()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where
                    + ": the tcp transport has stopped", null));
        }
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, settings.backlog())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted(ch, acceptor);
                    }
                });
        childOptions(b);
        CompletableFuture<Listener> result = new CompletableFuture<>();
        b.bind(local).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                TcpListener l = new TcpListener(f.channel());
                listeners.add(l);
                f.channel().closeFuture().addListener(c -> listeners.remove(l));
                result.complete(l);
            } else {
                result.completeExceptionally(new TransportException.Io("cannot listen on " + where + ": "
                        + Causes.describe(f.cause()) + "; choose another address or port", f.cause()));
            }
        });
        return result;
    }

    @Override
    public String toString() {
        return "tcp transport of " + identity.peerId().shortForm();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(SocketChannel ch, Consumer<Connection> acceptor) {
        if (!active.get()) {
            ch.close();
            return;
        }
        if (!reserve()) {
            refusedForLimit.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "tcp: closed inbound connection from {0}: limit maxConnections={1}"
                    + " reached", ch.remoteAddress(), settings.maxConnections());
            ch.close();
            return;
        }
        track(ch);
        InetSocketAddress remote = ch.remoteAddress();
        String target = new Endpoint(PROTOCOL_NAME, remote).toString();
        SslHandler tls = sslHandler(serverContext, ch);
        CompletableFuture<TcpConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast("tls", tls).addLast("kizuna", new TcpConnection(this, ch, tls, Direction.INBOUND,
                target, null, established));
        established.thenAccept(c -> {
            try {
                acceptor.accept(c);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "tcp: the acceptor failed on " + c + "; closing it", e);
                c.close();
            }
        });
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's tcp endpoints in order, within one overall timeout. */
    private final class Dial {
        private final PeerAddress peer;
        private final List<Endpoint> endpoints;
        private final Duration timeout;
        private final long deadline;
        private final CompletableFuture<Connection> result = new CompletableFuture<>();
        private final List<TransportException> failures = new ArrayList<>();
        private int next;
        private volatile Channel current;

        Dial(PeerAddress peer, List<Endpoint> endpoints, Duration timeout) {
            this.peer = peer;
            this.endpoints = endpoints;
            this.timeout = timeout;
            this.deadline = System.nanoTime() + timeout.toNanos();
        }

        CompletableFuture<Connection> start() {
            ScheduledFuture<?> timer;
            try {
                timer = group.schedule(this::timedOut, timeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException stopping) {
                result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer
                        + ": the tcp transport has stopped", stopping));
                return result;
            }
            result.whenComplete((c, e) -> timer.cancel(false));
            tryNext();
            return result;
        }

        private void timedOut() {
            if (result.completeExceptionally(new TransportException.ConnectionTimeout("dialing " + peer
                    + " over tcp", timeout))) {
                Channel c = current;
                if (c != null) {
                    c.close();
                }
            }
        }

        private synchronized void tryNext() {
            if (result.isDone()) {
                return;
            }
            if (next >= endpoints.size()) {
                result.completeExceptionally(summary());
                return;
            }
            Endpoint endpoint = endpoints.get(next++);
            long remainingMillis = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (remainingMillis <= 0) {
                timedOut();
                return;
            }
            if (!active.get()) {
                result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer
                        + ": the tcp transport has stopped", null));
                return;
            }
            if (!reserve()) {
                result.completeExceptionally(limitReached("dialing " + peer));
                return;
            }
            attempt(endpoint, (int) Math.min(settings.connectTimeoutMillis(), remainingMillis));
        }

        private void attempt(Endpoint endpoint, int connectTimeoutMillis) {
            DialTrustManager trust = DialTrustManager.forPeer(identity.trustManager(), peer.peerId());
            SslContext context;
            try {
                context = clientContext(trust);
            } catch (SSLException e) {
                release();
                result.completeExceptionally(new TransportException.ConnectionFailed("cannot set up TLS to dial "
                        + peer + ": " + e.getMessage(), e));
                return;
            }
            CompletableFuture<TcpConnection> established = new CompletableFuture<>();
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            SslHandler tls = sslHandler(context, ch);
                            ch.pipeline().addLast("tls", tls).addLast("kizuna", new TcpConnection(TcpTransport.this,
                                    ch, tls, Direction.OUTBOUND, endpoint.toString(), trust, established));
                        }
                    });
            channelOptions(b);
            ChannelFuture connecting = b.connect(endpoint.address());
            Channel ch = connecting.channel();
            current = ch;
            // The slot was reserved for this channel; it is given back when the channel closes.
            ch.closeFuture().addListener(f -> release());
            channels.add(ch);
            ch.closeFuture().addListener(f -> channels.remove(ch));
            connecting.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    established.completeExceptionally(connectError(endpoint, connectTimeoutMillis, f.cause()));
                }
            });
            established.whenComplete((c, e) -> {
                if (e == null) {
                    if (!result.complete(c)) {
                        c.close(); // the dial timed out meanwhile
                    }
                } else {
                    synchronized (this) {
                        failures.add(TransportException.unwrap(e));
                    }
                    tryNext();
                }
            });
        }

        /** The most telling failure when every endpoint failed. */
        private TransportException summary() {
            return TransportException.ConnectionFailed.summarize(peer.peerId(), PROTOCOL_NAME, endpoints.size(),
                    failures);
        }
    }

    private TransportException connectError(Endpoint endpoint, int connectTimeoutMillis, Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return new TransportException.ConnectionTimeout("TCP connect to " + endpoint,
                    Duration.ofMillis(connectTimeoutMillis));
        }
        String reason = cause instanceof ConnectException && cause.getMessage() != null
                && cause.getMessage().toLowerCase(java.util.Locale.ROOT).contains("refused")
                ? "connection refused" : Causes.describe(cause);
        return new TransportException.ConnectionFailed("TCP connect to " + endpoint + " failed: " + reason
                + "; check that the peer is running and listens there, and that no firewall blocks it", cause);
    }

    private SslContext clientContext(DialTrustManager trust) throws SSLException {
        // A context per dial: its trust manager knows which PeerId this dial expects.
        return SslContextBuilder.forClient()
                .keyManager(identity.keyManager())
                .trustManager(trust)
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .endpointIdentificationAlgorithm(null)
                .build();
    }

    private SslHandler sslHandler(SslContext context, Channel ch) {
        // No peer host: no session resumption, so every handshake proves the keys again.
        SslHandler tls = context.newHandler(ch.alloc());
        tls.setHandshakeTimeoutMillis(settings.handshakeTimeoutMillis());
        tls.setCloseNotifyFlushTimeoutMillis(settings.closeTimeoutMillis());
        tls.setCloseNotifyReadTimeoutMillis(0);
        return tls;
    }

    private void channelOptions(Bootstrap b) {
        b.option(ChannelOption.TCP_NODELAY, settings.noDelay())
                .option(ChannelOption.SO_KEEPALIVE, settings.keepAlive())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark()));
    }

    private void childOptions(ServerBootstrap b) {
        b.childOption(ChannelOption.TCP_NODELAY, settings.noDelay())
                .childOption(ChannelOption.SO_KEEPALIVE, settings.keepAlive())
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark()));
    }

    // ------------------------------------------------------------------ bookkeeping

    private boolean reserve() {
        int n;
        do {
            n = openChannels.get();
            if (n >= settings.maxConnections()) {
                return false;
            }
        } while (!openChannels.compareAndSet(n, n + 1));
        return true;
    }

    private void release() {
        openChannels.decrementAndGet();
    }

    private void track(Channel ch) {
        ch.closeFuture().addListener(f -> release());
        channels.add(ch);
        ch.closeFuture().addListener(f -> channels.remove(ch));
    }

    private TransportException.LimitExceeded limitReached(String what) {
        return new TransportException.LimitExceeded("maxConnections", settings.maxConnections(), what
                + " over tcp: " + openChannels.get() + " connections are open; close some or raise "
                + "maxConnections in configuration " + PID);
    }

    void opened(TcpConnection c) {
        connections.add(c);
    }

    void closed(TcpConnection c) {
        connections.remove(c);
    }

    void refusedHandshake() {
        refusedHandshakes.incrementAndGet();
    }

    TcpSettings settings() {
        return settings;
    }

    NodeIdentity identity() {
        return identity;
    }

    /** @return connections open now, handshakes included */
    int openChannels() {
        return openChannels.get();
    }

    /** @return inbound connections closed at once because maxConnections was reached */
    long refusedForLimit() {
        return refusedForLimit.get();
    }

    /** @return inbound connections whose handshake or authentication failed */
    long refusedHandshakes() {
        return refusedHandshakes.get();
    }
}
