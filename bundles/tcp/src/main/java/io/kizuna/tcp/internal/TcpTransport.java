package io.kizuna.tcp.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
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
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

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

    private final NodeIdentity identity;
    private final TcpSettings settings;
    private final SocketIo io;
    private final EventLoopGroup group;
    private final NettyTls nettyTls;
    private final SslContext serverContext;
    private final TransportLifecycle<TcpConnection, SocketListener> lifecycle;

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    @Activate
    public TcpTransport(TcpConfig config, @Reference NodeIdentity identity) throws SSLException {
        // Each stream is a connection, half-closed with TLS: see NettyTls.forHalfClose.
        this(identity, TcpSettings.from(config), SocketIo.choose(config.epoll()), NettyTls.forHalfClose(identity));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @throws SSLException when the TLS context cannot be built from the identity, or the configured
     *         TLS engine cannot be used
     */
    TcpTransport(NodeIdentity identity, TcpSettings settings) throws SSLException {
        this(identity, settings, SocketIo.choose(false), NettyTls.forHalfClose(identity));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @param io       the sockets: epoll or NIO
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    TcpTransport(NodeIdentity identity, TcpSettings settings, SocketIo io) throws SSLException {
        this(identity, settings, io, NettyTls.forHalfClose(identity));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @param tls      the TLS engine
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    TcpTransport(NodeIdentity identity, TcpSettings settings, NettyTls tls) throws SSLException {
        this(identity, settings, SocketIo.choose(false), tls);
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @param io       the sockets: epoll or NIO
     * @param tls      the TLS engine
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    TcpTransport(NodeIdentity identity, TcpSettings settings, SocketIo io, NettyTls tls) throws SSLException {
        this.io = Objects.requireNonNull(io, "io");
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.nettyTls = Objects.requireNonNull(tls, "tls");
        this.lifecycle = new TransportLifecycle<>(PROTOCOL_NAME, PID, settings.maxConnections(), LOG);
        this.serverContext = tls.server(identity, ClientAuth.REQUIRE).build();
        tls.log(LOG, PROTOCOL_NAME);
        this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                new DefaultThreadFactory("kizuna-tcp", true), io.ioHandler());
    }

    /**
     * Closes every connection gracefully (close_notify, then FIN), then the
     * listeners, then stops the event loops.
     */
    @Deactivate
    void deactivate() {
        if (lifecycle.stop()) {
            lifecycle.stop(group, TcpConnection.class, TcpConnection::close, settings.closeTimeoutMillis() + 1000L);
        }
        NettyTls.release(serverContext); // engines still open keep it until they are released
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
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(acceptor, "acceptor");
        String where = PROTOCOL_NAME + "://" + local.getHostString() + ":" + local.getPort();
        if (!lifecycle.isActive()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where + ": "
                    + lifecycle.stoppedReason(), null));
        }
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(io.serverChannel())
                .option(ChannelOption.SO_BACKLOG, settings.backlog())
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted(ch, acceptor);
                    }
                });
        childOptions(b);
        return lifecycle.bound(b.bind(local), ch -> new SocketListener(ch, PROTOCOL_NAME), where);
    }

    @Override
    public String toString() {
        return "tcp transport of " + identity.peerId().shortForm();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(SocketChannel ch, Consumer<Connection> acceptor) {
        if (!lifecycle.admit(ch)) {
            return;
        }
        InetSocketAddress remote = ch.remoteAddress();
        String target = new Endpoint(PROTOCOL_NAME, remote).toString();
        SslHandler tls = sslHandler(serverContext, ch);
        CompletableFuture<TcpConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast("tls", tls).addLast("kizuna", new TcpConnection(this, ch, tls, Direction.INBOUND,
                target, null, established));
        lifecycle.handOver(established, acceptor);
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's tcp endpoints in order, within one overall timeout. */
    private final class Dial extends EndpointDial<TcpConnection> {

        Dial(PeerAddress peer, List<Endpoint> endpoints, Duration timeout) {
            super(lifecycle, group, peer, endpoints, timeout, settings.connectTimeoutMillis());
        }

        @Override
        protected void attempt(Endpoint endpoint, int connectTimeoutMillis,
                CompletableFuture<TcpConnection> established) {
            PeerAddress peer = peer();
            DialTrustManager trust = DialTrustManager.forPeer(identity.trustManager(), peer.peerId());
            SslContext context;
            try {
                context = clientContext(trust);
            } catch (SSLException e) {
                lifecycle.release();
                fail(new TransportException.ConnectionFailed("cannot set up TLS to dial " + peer + ": "
                        + e.getMessage(), e));
                return;
            }
            Runnable releaseContext = NettyTls.releaseOnce(context);
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(io.channel())
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            SslHandler tls = sslHandler(context, ch);
                            releaseContext.run(); // the engine holds it now
                            ch.pipeline().addLast("tls", tls).addLast("kizuna", new TcpConnection(TcpTransport.this,
                                    ch, tls, Direction.OUTBOUND, endpoint.toString(), trust, established));
                        }
                    });
            channelOptions(b);
            ChannelFuture connecting = b.connect(endpoint.address());
            // Done connecting, the engine was made, or never will be (the channel did not register).
            connecting.addListener(f -> releaseContext.run());
            Channel ch = connecting.channel();
            current(ch);
            lifecycle.track(ch); // the slot was reserved for this channel; it is given back when the channel closes
            connecting.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    established.completeExceptionally(TlsOverTcp.connectError(endpoint, connectTimeoutMillis,
                            f.cause(), "firewall"));
                }
            });
        }
    }

    private SslContext clientContext(DialTrustManager trust) throws SSLException {
        // A context per dial: its trust manager knows which PeerId this dial expects.
        return nettyTls.client(identity, trust).build();
    }

    private SslHandler sslHandler(SslContext context, Channel ch) {
        return TlsOverTcp.handler(context, ch, settings.handshakeTimeoutMillis(), settings.closeTimeoutMillis());
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

    void opened(TcpConnection c) {
        lifecycle.opened(c);
    }

    void closed(TcpConnection c) {
        lifecycle.closed(c);
    }

    void refusedHandshake() {
        lifecycle.refusedHandshake();
    }

    /** @return the sockets the transport runs on */
    SocketIo io() {
        return io;
    }

    TcpSettings settings() {
        return settings;
    }

    /** @return the TLS engine */
    NettyTls nettyTls() {
        return nettyTls;
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

    /** @return inbound connections whose handshake or authentication failed */
    long refusedHandshakes() {
        return lifecycle.refusedHandshakes();
    }
}
