package io.kizuna.websocket.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

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
import io.kizuna.transport.support.SocketListener;
import io.kizuna.transport.support.TlsOverTcp;
import io.kizuna.transport.support.TransportLifecycle;
import io.kizuna.transport.support.tls.NettyTls;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

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
 * platform. The dialer checks the listener's PeerId inside the TLS handshake
 * (a shared {@link DialTrustManager}), as tcp does, so a listener with another
 * key never receives the dialer's certificate, let alone its upgrade.
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

    private final NodeIdentity identity;
    private final WebSocketSettings settings;
    private final EventLoopGroup group;
    private final NettyTls nettyTls;
    private final SslContext serverContext;
    private final SslContext harnessContext;
    private final SslContext clientContext;
    private final DialTrustManager dialTrust;
    private final TransportLifecycle<WebSocketConnection, SocketListener> lifecycle;
    private final AtomicLong closedTooBig = new AtomicLong();
    private final AtomicLong protocolViolations = new AtomicLong();
    private final AtomicLong deadPeers = new AtomicLong();
    private final AtomicLong pongs = new AtomicLong();

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
        this(identity, settings, NettyTls.of(identity));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @param tls      the TLS engine
     * @throws SSLException when the TLS contexts cannot be built from the identity
     */
    WebSocketTransport(NodeIdentity identity, WebSocketSettings settings, NettyTls tls) throws SSLException {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.nettyTls = Objects.requireNonNull(tls, "tls");
        this.lifecycle = new TransportLifecycle<>(PROTOCOL_NAME, PID, settings.maxConnections(), LOG);
        // OPTIONAL: a browser's wss handshake completes, and its upgrade is then refused
        // (unless a test harness allows anonymous dialers); a certificate that is presented
        // must be bound to a node key, or TLS fails.
        this.serverContext = tls.server(identity, ClientAuth.OPTIONAL).build();
        // A test harness's browser endpoint requests no certificate at all: headless Chromium
        // aborts any handshake that asks it for one, even an optional one.
        this.harnessContext = tls.server(identity, ClientAuth.NONE).build();
        // One client context: each dial registers its engine with the PeerId it expects, and the
        // listener's certificate is checked against it before the dialer sends its own.
        this.dialTrust = DialTrustManager.shared(identity.trustManager());
        this.clientContext = tls.client(identity, dialTrust).build();
        tls.log(LOG, PROTOCOL_NAME);
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("kizuna-websocket", true), NioIoHandler.newFactory());
    }

    /** Closes every connection with Close 1001, then the listeners, then stops the event loops. */
    @Deactivate
    void deactivate() {
        if (lifecycle.stop()) {
            lifecycle.stop(group, WebSocketConnection.class,
                    c -> c.close(CloseFrame.GOING_AWAY, "the kizuna websocket transport is stopping"),
                    settings.closeTimeoutMillis() + 1000L);
        }
        // engines still open keep their context until they are released
        NettyTls.release(serverContext);
        NettyTls.release(harnessContext);
        NettyTls.release(clientContext);
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
        return lifecycle.isActive();
    }

    @Override
    public Optional<String> unavailableReason() {
        return lifecycle.unavailableReason();
    }

    @Override
    public Optional<String> tlsEngine() {
        return Optional.of(nettyTls.describe());
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(timeout, "timeout");
        List<Endpoint> endpoints = peer.endpoints(PROTOCOL_NAME);
        Optional<TransportException> refused = lifecycle.refuseDial(peer, timeout, endpoints);
        if (refused.isPresent()) {
            return CompletableFuture.failedFuture(refused.get());
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
        if (!lifecycle.isActive()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where + ": "
                    + lifecycle.stoppedReason(), null));
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
        return lifecycle.bound(b.bind(local), ch -> new SocketListener(ch, PROTOCOL_NAME), where);
    }

    @Override
    public String toString() {
        return "websocket transport of " + identity.peerId().shortForm();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(SocketChannel ch, SslContext context, Consumer<Connection> acceptor,
            Consumer<Connection> anonymous) {
        if (!lifecycle.admit(ch)) {
            return;
        }
        String target = new Endpoint(PROTOCOL_NAME, ch.remoteAddress()).toString();
        SslHandler tls = sslHandler(context, ch);
        CompletableFuture<WebSocketConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast("tls", tls).addLast("kizuna", new WebSocketConnection(this, ch, tls,
                Direction.INBOUND, target, null, anonymous != null, established));
        lifecycle.handOver(established, c -> (c.anonymous() ? anonymous : acceptor).accept(c));
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's websocket endpoints in order, within one overall timeout. */
    private final class Dial extends EndpointDial<WebSocketConnection> {

        Dial(PeerAddress peer, List<Endpoint> endpoints, Duration timeout) {
            super(lifecycle, group, peer, endpoints, timeout, settings.connectTimeoutMillis());
        }

        @Override
        protected void attempt(Endpoint endpoint, int connectTimeoutMillis,
                CompletableFuture<WebSocketConnection> established) {
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
                            dialTrust.expect(tls.engine(), peer().peerId());
                            ch.closeFuture().addListener(f -> dialTrust.forget(tls.engine()));
                            established.whenComplete((c, e) -> dialTrust.forget(tls.engine()));
                            ch.pipeline().addLast("tls", tls).addLast("kizuna", new WebSocketConnection(
                                    WebSocketTransport.this, ch, tls, Direction.OUTBOUND, endpoint.toString(),
                                    peer().peerId(), false, established));
                        }
                    });
            ChannelFuture connecting = b.connect(endpoint.address());
            Channel ch = connecting.channel();
            current(ch);
            lifecycle.track(ch); // the slot was reserved for this channel; it is given back when the channel closes
            connecting.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    established.completeExceptionally(TlsOverTcp.connectError(endpoint, connectTimeoutMillis,
                            f.cause(), "firewall or proxy"));
                }
            });
        }
    }

    private SslHandler sslHandler(SslContext context, Channel ch) {
        return TlsOverTcp.handler(context, ch, settings.handshakeTimeoutMillis(), settings.closeTimeoutMillis());
    }

    private WriteBufferWaterMark waterMark() {
        return new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark());
    }

    // ------------------------------------------------------------------ bookkeeping

    void opened(WebSocketConnection c) {
        lifecycle.opened(c);
    }

    void closed(WebSocketConnection c) {
        lifecycle.closed(c);
    }

    void refusedHandshake() {
        lifecycle.refusedHandshake();
    }

    /** @return the TLS engine */
    NettyTls nettyTls() {
        return nettyTls;
    }

    /**
     * @param engine a dial's TLS engine
     * @return the PeerId the listener proved in that dial's handshake when it was not the one dialed, else null
     */
    PeerId mismatch(SSLEngine engine) {
        return dialTrust.mismatch(engine);
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
        return lifecycle.open();
    }

    /** @return inbound connections closed at once because maxConnections was reached */
    long refusedForLimit() {
        return lifecycle.refusedForLimit();
    }

    /** @return inbound connections whose TLS handshake, authentication or upgrade failed */
    long refusedHandshakes() {
        return lifecycle.refusedHandshakes();
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
