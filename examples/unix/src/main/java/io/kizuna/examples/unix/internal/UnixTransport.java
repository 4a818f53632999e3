package io.kizuna.examples.unix.internal;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
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
import io.kizuna.transport.support.EndpointDial;
import io.kizuna.transport.support.TlsOverTcp;
import io.kizuna.transport.support.TransportLifecycle;
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
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * A transport for peers on one host: TLS 1.3 over Unix domain sockets (Netty's
 * epoll transport), both sides authenticated by their node keys as over tcp.
 *
 * <p>Endpoints are {@code unix://127.0.0.1:<n>}, the socket
 * {@code <directory>/<n>.sock} (see {@link SocketPaths}). Listening on port 0
 * picks a free socket number. A listener's socket file is removed when it
 * closes; a stale one (its node died) is replaced when a listener asks for its
 * number.
 *
 * <p>Written against the public API ({@code io.kizuna.transport}) and the
 * identity bundle's TLS material only, with the shared stream code copied in:
 * a plug-in a third party could ship.
 */
@Component(service = Transport.class, configurationPid = UnixTransport.PID,
        property = {Transport.PROTOCOL + "=" + UnixTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + UnixSettings.DEFAULT_PRIORITY})
@Designate(ocd = UnixConfig.class)
public final class UnixTransport implements Transport {

    /** The configuration PID. */
    static final String PID = "io.kizuna.examples.unix";

    /** The protocol name in endpoints: {@code unix://127.0.0.1:n}. */
    static final String PROTOCOL_NAME = "unix";

    /** Socket numbers a port-0 listen tries before giving up. */
    static final int FREE_NUMBER_ATTEMPTS = 64;

    private static final System.Logger LOG = System.getLogger(UnixTransport.class.getName());
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private final NodeIdentity identity;
    private final UnixSettings settings;
    private final String epollMissing;
    private final EventLoopGroup group;
    private final SslContext serverContext;
    private final TransportLifecycle<UnixConnection, UnixListener> lifecycle;

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    @Activate
    public UnixTransport(UnixConfig config, @Reference NodeIdentity identity) throws SSLException {
        this(identity, UnixSettings.from(config));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     * @throws SSLException when the TLS context cannot be built from the identity
     */
    UnixTransport(NodeIdentity identity, UnixSettings settings) throws SSLException {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.lifecycle = new TransportLifecycle<>(PROTOCOL_NAME, PID, settings.maxConnections(), LOG);
        this.serverContext = SslContextBuilder.forServer(identity.keyManager())
                .trustManager(identity.trustManager())
                .sslProvider(SslProvider.JDK)
                .protocols(PROTOCOLS)
                .clientAuth(ClientAuth.REQUIRE)
                .build();
        if (Epoll.isAvailable()) {
            this.epollMissing = null;
            this.group = new MultiThreadIoEventLoopGroup(settings.ioThreads(),
                    new DefaultThreadFactory("kizuna-unix", true), EpollIoHandler.newFactory());
        } else {
            this.epollMissing = "Netty's epoll transport is not available here ("
                    + Causes.describe(Epoll.unavailabilityCause()) + "); it needs Linux and the bundle "
                    + "netty-transport-native-epoll (classifier linux-x86_64)";
            this.group = null;
            LOG.log(System.Logger.Level.WARNING, "unix transport unavailable: " + epollMissing);
        }
    }

    /** Closes every connection gracefully, then the listeners (their socket files go), then the event loops. */
    @Deactivate
    void deactivate() {
        if (lifecycle.stop() && group != null) {
            lifecycle.stop(group, UnixConnection.class, UnixConnection::close, settings.closeTimeoutMillis() + 1000L);
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
        return epollMissing == null && lifecycle.isActive();
    }

    @Override
    public Optional<String> unavailableReason() {
        return epollMissing != null ? Optional.of(epollMissing) : lifecycle.unavailableReason();
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(timeout, "timeout");
        List<Endpoint> endpoints = peer.endpoints(PROTOCOL_NAME);
        if (epollMissing != null && !endpoints.isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot dial " + peer
                    + ": " + epollMissing, null));
        }
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
        String problem = epollMissing != null ? epollMissing
                : !lifecycle.isActive() ? lifecycle.stoppedReason() : SocketPaths.notLocal(local);
        if (problem == null) {
            try {
                SocketPaths.prepare(settings.directory());
            } catch (IOException e) {
                problem = e.getMessage();
            }
        }
        if (problem != null) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where + ": "
                    + problem, null));
        }
        List<Integer> numbers = new ArrayList<>();
        if (local.getPort() != 0) {
            int n = local.getPort();
            Path socket = SocketPaths.socket(settings.directory(), n);
            try {
                if (!removeIfStale(socket)) {
                    return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where
                            + ": another process listens on its socket " + socket + "; choose another number", null));
                }
            } catch (IOException e) {
                return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + where
                        + ": cannot remove the stale socket " + socket + ": " + e.getMessage(), e));
            }
            numbers.add(n);
        } else {
            int span = SocketPaths.LAST_FREE - SocketPaths.FIRST_FREE + 1;
            int start = ThreadLocalRandom.current().nextInt(span);
            for (int i = 0; i < span && numbers.size() < FREE_NUMBER_ATTEMPTS; i++) {
                int n = SocketPaths.FIRST_FREE + (start + i) % span;
                if (!Files.exists(SocketPaths.socket(settings.directory(), n))) {
                    numbers.add(n);
                }
            }
        }
        CompletableFuture<Listener> result = new CompletableFuture<>();
        bind(numbers, 0, acceptor, where, result);
        return result;
    }

    /** Binds the first number that is free; a number taken meanwhile by another node moves on to the next. */
    private void bind(List<Integer> numbers, int index, Consumer<Connection> acceptor, String where,
            CompletableFuture<Listener> result) {
        if (index >= numbers.size()) {
            result.completeExceptionally(new TransportException.Io("cannot listen on " + where + ": every socket "
                    + "number from " + SocketPaths.FIRST_FREE + " to " + SocketPaths.LAST_FREE + " has a file in "
                    + settings.directory() + "; remove stale ones or name a number", null));
            return;
        }
        int number = numbers.get(index);
        Path socket = SocketPaths.socket(settings.directory(), number);
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(EpollServerDomainSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, settings.backlog())
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                        new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark()))
                .childHandler(new ChannelInitializer<DomainSocketChannel>() {
                    @Override
                    protected void initChannel(DomainSocketChannel ch) {
                        accepted(ch, number, acceptor);
                    }
                });
        lifecycle.bound(b.bind(new DomainSocketAddress(socket.toFile())), ch -> new UnixListener(ch, number, socket),
                where).whenComplete((l, e) -> {
                    if (e == null) {
                        LOG.log(System.Logger.Level.DEBUG, "unix listener {0} on {1}", l.endpoint(), socket);
                        result.complete(l);
                    } else if (index + 1 < numbers.size() && String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT)
                            .contains("in use")) {
                        bind(numbers, index + 1, acceptor, where, result); // taken since the directory was read
                    } else {
                        result.completeExceptionally(e);
                    }
                });
    }

    /**
     * @param socket a socket file
     * @return true when it is not there (any more): missing, or stale and removed; false when a process accepts on it
     */
    private static boolean removeIfStale(Path socket) throws IOException {
        if (!Files.exists(socket)) {
            return true;
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            return false;
        } catch (ConnectException e) {
            Files.deleteIfExists(socket);
            LOG.log(System.Logger.Level.INFO, "removed the stale socket {0} (nothing accepted on it)", socket);
            return true;
        }
    }

    @Override
    public String toString() {
        return "unix transport of " + identity.peerId().shortForm() + " in " + settings.directory();
    }

    // ------------------------------------------------------------------ inbound

    private void accepted(DomainSocketChannel ch, int number, Consumer<Connection> acceptor) {
        if (!lifecycle.admit(ch)) {
            return;
        }
        InetSocketAddress local = new InetSocketAddress(UnixConnection.LOOPBACK, number);
        SslHandler tls = sslHandler(serverContext, ch);
        CompletableFuture<UnixConnection> established = new CompletableFuture<>();
        ch.pipeline().addLast("tls", tls).addLast("kizuna", new UnixConnection(this, ch, tls, Direction.INBOUND,
                new Endpoint(PROTOCOL_NAME, local).toString(), null, established, local, UnixConnection.UNNAMED));
        lifecycle.handOver(established, acceptor);
    }

    // ------------------------------------------------------------------ outbound

    /** One dial: the peer's unix endpoints in order, within one overall timeout. */
    private final class Dial extends EndpointDial<UnixConnection> {

        Dial(PeerAddress peer, List<Endpoint> endpoints, Duration timeout) {
            super(lifecycle, group, peer, endpoints, timeout, settings.connectTimeoutMillis());
        }

        @Override
        protected void attempt(Endpoint endpoint, int connectTimeoutMillis,
                CompletableFuture<UnixConnection> established) {
            PeerAddress peer = peer();
            String notLocal = SocketPaths.notLocal(endpoint.address());
            if (notLocal != null) {
                lifecycle.release();
                established.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + endpoint
                        + ": " + notLocal, null));
                return;
            }
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
            Path socket = SocketPaths.socket(settings.directory(), endpoint.address().getPort());
            Bootstrap b = new Bootstrap()
                    .group(group)
                    .channel(EpollDomainSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .option(ChannelOption.AUTO_READ, false)
                    .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK,
                            new WriteBufferWaterMark(settings.writeLowWaterMark(), settings.writeHighWaterMark()))
                    .handler(new ChannelInitializer<DomainSocketChannel>() {
                        @Override
                        protected void initChannel(DomainSocketChannel ch) {
                            SslHandler tls = sslHandler(context, ch);
                            ch.pipeline().addLast("tls", tls).addLast("kizuna", new UnixConnection(UnixTransport.this,
                                    ch, tls, Direction.OUTBOUND, endpoint.toString(), trust, established,
                                    UnixConnection.UNNAMED, endpoint.address()));
                        }
                    });
            ChannelFuture connecting = b.connect(new DomainSocketAddress(socket.toFile()));
            Channel ch = connecting.channel();
            current(ch);
            lifecycle.track(ch); // the slot was reserved for this channel; it is given back when the channel closes
            connecting.addListener((ChannelFuture f) -> {
                if (!f.isSuccess()) {
                    established.completeExceptionally(connectError(endpoint, socket, connectTimeoutMillis,
                            f.cause()));
                }
            });
        }
    }

    private static TransportException connectError(Endpoint endpoint, Path socket, int millis, Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return new TransportException.ConnectionTimeout("connect to " + endpoint + " (" + socket + ")",
                    Duration.ofMillis(millis));
        }
        String text = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
        String reason = text.contains("no such file") ? "no socket " + socket
                : text.contains("refused") ? "connection refused at " + socket + " (a stale socket: its node is gone)"
                : Causes.describe(cause) + " (" + socket + ")";
        return new TransportException.ConnectionFailed("connect to " + endpoint + " failed: " + reason
                + "; check that the peer runs on this host, listens there and uses the same socket directory",
                cause);
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
        return TlsOverTcp.handler(context, ch, settings.handshakeTimeoutMillis(), settings.closeTimeoutMillis());
    }

    // ------------------------------------------------------------------ bookkeeping

    void opened(UnixConnection c) {
        lifecycle.opened(c);
    }

    void closed(UnixConnection c) {
        lifecycle.closed(c);
    }

    void refusedHandshake() {
        lifecycle.refusedHandshake();
    }

    UnixSettings settings() {
        return settings;
    }

    NodeIdentity identity() {
        return identity;
    }

    /** @return connections open now, handshakes included */
    int openChannels() {
        return lifecycle.open();
    }
}
