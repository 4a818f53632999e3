package io.kizuna.websocket.internal;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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

import org.java_websocket.framing.CloseFrame;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The WebSocket transport: {@code wss://} (RFC 6455 over TLS 1.3), subprotocol
 * {@value KizunaDraft#SUBPROTOCOL}, both sides authenticated by their node keys.
 *
 * <p>Netty carries the sockets and TLS (one NIO event-loop group of 1-2 threads
 * for every listener and connection); Java-WebSocket's protocol engine does the
 * HTTP upgrade and the framing on that event loop. The listener asks for a TLS
 * client certificate without requiring it at the TLS level, so that ordinary
 * WebSocket clients can complete a wss handshake, but refuses the upgrade of a
 * dialer that proved no node key: only authenticated connections reach the
 * platform. The dialer checks the listener's PeerId after TLS and before it
 * sends the upgrade, so a listener with another key never sees a request.
 *
 * <p>Stopping the component closes every connection with Close 1001 (going
 * away), then the listeners, then the event loops.
 */
@Component(service = Transport.class, configurationPid = WebSocketTransport.PID,
        property = {Transport.PROTOCOL + "=" + WebSocketTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + WebSocketSettings.DEFAULT_PRIORITY})
@Designate(ocd = WebSocketConfig.class)
public final class WebSocketTransport implements Transport {

    /** The configuration PID. */
    static final String PID = "io.kizuna.websocket";

    /** The protocol name in endpoints: {@code websocket://ip:port}. */
    static final String PROTOCOL_NAME = "websocket";

    private static final System.Logger LOG = System.getLogger(WebSocketTransport.class.getName());
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private final NodeIdentity identity;
    private final WebSocketSettings settings;
    private final EventLoopGroup group;
    private final SslContext serverContext;
    private final SslContext harnessContext;
    private final SslContext clientContext;
    private final AtomicBoolean active = new AtomicBoolean(true);
    private final AtomicInteger openChannels = new AtomicInteger();
    private final AtomicLong refusedForLimit = new AtomicLong();
    private final AtomicLong refusedHandshakes = new AtomicLong();
    private final AtomicLong closedTooBig = new AtomicLong();
    private final AtomicLong protocolViolations = new AtomicLong();
    private final AtomicLong deadPeers = new AtomicLong();
    private final AtomicLong pongs = new AtomicLong();
    private final Set<WebSocketConnection> connections = ConcurrentHashMap.newKeySet();
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private final Set<WssListener> listeners = ConcurrentHashMap.newKeySet();

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     * @throws SSLException when the TLS contexts cannot be built from the identity
     */
    @Activate
    public WebSocketTransport(WebSocketConfig config, @Reference NodeIdentity identity) throws SSLException {
        this(identity, WebSocketSettings.from(config));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @throws SSLException when the TLS contexts cannot be built from the identity
     */
    WebSocketTransport(NodeIdentity identity, WebSocketSettings settings) throws SSLException {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        // OPTIONAL: a browser's wss handshake completes, and its upgrade is then refused
        // (unless a test harness allows anonymous dialers); a certificate that is presented
        // must be bound to a node key, or TLS fails.
        this.serverContext = SslContextBuilder.forServer(identity.keyManager())
                .trustManager(identity.trustManager())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .clientAuth(ClientAuth.OPTIONAL)
                .build();
        // A test harness's browser endpoint requests no certificate at all: headless Chromium
        // aborts any handshake that asks it for one, even an optional one.
        this.harnessContext = SslContextBuilder.forServer(identity.keyManager())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .clientAuth(ClientAuth.NONE)
                .build();
        // One client context: the expected PeerId is checked per connection, after TLS and
        // before the upgrade; the trust manager checks that the certificate is bound to a key.
        this.clientContext = SslContextBuilder.forClient()
                .keyManager(identity.keyManager())
                .trustManager(identity.trustManager())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .endpointIdentificationAlgorithm(null)
                .build();
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("kizuna-websocket", true), NioIoHandler.newFactory());
    }

    /** Closes every connection with Close 1001, then the listeners, then stops the event loops. */
    @Deactivate
    void deactivate() {
        if (!active.compareAndSet(true, false)) {
            return;
        }
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (WssListener l : listeners) {
            closing.add(l.close().toCompletableFuture());
        }
        for (WebSocketConnection c : connections) {
            closing.add(c.close(CloseFrame.GOING_AWAY, "the kizuna websocket transport is stopping")
                    .toCompletableFuture());
        }
        for (Channel ch : channels) {
            WebSocketConnection c = ch.pipeline().get(WebSocketConnection.class);
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
                LOG.log(System.Logger.Level.WARNING, "websocket transport: not every connection closed in time: {0}",
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
        return active.get() ? Optional.empty() : Optional.of("the websocket transport has stopped");
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
                    + ": the websocket transport has stopped", null));
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
        return listen(local, acceptor, null);
    }

    /**
     * Listens; with {@code anonymous} set, the listener is a test harness's
     * browser endpoint: its TLS asks for no client certificate (headless Chromium
     * aborts a handshake that asks for one), and a dialer that proved no node key
     * (a browser, a WebSocket tool) is upgraded too and handed to
     * {@code anonymous}, never to {@code acceptor}. Only tests do this: the
     * platform never sees such a connection.
     *
     * @param local     the address
     * @param acceptor  receives authenticated connections
     * @param anonymous receives connections of dialers without a node key; null refuses their upgrade
     * @return the listener
     */
    CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor,
            Consumer<Connection> anonymous) {
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(acceptor, "acceptor");
        String where = PROTOCOL_NAME + "://" + local.getHostString() + ":" + local.getPort();
        if (!active.get()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where
                    + ": the websocket transport has stopped", null));
        }
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, settings.backlog())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted(ch, anonymous == null ? serverContext : harnessContext, acceptor, anonymous);
                    }
                });
        b.childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark());
        CompletableFuture<Listener> result = new CompletableFuture<>();
        b.bind(local).addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                WssListener l = new WssListener(f.channel());
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
        return "websocket transport of " + identity.peerId().shortForm();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(SocketChannel ch, SslContext context, Consumer<Connection> acceptor,
            Consumer<Connection> anonymous) {
        if (!active.get()) {
            ch.close();
            return;
        }
        if (!reserve()) {
            refusedForLimit.incrementAndGet();
            LOG.log(System.Logger.Level.WARNING, "websocket: closed inbound connection from {0}: limit "
                    + "maxConnections={1} reached", ch.remoteAddress(), settings.maxConnections());
            ch.close();
            return;
        }
        track(ch);
        String target = new Endpoint(PROTOCOL_NAME, ch.remoteAddress()).toString();
        SslHandler tls = sslHandler(context, ch);
        CompletableFuture<WebSocketConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast("tls", tls).addLast("kizuna", new WebSocketConnection(this, ch, tls,
                Direction.INBOUND, target, null, anonymous != null, established));
        established.thenAccept(c -> {
            try {
                (c.anonymous() ? anonymous : acceptor).accept(c);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "websocket: the acceptor failed on " + c + "; closing it", e);
                c.close();
            }
        });
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's websocket endpoints in order, within one overall timeout. */
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
                        + ": the websocket transport has stopped", stopping));
                return result;
            }
            result.whenComplete((c, e) -> timer.cancel(false));
            tryNext();
            return result;
        }

        private void timedOut() {
            if (result.completeExceptionally(new TransportException.ConnectionTimeout("dialing " + peer
                    + " over websocket", timeout))) {
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
                result.completeExceptionally(TransportException.ConnectionFailed.summarize(peer.peerId(),
                        PROTOCOL_NAME, endpoints.size(), failures));
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
                        + ": the websocket transport has stopped", null));
                return;
            }
            if (!reserve()) {
                result.completeExceptionally(limitReached("dialing " + peer));
                return;
            }
            attempt(endpoint, (int) Math.min(settings.connectTimeoutMillis(), remainingMillis));
        }

        private void attempt(Endpoint endpoint, int connectTimeoutMillis) {
            CompletableFuture<WebSocketConnection> established = new CompletableFuture<>();
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .option(ChannelOption.SO_KEEPALIVE, true)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, waterMark())
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            SslHandler tls = sslHandler(clientContext, ch);
                            ch.pipeline().addLast("tls", tls).addLast("kizuna", new WebSocketConnection(
                                    WebSocketTransport.this, ch, tls, Direction.OUTBOUND, endpoint.toString(),
                                    peer.peerId(), false, established));
                        }
                    });
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
    }

    private static TransportException connectError(Endpoint endpoint, int connectTimeoutMillis, Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return new TransportException.ConnectionTimeout("TCP connect to " + endpoint,
                    Duration.ofMillis(connectTimeoutMillis));
        }
        String reason = cause instanceof ConnectException && cause.getMessage() != null
                && cause.getMessage().toLowerCase(Locale.ROOT).contains("refused")
                ? "connection refused" : Causes.describe(cause);
        return new TransportException.ConnectionFailed("TCP connect to " + endpoint + " failed: " + reason
                + "; check that the peer is running and listens there, and that no firewall or proxy blocks it",
                cause);
    }

    private SslHandler sslHandler(SslContext context, Channel ch) {
        // No peer host: no session resumption, so every handshake proves the keys again.
        SslHandler tls = context.newHandler(ch.alloc());
        tls.setHandshakeTimeoutMillis(settings.handshakeTimeoutMillis());
        tls.setCloseNotifyFlushTimeoutMillis(settings.closeTimeoutMillis());
        tls.setCloseNotifyReadTimeoutMillis(0);
        return tls;
    }

    private WriteBufferWaterMark waterMark() {
        return new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark());
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
                + " over websocket: " + openChannels.get() + " connections are open; close some or raise "
                + "maxConnections in configuration " + PID);
    }

    void opened(WebSocketConnection c) {
        connections.add(c);
    }

    void closed(WebSocketConnection c) {
        connections.remove(c);
    }

    void refusedHandshake() {
        refusedHandshakes.incrementAndGet();
    }

    /** Counts a connection this side closed for bad input: 1009 (too big) apart from the rest. */
    void limitOrViolation(int closeCode) {
        if (closeCode == CloseFrame.TOOBIG) {
            closedTooBig.incrementAndGet();
        } else {
            protocolViolations.incrementAndGet();
        }
    }

    void deadPeer() {
        deadPeers.incrementAndGet();
    }

    void pongReceived() {
        pongs.incrementAndGet();
    }

    WebSocketSettings settings() {
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

    /** @return inbound connections whose TLS handshake, authentication or upgrade failed */
    long refusedHandshakes() {
        return refusedHandshakes.get();
    }

    /** @return connections closed with 1009: a frame, a message or an inflated message over its bound */
    long closedTooBig() {
        return closedTooBig.get();
    }

    /** @return connections closed for other bad input (protocol errors, text messages) */
    long protocolViolations() {
        return protocolViolations.get();
    }

    /** @return pongs received, answers to this side's keep-alive pings */
    long pongs() {
        return pongs.get();
    }

    /** @return connections closed because the peer answered nothing, not even a ping */
    long deadPeers() {
        return deadPeers.get();
    }
}
