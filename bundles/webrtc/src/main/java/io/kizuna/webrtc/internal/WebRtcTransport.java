package io.kizuna.webrtc.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import dev.onvoid.webrtc.PeerConnectionFactory;
import dev.onvoid.webrtc.PortAllocatorConfig;
import dev.onvoid.webrtc.RTCBundlePolicy;
import dev.onvoid.webrtc.RTCConfiguration;
import dev.onvoid.webrtc.RTCIceServer;
import dev.onvoid.webrtc.RTCIceTransportPolicy;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The WebRTC transport: DataChannels (SCTP over DTLS over ICE) through libwebrtc
 * (webrtc-java, embedded).
 *
 * <p>A {@code webrtc://ip:port} endpoint is a WebSocket signaling server at that
 * TCP address (path {@value WsSignaling#PATH}), which browsers can use as well.
 * Offers, answers and trickled ICE candidates are {@link Signal}s signed by the
 * node key; the DTLS certificate libwebrtc negotiated is checked against the
 * fingerprint in the signed SDP, which binds the DataChannels to the PeerId.
 * The manager's connection can also carry the signaling, so a peer already
 * reached over TCP, QUIC or a relay can be upgraded without the WebSocket; a
 * node behind a NAT, with no webrtc endpoint anyone can reach, accepts WebRTC
 * that way only ({@link #acceptSignaled}).
 *
 * <p>When libwebrtc cannot load (a missing system library, another platform),
 * the transport registers anyway and reports itself unavailable with the reason.
 */
@Component(service = {Transport.class, StreamHandler.class}, configurationPid = WebRtcTransport.PID,
        property = {Transport.PROTOCOL + "=" + WebRtcTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + WebRtcSettings.DEFAULT_PRIORITY,
                StreamHandler.PROTOCOL + "=" + StreamSignaling.PROTOCOL})
@Designate(ocd = WebRtcConfig.class)
public final class WebRtcTransport implements Transport, StreamHandler {

    /** The configuration PID. */
    static final String PID = "io.kizuna.webrtc";

    /** The protocol name in endpoints: {@code webrtc://ip:port}. */
    static final String PROTOCOL_NAME = "webrtc";

    private static final System.Logger LOG = System.getLogger(WebRtcTransport.class.getName());
    private static final String LOOPBACK = "127.0.0.1";
    private static final Cidr LOOPBACK_NETWORK = Cidr.parse("127.0.0.0/8");
    private static final Pattern IP_LITERAL = Pattern.compile("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*");

    private final NodeIdentity identity;
    private final WebRtcSettings settings;
    private final NativeWebRtc natives;
    private final EventLoopGroup group;
    private final ScheduledExecutorService loop;
    private final AtomicInteger peers = new AtomicInteger();
    private final Set<WebRtcListener> listeners = ConcurrentHashMap.newKeySet();
    private final List<Consumer<Connection>> signaledAcceptors = new CopyOnWriteArrayList<>();
    private final Set<WebRtcPeer> open = ConcurrentHashMap.newKeySet();
    /** Peer connections, negotiations included, per peer that signaled them over the manager's connection. */
    private final Map<PeerId, Integer> signaledPerPeer = new HashMap<>();
    private final AtomicLong refusedPerPeer = new AtomicLong();
    private volatile boolean active = true;

    /** The manager, whose connections can carry signaling to peers it already reached. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ConnectionManager manager;

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param identity this node's identity
     */
    @Activate
    public WebRtcTransport(WebRtcConfig config, @Reference NodeIdentity identity) {
        this(identity, WebRtcSettings.from(config));
    }

    /**
     * @param identity this node's identity
     * @param settings the settings
     */
    WebRtcTransport(NodeIdentity identity, WebRtcSettings settings) {
        this.identity = Objects.requireNonNull(identity, "identity");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.natives = NativeWebRtc.load(settings.nativeLibrary());
        if (natives.problem() != null) {
            LOG.log(System.Logger.Level.WARNING, "webrtc transport unavailable: {0}", natives.problem());
            this.group = null;
            this.loop = null;
            return;
        }
        this.group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("kizuna-webrtc-signal", true),
                NioIoHandler.newFactory());
        this.loop = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kizuna-webrtc");
            t.setDaemon(true);
            return t;
        });
    }

    /** Closes every peer connection and listener, then releases libwebrtc; once. */
    @Deactivate
    synchronized void deactivate() {
        if (!active) {
            return;
        }
        active = false;
        signaledAcceptors.clear();
        listeners.forEach(WebRtcListener::close);
        if (loop == null) {
            return;
        }
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (WebRtcPeer p : open) {
            p.close();
            closing.add(p.closeFuture());
        }
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                    .get(settings.closeTimeoutMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "webrtc: {0} peer connections did not close in time",
                    open.size());
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        CompletableFuture<Void> disposed = CompletableFuture.runAsync(natives::dispose, loop);
        try {
            disposed.get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "webrtc: libwebrtc did not release its factory in time", e);
        }
        loop.shutdownNow();
    }

    /** @param m the manager whose connections carry signaling (outside the framework: tests) */
    void manager(ConnectionManager m) {
        this.manager = m;
    }

    // ------------------------------------------------------------------ for peers

    NodeIdentity identity() {
        return identity;
    }

    WebRtcSettings settings() {
        return settings;
    }

    ScheduledExecutorService loop() {
        return loop;
    }

    /** @return the event loop of the WebSocket signaling */
    EventLoopGroup signalingGroup() {
        return group;
    }

    PeerConnectionFactory factory() {
        return natives.factory();
    }

    boolean reservePeer() {
        while (true) {
            int n = peers.get();
            if (n >= settings.maxConnections()) {
                LOG.log(System.Logger.Level.WARNING, "webrtc: refusing a peer connection, maxConnections={0} "
                        + "reached", settings.maxConnections());
                return false;
            }
            if (peers.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    void releasePeer() {
        peers.decrementAndGet();
    }

    void track(WebRtcPeer p) {
        open.add(p);
        p.closeFuture().whenComplete((v, e) -> open.remove(p));
    }

    /** The ICE configuration of a new peer connection. */
    RTCConfiguration rtcConfiguration() {
        RTCConfiguration c = new RTCConfiguration();
        c.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE;
        c.iceTransportPolicy = settings.relayOnly() ? RTCIceTransportPolicy.RELAY : RTCIceTransportPolicy.ALL;
        List<RTCIceServer> servers = new ArrayList<>();
        for (String s : settings.stunServers()) {
            RTCIceServer server = new RTCIceServer();
            server.urls.add("stun:" + s);
            servers.add(server);
        }
        for (String s : settings.turnServers()) {
            RTCIceServer server = new RTCIceServer();
            server.urls.add("turn:" + s + "?transport=udp");
            server.username = settings.turnUsername();
            server.password = settings.turnPassword();
            servers.add(server);
        }
        c.iceServers = servers;
        PortAllocatorConfig ports = new PortAllocatorConfig(0, 0, 0).setDisableTcp(true);
        if (settings.loopbackCandidates()) {
            // One socket per family bound to the any address, so 127.0.0.1 reaches it.
            ports.setDisableAdapterEnumeration(true).setEnableAnyAddressPorts(true);
        }
        c.portAllocatorConfig = ports;
        return c;
    }

    /**
     * What to tell the peer of a local candidate: the candidate as it is, or (with
     * {@code loopbackCandidates}) an IPv4 host candidate moved to 127.0.0.1, or
     * nothing when it lies outside the candidate networks.
     *
     * @param candidate a local ICE candidate line
     * @return the line to signal, if any
     */
    Optional<String> announced(String candidate) {
        String[] f = candidate.trim().split(" ");
        if (settings.loopbackCandidates()) {
            if (f.length < 8 || !f[7].equals("host") || !f[4].matches("[0-9.]+")) {
                return Optional.empty();
            }
            f[4] = LOOPBACK;
            return Optional.of(String.join(" ", f));
        }
        return candidateAllowed(candidate) ? Optional.of(candidate) : Optional.empty();
    }

    /**
     * @param candidate an ICE candidate line ({@code candidate:... <ip> <port> typ ...})
     * @return whether its address lies in the configured candidate networks (or on
     *         loopback, with {@code loopbackCandidates})
     */
    boolean candidateAllowed(String candidate) {
        List<Cidr> networks = settings.loopbackCandidates() ? List.of(LOOPBACK_NETWORK)
                : settings.candidateNetworks();
        if (networks.isEmpty()) {
            return true;
        }
        String[] f = candidate.trim().split(" ");
        if (f.length < 8 || !IP_LITERAL.matcher(f[4]).matches()) {
            return false; // mDNS names and malformed lines are not in any configured network
        }
        try {
            InetAddress a = InetAddress.getByName(f[4]);
            return networks.stream().anyMatch(n -> n.contains(a));
        } catch (java.net.UnknownHostException e) {
            return false;
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
        return new TransportCapabilities(true, true, true, false, true, settings.maxMessageSize());
    }

    @Override
    public boolean isAvailable() {
        return natives.problem() == null;
    }

    @Override
    public Optional<String> unavailableReason() {
        return Optional.ofNullable(natives.problem());
    }

    private TransportException unavailable() {
        return new TransportException.WebRtcFailure("the webrtc transport is unavailable: " + natives.problem(),
                null);
    }

    /**
     * Dials over the manager's connection to the peer when it has one (the
     * address's webrtc endpoints are then the fallback), else over a webrtc
     * endpoint. An address without webrtc endpoints is dialed only over the
     * manager's connection: that is how a peer behind a NAT is reached.
     */
    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        List<Endpoint> endpoints = peer.endpoints(PROTOCOL_NAME);
        ConnectionManager m = manager;
        boolean reached = m != null && m.connections(peer.peerId()).stream()
                .map(ConnectionInfo::protocol).anyMatch(p -> !p.equals(PROTOCOL_NAME));
        if (endpoints.isEmpty() && !reached) {
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(PROTOCOL_NAME, peer));
        }
        if (!isAvailable()) {
            return CompletableFuture.failedFuture(unavailable());
        }
        if (!active) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("the webrtc transport "
                    + "is stopping", null));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        if (!reached) {
            return attempt(peer, endpoints, 0, deadline, new ArrayList<>());
        }
        // Signal over the connection the manager already has; the WebSocket endpoint is the fallback.
        return m.openStream(PeerAddress.of(peer.peerId()), StreamSignaling.PROTOCOL).toCompletableFuture()
                .thenCompose(stream -> dial(new StreamSignaling(stream, settings.maxSignalingMessage()), peer,
                        Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))))
                .handle((c, err) -> {
                    if (err == null) {
                        return CompletableFuture.completedFuture(c);
                    }
                    TransportException e = TransportException.unwrap(err);
                    if (e instanceof TransportException.PeerAuthenticationFailed || System.nanoTime() >= deadline
                            || endpoints.isEmpty()) {
                        return CompletableFuture.<Connection>failedFuture(e);
                    }
                    LOG.log(System.Logger.Level.DEBUG, "webrtc: signaling to {0} over its connection failed ({1});"
                            + " trying its webrtc endpoints", peer.peerId().shortForm(), e.getMessage());
                    List<TransportException> failures = new ArrayList<>();
                    failures.add(e);
                    return attempt(peer, endpoints, 0, deadline, failures);
                }).thenCompose(f -> f);
    }

    private CompletableFuture<Connection> attempt(PeerAddress peer, List<Endpoint> endpoints, int i, long deadline,
            List<TransportException> failures) {
        Endpoint e = endpoints.get(i);
        Duration left = Duration.ofNanos(Math.max(1, deadline - System.nanoTime()));
        CompletableFuture<Connection> one = WsSignaling.connect(group, e, left, settings.maxSignalingMessage())
                .thenCompose(ch -> dial(ch, peer, Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))));
        return one.handle((c, err) -> {
            if (err == null) {
                return CompletableFuture.completedFuture(c);
            }
            failures.add(TransportException.unwrap(err));
            if (i + 1 < endpoints.size() && System.nanoTime() < deadline
                    && !(failures.get(failures.size() - 1) instanceof TransportException.PeerAuthenticationFailed)) {
                return attempt(peer, endpoints, i + 1, deadline, failures);
            }
            return CompletableFuture.<Connection>failedFuture(TransportException.ConnectionFailed.summarize(
                    peer.peerId(), PROTOCOL_NAME, endpoints.size(), failures));
        }).thenCompose(f -> f);
    }

    /** Dials over an open signaling path. */
    CompletableFuture<Connection> dial(SignalingChannel signaling, PeerAddress peer, Duration timeout) {
        CompletableFuture<Connection> c = WebRtcPeer.dial(this, signaling, peer.peerId(), timeout)
                .thenApply(x -> x);
        c.whenComplete((x, e) -> {
            if (e != null) {
                signaling.close();
            }
        });
        return c;
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        if (!isAvailable()) {
            return CompletableFuture.failedFuture(unavailable());
        }
        CompletableFuture<WebRtcListener> ref = new CompletableFuture<>();
        SignalingGate gate = new SignalingGate(settings.maxPendingSignaling(), settings.handshakeTimeoutMillis(),
                settings.allowedOrigins());
        return WsSignaling.serve(group, local, settings.maxSignalingMessage(), gate, ch -> ref.thenAccept(l -> {
            if (!l.isOpen() || !active) {
                ch.close();
                return;
            }
            if (open.size() >= settings.maxConnections()) {
                // negotiations (a WebSocket waiting for its offer counts) and peer connections together
                LOG.log(System.Logger.Level.WARNING, "webrtc: closing signaling from {0}: maxConnections={1} "
                        + "negotiations and connections are open", ch.remoteAddress(), settings.maxConnections());
                ch.close();
                return;
            }
            WebRtcPeer.answer(this, ch).whenComplete((c, e) -> {
                if (c != null) {
                    l.accepted(c);
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "webrtc: incoming negotiation from {0} failed: {1}",
                            ch.remoteAddress(), TransportException.unwrap(e).getMessage());
                }
            });
        })).handle((server, err) -> {
            if (err != null) {
                throw new CompletionException(TransportException.unwrap(err));
            }
            WebRtcListener l = new WebRtcListener(server, acceptor, gate);
            listeners.add(l);
            server.closeFuture().addListener(f -> listeners.remove(l));
            ref.complete(l);
            return (Listener) l;
        });
    }

    /**
     * Accepts peer connections signaled over the manager's connections while the
     * handle is not run, when {@code acceptSignaled} is on (the default): a node
     * with no webrtc endpoint then accepts WebRTC from peers it is connected to
     * anyhow. Without it, a node accepts WebRTC only while it listens on a webrtc
     * endpoint.
     */
    @Override
    public Optional<Runnable> acceptSignaled(Consumer<Connection> acceptor) {
        if (!isAvailable() || !settings.acceptSignaled()) {
            return Optional.empty();
        }
        Consumer<Connection> a = acceptor::accept; // an identity of its own, to remove exactly this one
        signaledAcceptors.add(a);
        return Optional.of(() -> signaledAcceptors.remove(a));
    }

    /**
     * @return where a connection signaled over the manager's connection goes: an
     *         open listener, else a signaled acceptor
     */
    private Optional<Consumer<WebRtcConnection>> signaledAcceptor() {
        Optional<WebRtcListener> listener = listeners.stream().filter(WebRtcListener::isOpen).findFirst();
        if (listener.isPresent()) {
            return Optional.of(listener.get()::accepted);
        }
        return signaledAcceptors.stream().findFirst().map(a -> c -> {
            if (signaledAcceptors.contains(a)) {
                a.accept(c);
            } else {
                c.abort(); // the manager stopped accepting meanwhile
            }
        });
    }

    /**
     * A peer signals over a connection the manager has with it: answer, and hand
     * the connection to the first open listener, else to the manager's signaled
     * acceptor.
     */
    @Override
    public void handle(Connection stream, String protocol) {
        Optional<Consumer<WebRtcConnection>> acceptor = signaledAcceptor();
        if (!isAvailable() || !active || acceptor.isEmpty() || open.size() >= settings.maxConnections()) {
            LOG.log(System.Logger.Level.DEBUG, "webrtc: refusing signaling from {0}: {1}",
                    stream.info().peerId().shortForm(), !isAvailable() ? natives.problem()
                            : acceptor.isEmpty() ? "not listening on a webrtc endpoint and acceptSignaled is off"
                            : "maxConnections=" + settings.maxConnections() + " reached");
            stream.close();
            return;
        }
        SignalingChannel signaling = new StreamSignaling(stream, settings.maxSignalingMessage());
        PeerId from = stream.info().peerId();
        TransportException.LimitExceeded refusal = reserveSignaled(from);
        WebRtcPeer.answer(this, signaling, refusal).whenComplete((c, e) -> {
            if (c != null) {
                c.closeFuture().whenComplete((v, x) -> releaseSignaled(from));
                acceptor.get().accept(c);
            } else {
                if (refusal == null) {
                    releaseSignaled(from);
                }
                LOG.log(System.Logger.Level.DEBUG, "webrtc: negotiation from {0} over its connection failed: {1}",
                        from.shortForm(), TransportException.unwrap(e).getMessage());
            }
        });
    }

    /**
     * Takes one of the peer connections {@code peer} may set up by signaling over
     * the manager's connection.
     *
     * @return null when taken; else the refusal, which is counted and logged
     */
    private TransportException.LimitExceeded reserveSignaled(PeerId peer) {
        synchronized (signaledPerPeer) {
            int n = signaledPerPeer.getOrDefault(peer, 0);
            if (n < settings.maxConnectionsPerPeer()) {
                signaledPerPeer.put(peer, n + 1);
                return null;
            }
        }
        refusedPerPeer.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, "webrtc: refusing a connection signaled by {0}: "
                + "maxConnectionsPerPeer={1} reached", peer.shortForm(), settings.maxConnectionsPerPeer());
        return new TransportException.LimitExceeded("maxConnectionsPerPeer", settings.maxConnectionsPerPeer(),
                "a WebRTC connection signaled by " + peer + " to " + identity.peerId() + ", which has as many with "
                + "that peer open or being set up as it allows (it may raise maxConnectionsPerPeer in configuration "
                + PID + ")");
    }

    private void releaseSignaled(PeerId peer) {
        synchronized (signaledPerPeer) {
            signaledPerPeer.computeIfPresent(peer, (k, n) -> n > 1 ? n - 1 : null);
        }
    }

    /** @return signaled connections refused because their peer had maxConnectionsPerPeer already */
    long refusedPerPeer() {
        return refusedPerPeer.get();
    }

    @Override
    public String toString() {
        return "webrtc transport (" + (isAvailable() ? "available" : "unavailable: " + natives.problem()) + ")";
    }
}
