package io.kizuna.core.internal;

import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.ProtocolNegotiation;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The connection manager: picks transports per peer, races them in a staggered
 * way, pools the control connections it made or accepted, runs the control
 * protocol on them, serves perf and dispatches application streams to
 * {@link StreamHandler}s, and keeps metrics (also over JMX).
 *
 * <p>Every stream, pooled connection or not, starts with the dialer's OPEN frame
 * naming its protocol and the acceptor's OPEN_OK or OPEN_REFUSED answer.
 * {@value #CONTROL} streams become pooled control sessions, {@value #PERF}
 * streams are served here, other names go to the handler registered for them.
 *
 * <p>Nothing here blocks a transport's thread: work is composed on stages, and
 * the manager's one timer thread runs the delays and timeouts.
 */
@Component(service = ConnectionManager.class, immediate = true, configurationPid = ConnectionManagerImpl.PID)
@Designate(ocd = ManagerConfig.class)
public final class ConnectionManagerImpl implements ConnectionManager {

    /** The configuration PID. */
    public static final String PID = "io.kizuna.core";

    /** The framework property that replaces the configured listen endpoints. */
    public static final String LISTEN_PROPERTY = "kizuna.listen";

    /** The control protocol's stream name. */
    static final String CONTROL = "kizuna/control/1";

    /** The perf protocol's stream name. */
    static final String PERF = "kizuna/perf/1";

    /** Application protocol names with this prefix are the platform's. */
    static final String RESERVED_PREFIX = "kizuna/";

    /**
     * Platform protocols under {@link #RESERVED_PREFIX} that platform bundles serve through the whiteboard
     * and open with {@link #openStream}: the relay's and the hole punch's (nat bundle).
     */
    static final List<String> PLATFORM_HANDLED_PREFIXES = List.of("kizuna/relay/", "kizuna/punch/");

    /** @return whether only the manager itself may serve or open streams of this protocol */
    static boolean reserved(String protocol) {
        return protocol.startsWith(RESERVED_PREFIX)
                && PLATFORM_HANDLED_PREFIXES.stream().noneMatch(protocol::startsWith);
    }

    /** The control protocol version this node speaks in HELLO. */
    static final int CONTROL_VERSION = 1;

    private static final System.Logger LOG = System.getLogger(ConnectionManagerImpl.class.getName());

    private final ManagerSettings settings;
    private final PeerId local;
    private final ScheduledThreadPoolExecutor timer;
    private final SecureRandom random = new SecureRandom();
    private final Wire wire;
    private final PeerHistory history;
    private final KnownPeers known;
    private final ManagerMetrics metrics;
    private final HandlerRegistry handlers = new HandlerRegistry();
    private final Addresses addresses;
    private final StreamMux mux;

    private final Object lock = new Object();
    private final List<TransportEntry> transports = new ArrayList<>();
    private final Map<Endpoint, ListenSlot> listening = new LinkedHashMap<>();
    private final Map<PeerId, List<PoolSlot>> pool = new HashMap<>();
    private final Map<DialKey, CompletableFuture<ControlSession>> dials = new HashMap<>();
    private final Set<PeerId> upgrading = new HashSet<>();
    private int pooledTotal;
    private int streams;
    private int opening;
    private final PeerBudgets budgets;

    private volatile boolean active = true;
    private final ObjectName mbeanName;

    /** A configured endpoint and the listener bound for it. */
    private static final class ListenSlot {
        final Endpoint configured;
        final TransportEntry entry;
        final CompletableFuture<Listener> listener = new CompletableFuture<>();

        ListenSlot(Endpoint configured, TransportEntry entry) {
            this.configured = configured;
            this.entry = entry;
        }
    }

    /** A place in the pool: reserved while a connection is being set up, then holding its session. */
    private static final class PoolSlot {
        final PeerId peer;
        ControlSession session;
        boolean released;

        PoolSlot(PeerId peer) {
            this.peer = peer;
        }
    }

    private record DialKey(PeerId peer, Set<String> protocols) {
    }

    // ------------------------------------------------------------------ life cycle

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param context  the bundle context, for the framework property {@value #LISTEN_PROPERTY}
     * @param identity this node's identity
     */
    @Activate
    public ConnectionManagerImpl(ManagerConfig config, BundleContext context, @Reference NodeIdentity identity) {
        this(ManagerSettings.from(config, context.getProperty(LISTEN_PROPERTY)), identity.peerId());
    }

    /**
     * Builds a manager outside the framework (tests): bind transports with
     * {@link #bindTransport} and handlers with {@link #bindStreamHandler}.
     *
     * @param settings the settings
     * @param local    this node's PeerId, as its transports authenticate it
     */
    ConnectionManagerImpl(ManagerSettings settings, PeerId local) {
        this.settings = settings;
        this.local = local;
        this.timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "kizuna-manager-" + local.shortForm());
            t.setDaemon(true);
            return t;
        });
        this.timer.setRemoveOnCancelPolicy(true);
        this.wire = new Wire(settings, timer, this::violation);
        this.history = new PeerHistory(settings.maxKnownPeers(), settings.failureMemory());
        this.known = new KnownPeers(settings.maxKnownPeers());
        this.metrics = new ManagerMetrics(settings.maxKnownPeers());
        this.budgets = new PeerBudgets(settings.maxOpeningStreamsPerPeer(), settings.maxStreamsPerPeer(),
                settings.maxPerfBytesPerPeerPerMinute(), settings.maxKnownPeers(), System::nanoTime);
        this.addresses = new Addresses(timer);
        this.mux = new StreamMux(settings, wire, timer, this::violation);
        this.mbeanName = registerMBean();
        LOG.log(System.Logger.Level.INFO, "connection manager of " + local + " started; listen endpoints "
                + settings.listen());
    }

    /** Closes listeners, then every connection and stream gracefully; stops the timer; unregisters the MBean. */
    @Deactivate
    void deactivate() {
        List<ListenSlot> slots;
        List<ControlSession> sessions;
        List<TransportEntry> signaled;
        synchronized (lock) {
            if (!active) {
                return;
            }
            active = false;
            slots = new ArrayList<>(listening.values());
            listening.clear();
            sessions = sessionsWhere(s -> true);
            signaled = new ArrayList<>(transports);
        }
        signaled.forEach(TransportEntry::stopSignaled);
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (ListenSlot s : slots) {
            closing.add(s.listener.thenCompose(Listener::close).exceptionally(e -> null));
        }
        for (ControlSession s : sessions) {
            closing.add(s.close("the node is shutting down"));
        }
        for (Connection c : metrics.liveStreams()) {
            closing.add(c.close().toCompletableFuture().exceptionally(e -> null));
        }
        awaitQuietly(closing, "closing the connections of the connection manager");
        // Whatever did not close in order within the time allowed is closed now.
        sessions.forEach(s -> s.connection().close());
        timer.shutdownNow();
        unregisterMBean();
        LOG.log(System.Logger.Level.INFO, "connection manager of " + local + " stopped");
    }

    // ------------------------------------------------------------------ transports (whiteboard)

    /**
     * A transport service arrived: it is used from the next dial on, and listens on
     * the configured endpoints of its protocol.
     *
     * @param transport  the service
     * @param properties its service properties ({@link Transport#PROTOCOL}, {@link Transport#PRIORITY})
     */
    @Reference(name = "transport", service = Transport.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY,
            unbind = "unbindTransport", updated = "updatedTransport")
    void bindTransport(Transport transport, Map<String, Object> properties) {
        TransportEntry e = new TransportEntry(transport, properties);
        List<TransportEntry> replaced = new ArrayList<>();
        synchronized (lock) {
            if (!active) {
                return;
            }
            transports.removeIf(x -> x.transport == transport && replaced.add(x));
            transports.add(e);
        }
        replaced.forEach(TransportEntry::stopSignaled);
        LOG.log(System.Logger.Level.INFO, "transport " + e + " is available" + (transport.isAvailable() ? ""
                : " but not usable: " + transport.unavailableReason().orElse("no reason given")));
        acceptSignaled(e);
        listenQuietly();
    }

    /**
     * A transport's service properties changed: its priority is read again.
     *
     * @param transport  the service
     * @param properties its new properties
     */
    void updatedTransport(Transport transport, Map<String, Object> properties) {
        entryOf(transport).ifPresent(e -> e.priority(TransportEntry.priorityOf(transport, properties)));
    }

    /**
     * A transport service left: it is dropped from selection, then its listeners
     * close, then its pooled connections close gracefully (GOAWAY, then an
     * orderly end of stream), in that order.
     *
     * @param transport  the service
     * @param properties its service properties
     */
    void unbindTransport(Transport transport, Map<String, Object> properties) {
        TransportEntry e;
        List<ListenSlot> slots = new ArrayList<>();
        synchronized (lock) {
            e = transports.stream().filter(x -> x.transport == transport).findFirst().orElse(null);
            if (e == null) {
                return;
            }
            transports.remove(e);
            e.remove();
            listening.values().removeIf(s -> {
                if (s.entry == e) {
                    slots.add(s);
                    return true;
                }
                return false;
            });
        }
        List<CompletableFuture<?>> listeners = new ArrayList<>();
        for (ListenSlot s : slots) {
            listeners.add(s.listener.thenCompose(Listener::close).exceptionally(x -> null));
        }
        e.stopSignaled();
        awaitQuietly(listeners, "closing the listeners of transport " + e.protocol);
        List<ControlSession> sessions;
        synchronized (lock) {
            sessions = sessionsWhere(s -> s.transport() == e);
        }
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (ControlSession s : sessions) {
            closing.add(s.close("transport " + e.protocol + " is leaving this node"));
        }
        awaitQuietly(closing, "closing the connections of transport " + e.protocol);
        LOG.log(System.Logger.Level.INFO, "transport " + e.protocol + " left: " + slots.size() + " listeners and "
                + sessions.size() + " pooled connections closed");
        if (active) {
            listenQuietly(); // another transport of the same protocol may take the endpoints over
        }
    }

    /** Lets the transport accept connections signaled over this manager's connections, if it can. */
    private void acceptSignaled(TransportEntry e) {
        if (!e.usable()) {
            return;
        }
        try {
            e.transport.acceptSignaled(c -> accept(c, e)).ifPresent(stop -> {
                e.acceptingSignaled(stop);
                LOG.log(System.Logger.Level.INFO, "transport " + e.protocol + " accepts connections signaled "
                        + "over others");
            });
        } catch (RuntimeException x) {
            LOG.log(System.Logger.Level.WARNING, "transport " + e.protocol + " failed to accept signaled "
                    + "connections", x);
        }
    }

    private Optional<TransportEntry> entryOf(Transport t) {
        synchronized (lock) {
            return transports.stream().filter(x -> x.transport == t).findFirst();
        }
    }

    /** @return the best usable transport for a protocol, if any */
    private TransportEntry best(String protocol) {
        TransportEntry best = null;
        for (TransportEntry e : transports) {
            if (e.protocol.equals(protocol) && e.usable() && (best == null || e.priority() > best.priority())) {
                best = e;
            }
        }
        return best;
    }

    List<String> transportSummaries() {
        synchronized (lock) {
            return transports.stream().map(e -> e.protocol + " priority " + e.priority() + " "
                    + (e.transport.isAvailable() ? "available"
                            : "unavailable: " + e.transport.unavailableReason().orElse("?"))).toList();
        }
    }

    // ------------------------------------------------------------------ stream handlers (whiteboard)

    /**
     * An application's handler arrived.
     *
     * @param handler    the handler
     * @param properties its service properties ({@link StreamHandler#PROTOCOL})
     */
    @Reference(name = "streamHandler", service = StreamHandler.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, unbind = "unbindStreamHandler", updated = "updatedStreamHandler")
    void bindStreamHandler(StreamHandler handler, Map<String, Object> properties) {
        handlers.add(handler, properties);
    }

    void updatedStreamHandler(StreamHandler handler, Map<String, Object> properties) {
        handlers.add(handler, properties);
    }

    void unbindStreamHandler(StreamHandler handler, Map<String, Object> properties) {
        handlers.remove(handler);
    }

    // ------------------------------------------------------------------ listening

    @Override
    public CompletionStage<List<Endpoint>> startListening() {
        return listen(true);
    }

    private void listenQuietly() {
        listen(false);
    }

    private CompletableFuture<List<Endpoint>> listen(boolean reportFailures) {
        List<ListenSlot> started = new ArrayList<>();
        List<ListenSlot> all = new ArrayList<>();
        synchronized (lock) {
            if (!active) {
                return CompletableFuture.failedFuture(stopped("listen"));
            }
            for (Endpoint cfg : settings.listen()) {
                ListenSlot s = listening.get(cfg);
                if (s == null) {
                    TransportEntry e = best(cfg.protocol());
                    if (e == null) {
                        continue;
                    }
                    s = new ListenSlot(cfg, e);
                    listening.put(cfg, s);
                    started.add(s);
                }
                all.add(s);
            }
        }
        for (ListenSlot s : started) {
            bind(s);
        }
        List<String> failures = new ArrayList<>();
        CompletableFuture<?>[] waits = all.stream().map(s -> s.listener.handle((l, e) -> {
            if (e != null && started.contains(s)) {
                synchronized (failures) {
                    failures.add(s.configured + " (" + Async.transportFailure(e).getMessage() + ")");
                }
            }
            return null;
        })).toArray(CompletableFuture[]::new);
        return CompletableFuture.allOf(waits).thenApply(v -> {
            List<Endpoint> now = listeningEndpoints();
            if (reportFailures && !failures.isEmpty()) {
                throw new CompletionException(new TransportException.Io("could not listen on " + String.join("; ",
                        failures) + "; listening on " + (now.isEmpty() ? "nothing" : now.toString()), null));
            }
            return now;
        });
    }

    private void bind(ListenSlot s) {
        CompletableFuture<Listener> f;
        try {
            f = s.entry.transport.listen(s.configured, c -> accept(c, s.entry)).toCompletableFuture();
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((l, e) -> {
            if (e != null) {
                synchronized (lock) {
                    listening.remove(s.configured, s);
                }
                LOG.log(System.Logger.Level.WARNING, "cannot listen on " + s.configured + ": "
                        + Async.transportFailure(e).getMessage());
                s.listener.completeExceptionally(Async.unwrap(e));
                return;
            }
            boolean keep;
            synchronized (lock) {
                keep = active && !s.entry.removed() && listening.get(s.configured) == s;
            }
            if (!keep) {
                l.close();
                s.listener.completeExceptionally(new TransportException.Io("stopped listening on " + s.configured
                        + ": its transport left", null));
                return;
            }
            LOG.log(System.Logger.Level.INFO, "listening on " + l.endpoint());
            s.listener.complete(l);
        });
    }

    private List<Endpoint> listeningEndpoints() {
        List<ListenSlot> slots;
        synchronized (lock) {
            slots = new ArrayList<>(listening.values());
        }
        List<Endpoint> out = new ArrayList<>();
        for (ListenSlot s : slots) {
            Listener l = s.listener.getNow(null);
            if (l != null && !s.listener.isCompletedExceptionally()) {
                out.add(l.endpoint());
            }
        }
        return out;
    }

    @Override
    public PeerId localPeerId() {
        return local;
    }

    @Override
    public PeerAddress localAddress() {
        Set<Endpoint> out = new LinkedHashSet<>();
        for (Endpoint e : listeningEndpoints()) {
            out.addAll(addresses.advertise(e));
        }
        return new PeerAddress(local, out.stream().limit(ControlCodec.MAX_LIST).toList());
    }

    // ------------------------------------------------------------------ accepting

    /** Every connection or stream a listener accepted starts here: read its OPEN, then dispatch. */
    private void accept(Connection c, TransportEntry e) {
        accept(c, e, null);
    }

    /**
     * @param parent for a stream the peer opened on a multiplexed connection: that
     *               connection, whose pooled session must not idle out while the stream is open
     */
    private void accept(Connection c, TransportEntry e, Connection parent) {
        if (!active || e.removed()) {
            c.close();
            return;
        }
        if (c instanceof MultiplexedConnection m) {
            m.onStream(s -> accept(s, e, m));
        }
        boolean full;
        synchronized (lock) {
            full = opening >= settings.maxStreams();
            if (!full) {
                opening++;
            }
        }
        if (full) {
            LOG.log(System.Logger.Level.WARNING, "refused a stream from " + c.info().peerId().shortForm()
                    + ": " + settings.maxStreams() + " streams are already naming their protocol (maxStreams)");
            wire.sendAndClose(c, new ControlMessage.Error(ControlMessage.Codes.LIMIT, "too many streams are being "
                    + "opened on this node; try again later"));
            return;
        }
        PeerId peer = c.info().peerId();
        TransportException.LimitExceeded perPeer = budgets.startOpening(peer);
        if (perPeer != null) {
            synchronized (lock) {
                opening--;
            }
            refuse(c, perPeer);
            return;
        }
        Duration t = settings.openTimeout();
        Async.within(wire.exactReader(c).next(), t, timer, () -> new TransportException.NegotiationTimeout(
                "waiting for the OPEN of a stream from " + peer, t)).whenComplete((m, err) -> {
                    synchronized (lock) {
                        opening--;
                    }
                    budgets.endOpening(peer);
                    dispatch(c, e, parent, m, err);
                });
    }

    private void dispatch(Connection c, TransportEntry e, Connection parent, ControlMessage m, Throwable failure) {
        PeerId peer = c.info().peerId();
        if (failure != null) {
            Throwable x = Async.unwrap(failure);
            if (x instanceof TransportException.ProtocolViolation v) {
                wire.violation(c, v);
            } else if (x instanceof TransportException.NegotiationTimeout to) {
                LOG.log(System.Logger.Level.DEBUG, to.getMessage());
                wire.sendAndClose(c, new ControlMessage.Error(ControlMessage.Codes.TIMEOUT, to.getMessage()));
            } else {
                c.close();
            }
            return;
        }
        if (m == null) {
            // A dial that lost its race is closed before its OPEN: nothing to report.
            LOG.log(System.Logger.Level.DEBUG, "a stream from " + peer.shortForm() + " closed before naming a "
                    + "protocol");
            c.close();
            return;
        }
        if (!(m instanceof ControlMessage.Open open)) {
            wire.violation(c, new TransportException.ProtocolViolation("expected OPEN as the first frame of a "
                    + "stream, got " + m.type()));
            return;
        }
        String p = open.protocol();
        if (!active || e.removed()) {
            wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.GOING_AWAY, "node "
                    + local.shortForm() + " is shutting down or its " + e.protocol + " transport is leaving"));
            return;
        }
        if (CONTROL.equals(p)) {
            acceptControl(c, e);
            return;
        }
        if (StreamMux.PROTOCOL.equals(p) && mux.serves(c, parent)) {
            // The connection is multiplexed from here on: its first stream names the protocol again.
            mux.accept(c).whenComplete((muxed, x) -> {
                if (x != null) {
                    c.close();
                } else {
                    accept(muxed, e, null);
                }
            });
            return;
        }
        if (PERF.equals(p)) {
            if (!reserveStream(c, p)) {
                return;
            }
            trackStream(c, peer, e.protocol, sessionOf(parent));
            Perf.serve(wire, c, settings.maxPerfBytes(), wanted -> budgets.perf(peer, wanted));
            return;
        }
        if (reserved(p)) {
            wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.UNSUPPORTED_PROTOCOL, "'" + p
                    + "' is not served here (names starting with " + RESERVED_PREFIX + " are the platform's)"));
            return;
        }
        Optional<StreamHandler> handler = handlers.find(p);
        if (handler.isEmpty()) {
            List<String> served = handlers.served();
            LOG.log(System.Logger.Level.DEBUG, "refused a '" + p + "' stream from " + peer.shortForm()
                    + ": no handler");
            wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.UNSUPPORTED_PROTOCOL,
                    "no handler for application protocol '" + p + "' on node " + local.shortForm()
                            + (served.isEmpty() ? "; it serves none" : "; it serves " + String.join(", ", served))));
            return;
        }
        if (!reserveStream(c, p)) {
            return;
        }
        trackStream(c, peer, e.protocol, sessionOf(parent));
        c.write(wire.encode(new ControlMessage.OpenOk())).whenComplete((v, x) -> {
            if (x != null) {
                c.close();
                return;
            }
            try {
                handler.get().handle(c, p);
            } catch (RuntimeException ex) {
                LOG.log(System.Logger.Level.WARNING, "stream handler for '" + p + "' failed on a stream from "
                        + peer.shortForm() + "; closing it", ex);
                c.close();
            }
        });
    }

    private void acceptControl(Connection c, TransportEntry e) {
        PeerId peer = c.info().peerId();
        PoolSlot slot;
        try {
            slot = reserve(peer, "accepting a control connection from " + peer.shortForm());
        } catch (TransportException.LimitExceeded limit) {
            LOG.log(System.Logger.Level.INFO, limit.getMessage());
            wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT, limit.getMessage(),
                    limit.limit(), limit.value()));
            return;
        } catch (TransportException stopped) {
            wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.GOING_AWAY,
                    stopped.getMessage()));
            return;
        }
        c.write(wire.encode(new ControlMessage.OpenOk())).whenComplete((v, x) -> {
            if (x != null) {
                release(slot);
                c.close();
                return;
            }
            ControlSession s = new ControlSession(this, c, e);
            s.start();
            Duration t = settings.openTimeout();
            Async.within(s.hello(), t, timer, () -> new TransportException.NegotiationTimeout("waiting for the HELLO "
                    + "of " + peer, t)).whenComplete((h, err) -> {
                        if (err != null) {
                            release(slot);
                            s.close(null);
                            LOG.log(System.Logger.Level.DEBUG, "control connection from " + peer.shortForm()
                                    + " failed before its hello: " + Async.unwrap(err).getMessage());
                        } else if (!promote(slot, s)) {
                            s.close("the " + e.protocol + " transport is leaving this node");
                        } else {
                            LOG.log(System.Logger.Level.INFO, "accepted control connection " + s.describe());
                        }
                    });
        });
    }

    private boolean reserveStream(Connection c, String protocol) {
        PeerId peer = c.info().peerId();
        TransportException.LimitExceeded perPeer = budgets.open(peer);
        if (perPeer != null) {
            refuse(c, perPeer);
            return false;
        }
        synchronized (lock) {
            if (streams < settings.maxStreams()) {
                streams++;
                c.closeFuture().whenComplete((v, x) -> budgets.closed(peer));
                return true;
            }
        }
        budgets.closed(peer);
        wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT, "node " + local.shortForm()
                + " has " + settings.maxStreams() + " streams open; a '" + protocol + "' stream was refused",
                "maxStreams", settings.maxStreams()));
        return false;
    }

    /** A stream refused at a limit of its peer: OPEN_REFUSED naming the limit (counted and logged by budgets). */
    private void refuse(Connection c, TransportException.LimitExceeded limit) {
        wire.sendAndClose(c, new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT, limit.getMessage(),
                limit.limit(), limit.value()));
    }

    private boolean reserveStream() {
        synchronized (lock) {
            if (streams < settings.maxStreams()) {
                streams++;
                return true;
            }
            return false;
        }
    }

    private void releaseStream() {
        synchronized (lock) {
            streams--;
        }
    }

    /** Counts a stream's bytes and gives its slot back when it closes. */
    private void trackStream(Connection c, PeerId peer, String protocol, ControlSession over) {
        metrics.track(c, peer, protocol, ManagerMetrics.Kind.STREAM);
        if (over != null) {
            over.streamOpened();
        }
        c.closeFuture().whenComplete((v, e) -> {
            releaseStream();
            if (over != null) {
                over.streamClosed();
            }
        });
    }

    // ------------------------------------------------------------------ pool

    private PoolSlot reserve(PeerId peer, String what) throws TransportException {
        synchronized (lock) {
            if (!active) {
                throw stopped(what);
            }
            if (pooledTotal >= settings.maxConnections()) {
                throw new TransportException.LimitExceeded("maxConnections", settings.maxConnections(), what + ": "
                        + pooledTotal + " connections are open or opening; disconnect some or raise "
                        + "maxConnections in configuration " + PID);
            }
            List<PoolSlot> slots = pool.computeIfAbsent(peer, k -> new ArrayList<>());
            if (slots.size() >= settings.maxConnectionsPerPeer()) {
                throw new TransportException.LimitExceeded("maxConnectionsPerPeer", settings.maxConnectionsPerPeer(),
                        what + ": " + slots.size() + " connections to " + peer.shortForm() + " are open or "
                                + "opening; disconnect some or raise maxConnectionsPerPeer in configuration " + PID);
            }
            PoolSlot s = new PoolSlot(peer);
            slots.add(s);
            pooledTotal++;
            return s;
        }
    }

    /** @return whether the session is pooled now; when not, the slot was given back */
    private boolean promote(PoolSlot slot, ControlSession s) {
        synchronized (lock) {
            if (slot.released || !active || s.transport().removed()) {
                releaseLocked(slot);
                return false;
            }
            slot.session = s;
        }
        metrics.established(s.peer(), s.protocol());
        metrics.track(s.connection(), s.peer(), s.protocol(), ManagerMetrics.Kind.CONTROL);
        s.connection().closeFuture().whenComplete((v, e) -> release(slot));
        return true;
    }

    private void release(PoolSlot slot) {
        synchronized (lock) {
            releaseLocked(slot);
        }
    }

    private void releaseLocked(PoolSlot slot) {
        if (slot.released) {
            return;
        }
        slot.released = true;
        List<PoolSlot> slots = pool.get(slot.peer);
        if (slots != null) {
            slots.remove(slot);
            if (slots.isEmpty()) {
                pool.remove(slot.peer);
            }
        }
        pooledTotal--;
    }

    private List<ControlSession> sessionsWhere(java.util.function.Predicate<ControlSession> p) {
        List<ControlSession> out = new ArrayList<>();
        for (List<PoolSlot> slots : pool.values()) {
            for (PoolSlot s : slots) {
                if (s.session != null && p.test(s.session)) {
                    out.add(s.session);
                }
            }
        }
        return out;
    }

    /** @return a usable pooled session to the peer over one of the protocols (any, if none named) */
    private ControlSession pooled(PeerId peer, Set<String> protocols) {
        ControlSession best = null;
        synchronized (lock) {
            for (PoolSlot slot : pool.getOrDefault(peer, List.of())) {
                ControlSession s = slot.session;
                if (s == null || !s.usable() || !s.serves(protocols)) {
                    continue;
                }
                if (best == null || s.transport().priority() > best.transport().priority()
                        || (s.transport().priority() == best.transport().priority()
                                && rttOf(s) < rttOf(best))) {
                    best = s;
                }
            }
        }
        return best;
    }

    /** @return the pooled session on a connection, or null */
    private ControlSession sessionOf(Connection c) {
        if (c == null) {
            return null;
        }
        synchronized (lock) {
            List<ControlSession> found = sessionsWhere(s -> s.connection() == c);
            return found.isEmpty() ? null : found.get(0);
        }
    }

    private static long rttOf(ControlSession s) {
        return s.rtt().map(Duration::toNanos).orElse(Long.MAX_VALUE);
    }

    @Override
    public List<ConnectionInfo> connections() {
        List<ControlSession> sessions;
        synchronized (lock) {
            sessions = sessionsWhere(s -> s.connection().isConnected());
        }
        return sessions.stream().map(ControlSession::info).toList();
    }

    @Override
    public List<ConnectionInfo> connections(PeerId peer) {
        List<ControlSession> sessions;
        synchronized (lock) {
            sessions = sessionsWhere(s -> s.peer().equals(peer) && s.connection().isConnected());
        }
        return sessions.stream().map(ControlSession::info).toList();
    }

    @Override
    public CompletionStage<Void> disconnect(PeerId peer) {
        List<ControlSession> sessions;
        synchronized (lock) {
            sessions = sessionsWhere(s -> s.peer().equals(peer));
        }
        return CompletableFuture.allOf(sessions.stream().map(s -> s.close("disconnect requested by "
                + local.shortForm())).toArray(CompletableFuture[]::new));
    }

    // ------------------------------------------------------------------ negotiation and dialing

    @Override
    public ProtocolNegotiation negotiateProtocol(PeerAddress peer) {
        PeerAddress target = target(peer);
        Set<String> offered = new LinkedHashSet<>(target.transportHints());
        if (peer.endpoints().isEmpty()) {
            synchronized (lock) {
                sessionsWhere(s -> s.peer().equals(peer.peerId()) && s.usable())
                        .forEach(s -> offered.add(s.protocol()));
            }
        }
        List<String> order = candidates(peer.peerId(), offered).stream().map(e -> e.protocol).toList();
        return new ProtocolNegotiation(List.copyOf(offered), order.isEmpty() ? Optional.empty()
                : Optional.of(order.get(0)), order.isEmpty() ? List.of() : order.subList(1, order.size()),
                settings.connectTimeout());
    }

    /** The address to dial: the one given, or for a bare PeerId the endpoints its HELLO announced. */
    private PeerAddress target(PeerAddress address) {
        return address.endpoints().isEmpty() ? known.address(address.peerId()) : address;
    }

    /** @return the usable transports among {@code offered}, one per protocol, in the order to try them */
    private List<TransportEntry> candidates(PeerId peer, Set<String> offered) {
        Map<String, TransportEntry> byProtocol = new LinkedHashMap<>();
        synchronized (lock) {
            for (TransportEntry e : transports) {
                if (offered.contains(e.protocol) && e.usable()) {
                    byProtocol.merge(e.protocol, e, (a, b) -> b.priority() > a.priority() ? b : a);
                }
            }
        }
        return history.order(peer, new ArrayList<>(byProtocol.values()));
    }

    /** Time allowed to the {@code i}-th candidate: halved for each one before it, never below the floor. */
    Duration attemptTimeout(int i) {
        Duration full = settings.connectTimeout();
        Duration floor = settings.minConnectTimeout().compareTo(full) < 0 ? settings.minConnectTimeout() : full;
        Duration t = full.dividedBy(1L << Math.min(i, 30));
        return t.compareTo(floor) < 0 ? floor : t;
    }

    @Override
    public CompletionStage<ConnectionInfo> connectToPeer(PeerAddress peer) {
        return session(peer).thenApply(ControlSession::info);
    }

    /** A usable pooled session to the peer: reused, joined from a dial in flight, or dialed. */
    CompletableFuture<ControlSession> session(PeerAddress address) {
        if (!active) {
            return CompletableFuture.failedFuture(stopped("reach " + address));
        }
        PeerId peer = address.peerId();
        if (peer.equals(local)) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed(peer
                    + " is this node's own PeerId; give another peer's address", null));
        }
        Set<String> named = address.transportHints();
        ControlSession s = pooled(peer, named);
        if (s != null) {
            return CompletableFuture.completedFuture(s);
        }
        PeerAddress target = target(address);
        if (target.endpoints().isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("peer " + peer
                    + " is not connected and no address is known for it; give its address, e.g. " + peer
                    + "@tcp://ip:port", null));
        }
        DialKey key = new DialKey(peer, Set.copyOf(named));
        Dial dial;
        CompletableFuture<ControlSession> shared;
        synchronized (lock) {
            shared = dials.get(key);
            if (shared != null) {
                return shared.thenApply(x -> x);
            }
            dial = new Dial(target, candidates(peer, target.transportHints()));
            shared = dial.result;
            dials.put(key, shared);
        }
        CompletableFuture<ControlSession> f = shared;
        f.whenComplete((x, e) -> {
            synchronized (lock) {
                dials.remove(key, f);
            }
        });
        dial.start();
        return f.thenApply(x -> x);
    }

    /**
     * One staggered race over the candidate transports: the best starts at once;
     * the next starts when the last one started has not succeeded within the
     * stagger delay, or at once when one fails. The first control session that
     * completes its hello wins; later ones are closed. Each candidate gets a
     * shorter timeout than the one before.
     */
    private final class Dial {
        final PeerAddress target;
        final List<TransportEntry> candidates;
        final CompletableFuture<ControlSession> result = new CompletableFuture<>();
        private final List<String> failures = new ArrayList<>();
        private TransportException.PeerAuthenticationFailed authFailure;
        private TransportException lastFailure;
        private int next;
        private int running;
        private boolean won;
        private ScheduledFuture<?> stagger;
        private PoolSlot slot;

        Dial(PeerAddress target, List<TransportEntry> candidates) {
            this.target = target;
            this.candidates = candidates;
        }

        void start() {
            if (candidates.isEmpty()) {
                result.completeExceptionally(noTransport(target));
                return;
            }
            try {
                slot = reserve(target.peerId(), "connecting to " + target.peerId().shortForm());
            } catch (TransportException e) {
                result.completeExceptionally(e);
                return;
            }
            result.whenComplete((s, e) -> {
                synchronized (this) {
                    if (stagger != null) {
                        stagger.cancel(false);
                    }
                }
                if (e != null) {
                    release(slot);
                }
            });
            launchNext();
        }

        void launchNext() {
            TransportEntry c;
            Duration timeout;
            synchronized (this) {
                if (result.isDone() || next >= candidates.size()) {
                    return;
                }
                int i = next++;
                c = candidates.get(i);
                timeout = attemptTimeout(i);
                running++;
                if (stagger != null) {
                    stagger.cancel(false);
                    stagger = null;
                }
                if (next < candidates.size()) {
                    try {
                        stagger = timer.schedule(this::launchNext, settings.staggerDelay().toNanos(),
                                TimeUnit.NANOSECONDS);
                    } catch (RejectedExecutionException stopped) {
                        // shutting down: the attempt running now ends the dial
                    }
                }
            }
            LOG.log(System.Logger.Level.DEBUG, "dialing " + target.peerId().shortForm() + " over " + c.protocol
                    + " (timeout " + timeout.toMillis() + " ms)");
            attempt(c, timeout);
        }

        private void attempt(TransportEntry c, Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            CompletableFuture<Connection> conn;
            try {
                conn = c.transport.connect(target.only(c.protocol), timeout).toCompletableFuture();
            } catch (RuntimeException e) {
                conn = CompletableFuture.failedFuture(e);
            }
            conn.thenCompose(cn -> {
                if (result.isDone()) {
                    cn.close(); // another transport won meanwhile
                    return CompletableFuture.<ControlSession>failedFuture(new Lost());
                }
                return openControl(cn, c, target.peerId(), deadline);
            }).exceptionallyCompose(e -> Async.unwrap(e) instanceof StreamMux.Refused
                    ? withoutMux(c, deadline) : CompletableFuture.failedFuture(e))
                    .whenComplete((s, e) -> finished(c, s, e));
        }

        /** The peer refused the stream multiplexer or closed before answering: once more, without it. */
        private CompletableFuture<ControlSession> withoutMux(TransportEntry c, long deadline) {
            CompletableFuture<Connection> conn;
            try {
                conn = c.transport.connect(target.only(c.protocol), left(deadline)).toCompletableFuture();
            } catch (RuntimeException e) {
                conn = CompletableFuture.failedFuture(e);
            }
            return conn.thenCompose(cn -> {
                if (result.isDone()) {
                    cn.close();
                    return CompletableFuture.<ControlSession>failedFuture(new Lost());
                }
                return openControl(cn, c, target.peerId(), deadline, false);
            });
        }

        private void finished(TransportEntry c, ControlSession s, Throwable failure) {
            PeerId peer = target.peerId();
            if (failure == null) {
                history.success(peer, c.protocol);
                boolean win;
                synchronized (this) {
                    running--;
                    // One winner only, even when two attempts succeed at the same moment.
                    win = !won && !result.isDone();
                    won |= win;
                }
                if (win && promote(slot, s)) {
                    result.complete(s);
                    LOG.log(System.Logger.Level.INFO, "connected " + s.describe());
                    upgradeLater(s);
                } else {
                    s.close(win ? "the " + c.protocol + " transport is leaving this node"
                            : "another connection to " + local.shortForm() + " was faster");
                    if (win) {
                        result.completeExceptionally(new TransportException.ConnectionFailed("connected to " + peer
                                + " over " + c.protocol + ", but that transport left meanwhile; try again", null));
                    }
                }
                return;
            }
            Throwable e = Async.unwrap(failure);
            if (e instanceof Lost) {
                synchronized (this) {
                    running--;
                }
                return;
            }
            TransportException te = TransportException.unwrap(e);
            history.failure(peer, c.protocol);
            metrics.failed(peer, c.protocol);
            LOG.log(System.Logger.Level.DEBUG, "dial to " + peer.shortForm() + " over " + c.protocol + " failed: "
                    + te.getMessage());
            boolean launch;
            boolean exhausted;
            synchronized (this) {
                running--;
                failures.add(c.protocol + ": " + te.getMessage());
                lastFailure = te;
                if (te instanceof TransportException.PeerAuthenticationFailed a && authFailure == null) {
                    authFailure = a;
                }
                launch = next < candidates.size();
                exhausted = !launch && running == 0;
            }
            if (launch) {
                launchNext();
            } else if (exhausted) {
                result.completeExceptionally(summary());
            }
        }

        private synchronized TransportException summary() {
            if (authFailure != null) {
                return authFailure;
            }
            return new TransportException.ConnectionFailed("could not reach " + target.peerId() + " over any of the "
                    + candidates.size() + (candidates.size() == 1 ? " transport" : " transports") + " tried: "
                    + String.join("; ", failures), lastFailure);
        }
    }

    /** Marks an attempt that succeeded after another had won; not a failure. */
    private static final class Lost extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Lost() {
            super("another transport won", null, false, false);
        }
    }

    private TransportException noTransport(PeerAddress target) {
        List<String> here;
        synchronized (lock) {
            here = transports.stream().filter(TransportEntry::usable).map(e -> e.protocol).distinct().toList();
        }
        return new TransportException.UnsupportedProtocol("no transport here can reach " + target.peerId()
                + ": its address names " + target.transportHints() + ", this node has " + (here.isEmpty() ? "none"
                        : here) + "; install a transport for one of them or give another address");
    }

    /** Dialer side of a control session: OPEN, then HELLO both ways, all before the deadline. */
    private CompletableFuture<ControlSession> openControl(Connection c, TransportEntry e, PeerId peer,
            long deadlineNanos) {
        return openControl(c, e, peer, deadlineNanos, true);
    }

    /** @param offerMux whether to offer the stream multiplexer (not when dialing again after it failed) */
    private CompletableFuture<ControlSession> openControl(Connection c, TransportEntry e, PeerId peer,
            long deadlineNanos, boolean offerMux) {
        PeerId presented = c.info().peerId();
        if (!presented.equals(peer)) {
            c.close();
            return CompletableFuture.failedFuture(new TransportException.PeerAuthenticationFailed(peer, presented,
                    "the " + e.protocol + " transport returned a connection to another peer"));
        }
        if (offerMux && mux.offer(c, peer)) {
            return mux.dial(c, peer, left(deadlineNanos), m -> openControl(m, e, peer, deadlineNanos));
        }
        if (c instanceof MultiplexedConnection m) {
            m.onStream(st -> accept(st, e, m)); // the peer may open streams on the connection this side dialed
        }
        return wire.open(c, CONTROL, null, peer, left(deadlineNanos)).thenCompose(x -> {
            ControlSession s = new ControlSession(this, c, e);
            s.start();
            Duration t = left(deadlineNanos);
            return Async.within(s.hello(), t, timer, () -> new TransportException.ConnectionTimeout("hello from "
                    + peer + " over " + e.protocol, t)).handle((h, err) -> {
                        if (err != null) {
                            s.close(null);
                            throw new CompletionException(Async.unwrap(err));
                        }
                        return s;
                    });
        });
    }

    // ------------------------------------------------------------------ upgrading relayed connections

    /**
     * Which transport to upgrade a connection to, if any: only a relayed connection
     * this node dialed (so the two sides never both try), only when upgrades are on,
     * to the best transport by priority among those the peer's HELLO offers as
     * signaled and this node can signal too, and none when a direct session to the
     * peer is pooled already (over any transport: a relay was then asked for).
     *
     * @param enabled      {@code upgradeRelayed}
     * @param relayed      the connection passes through a relay
     * @param dialed       this node dialed it
     * @param offered      the transports the peer accepts signaled
     * @param signaledHere this node's transports that dial signaled, with their priorities
     * @param directPooled a session to the peer that is not relayed is pooled
     * @return the protocol to upgrade to
     */
    static Optional<String> upgradeChoice(boolean enabled, boolean relayed, boolean dialed, List<String> offered,
            Map<String, Integer> signaledHere, boolean directPooled) {
        return upgradeOrder(enabled, relayed, dialed, offered, signaledHere, directPooled).stream().findFirst();
    }

    /**
     * The transports one upgrade attempt tries, best first: those of {@link #upgradeChoice} in the order of
     * their priority here (a hole punch into QUIC, then WebRTC); an attempt moves to the next when one fails.
     *
     * @return the protocols, empty when there is nothing to upgrade to
     */
    static List<String> upgradeOrder(boolean enabled, boolean relayed, boolean dialed, List<String> offered,
            Map<String, Integer> signaledHere, boolean directPooled) {
        if (!enabled || !relayed || !dialed || directPooled) {
            return List.of();
        }
        return offered.stream().filter(signaledHere::containsKey).distinct()
                .sorted(Comparator.comparingInt((String p) -> signaledHere.get(p)).reversed()).toList();
    }

    /**
     * @param peer a peer
     * @return whether a background upgrade of a relayed connection to it runs (an attempt or a wait for the next)
     */
    boolean upgrading(PeerId peer) {
        synchronized (lock) {
            return upgrading.contains(peer);
        }
    }

    /** After a relayed dial: set up a direct connection over a signaled transport in the background. */
    private void upgradeLater(ControlSession relayed) {
        PeerId peer = relayed.peer();
        Upgrade u;
        synchronized (lock) {
            List<TransportEntry> to = upgradeTargets(relayed);
            if (to.isEmpty() || !upgrading.add(peer)) {
                return;
            }
            u = new Upgrade(relayed, to);
        }
        relayed.connection().closeFuture().whenComplete((v, e) -> u.relayedClosed());
        try {
            timer.execute(u::attempt);
        } catch (RejectedExecutionException stopped) {
            synchronized (lock) {
                upgrading.remove(peer);
            }
        }
    }

    /**
     * The transport an upgraded connection belongs to: the signaled transport that
     * dialed it, unless its connection is another transport's (a hole punch dials
     * QUIC from its punch socket), whose then it is, so it stays up while that
     * transport does and not only while the signaling one runs.
     *
     * @param c    the connection the signaled transport returned
     * @param over the signaled transport
     * @return the entry the session is pooled under
     */
    private TransportEntry owner(Connection c, TransportEntry over) {
        String p = c.info().protocol();
        if (p.equals(over.protocol)) {
            return over;
        }
        synchronized (lock) {
            return transports.stream().filter(t -> t.protocol.equals(p))
                    .max(Comparator.comparingInt(TransportEntry::priority)).orElse(over);
        }
    }

    /** @return the transports to upgrade the relayed session to now, best first (see {@link #upgradeOrder}) */
    private List<TransportEntry> upgradeTargets(ControlSession relayed) {
        ControlMessage.Hello h = relayed.hello().getNow(null);
        if (h == null) {
            return List.of();
        }
        PeerId peer = relayed.peer();
        synchronized (lock) {
            Map<String, Integer> here = new HashMap<>();
            Map<String, TransportEntry> entries = new HashMap<>();
            for (TransportEntry e : transports) {
                if (e.signaled() && (!entries.containsKey(e.protocol) || e.priority() > here.get(e.protocol))) {
                    here.put(e.protocol, e.priority());
                    entries.put(e.protocol, e);
                }
            }
            boolean direct = !sessionsWhere(x -> x.peer().equals(peer) && x.info().via().isEmpty()).isEmpty();
            return upgradeOrder(settings.upgradeRelayed(), relayed.info().via().isPresent(),
                    relayed.direction() == ConnectionInfo.Direction.OUTBOUND, h.signaled(), here, direct)
                    .stream().map(entries::get).toList();
        }
    }

    /**
     * The background upgrade of one relayed session: up to {@code upgradeAttempts}
     * attempts, the waits between them doubling from {@code upgradeRetryDelay};
     * an attempt dials over the best signaled transport both sides have and, when
     * that fails, over the next (a failed hole punch goes on to WebRTC at once).
     * It stops early when the relayed session closes,
     * when a direct session to the peer is pooled meanwhile, when no signaled
     * transport is left, and when the manager stops (its timer then drops the
     * waiting retry). The peer stays in {@link #upgrading} until it ends, so one
     * upgrade per peer runs at a time.
     */
    private final class Upgrade {
        private final ControlSession relayed;
        private final PeerId peer;
        // under lock
        private List<TransportEntry> order;
        private int attempts;
        private ScheduledFuture<?> retry;
        private boolean ended;

        Upgrade(ControlSession relayed, List<TransportEntry> order) {
            this.relayed = relayed;
            this.peer = relayed.peer();
            this.order = order;
        }

        private String what(TransportEntry to) {
            return "upgrading the relayed connection to " + peer.shortForm() + " to " + to.protocol;
        }

        private String what() {
            synchronized (lock) {
                return "upgrading the relayed connection to " + peer.shortForm() + " to "
                        + String.join(", then ", order.stream().map(t -> t.protocol).toList());
            }
        }

        private String counted(int n) {
            return settings.upgradeAttempts() == 1 ? "" : " (attempt " + n + " of " + settings.upgradeAttempts()
                    + ")";
        }

        /**
         * Dials the peer once over the signaled transport (its signaling rides on the
         * relayed connection), unless there is no reason to any more, and pools the
         * result beside the relayed session, which stays for its open streams. New
         * streams then pick the new session: it has the higher priority, and it
         * serves addresses that name the relayed transport too.
         */
        void attempt() {
            int n;
            List<TransportEntry> now;
            synchronized (lock) {
                retry = null;
                if (ended) {
                    return;
                }
                String stop = stopReason();
                if (stop != null) {
                    end();
                    if (attempts > 0) {
                        LOG.log(System.Logger.Level.INFO, what() + ": no further attempt, " + stop);
                    }
                    return;
                }
                n = ++attempts;
                now = order;
            }
            attemptOver(n, now, 0);
        }

        /** Dials over {@code order.get(i)}; when that fails, over the next one, or the attempt failed. */
        private void attemptOver(int n, List<TransportEntry> order, int i) {
            TransportEntry over = order.get(i);
            String what = what(over);
            PoolSlot slot;
            try {
                slot = reserve(peer, what);
            } catch (TransportException e) {
                failed(n, e);
                return;
            }
            LOG.log(System.Logger.Level.INFO, what + " in the background" + counted(n));
            Duration timeout = settings.connectTimeout();
            long deadline = System.nanoTime() + timeout.toNanos();
            CompletableFuture<Connection> conn;
            try {
                conn = over.transport.connect(PeerAddress.of(peer), timeout).toCompletableFuture();
            } catch (RuntimeException e) {
                conn = CompletableFuture.failedFuture(e);
            }
            conn.thenCompose(c -> openControl(c, owner(c, over), peer, deadline)).whenComplete((s, err) -> {
                if (err != null) {
                    release(slot);
                    history.failure(peer, over.protocol);
                    metrics.failed(peer, over.protocol);
                    TransportException te = TransportException.unwrap(Async.unwrap(err));
                    if (i + 1 < order.size() && !(te instanceof TransportException.PeerAuthenticationFailed)
                            && next(n, te, order, i + 1)) {
                        return;
                    }
                    failed(n, te);
                    return;
                }
                if (!promote(slot, s)) {
                    s.close("the " + over.protocol + " transport is leaving this node");
                    failed(n, new TransportException.ConnectionFailed("the " + over.protocol
                            + " transport left", null));
                    return;
                }
                s.upgradeOf(relayed.protocol(), Duration.between(relayed.connection().info().establishedAt(),
                        s.connection().info().establishedAt()));
                history.success(peer, over.protocol);
                synchronized (lock) {
                    end();
                }
                LOG.log(System.Logger.Level.INFO, "upgraded: connected " + s.describe() + "; new streams to "
                        + peer.shortForm() + " use it, the relayed connection stays for its open streams");
            });
        }

        /**
         * Goes on to the next transport of this attempt at once, unless there is no reason to any more.
         *
         * @return whether it did; when not, the attempt failed
         */
        private boolean next(int n, TransportException why, List<TransportEntry> order, int at) {
            synchronized (lock) {
                if (ended || !active || !relayed.usable() || order.get(at).removed()
                        || !sessionsWhere(x -> x.peer().equals(peer) && x.info().via().isEmpty()).isEmpty()) {
                    return false;
                }
            }
            LOG.log(System.Logger.Level.INFO, what(order.get(at - 1)) + " failed" + counted(n) + ": "
                    + why.getMessage() + "; trying " + order.get(at).protocol + " next");
            try {
                timer.execute(() -> attemptOver(n, order, at));
            } catch (RejectedExecutionException stopped) {
                return false;
            }
            return true;
        }

        /** Logs the failed attempt once: with the next attempt's time, or as the end of the upgrade. */
        private void failed(int n, Throwable e) {
            TransportException te = TransportException.unwrap(e);
            String what = what();
            int limit = settings.upgradeAttempts();
            Duration wait = settings.upgradeBackoff(n);
            String next;
            synchronized (lock) {
                if (n >= limit) {
                    next = (limit == 1 ? "" : "giving up after " + limit + " attempts, ")
                            + "the relayed connection stays in use";
                } else if (te instanceof TransportException.PeerAuthenticationFailed) {
                    next = "giving up (the peer's identity did not check out), the relayed connection stays in use";
                } else {
                    String stop = stopReason();
                    next = stop == null ? null : "no further attempt: " + stop;
                }
                if (next == null) {
                    try {
                        retry = timer.schedule(this::attempt, wait.toNanos(), TimeUnit.NANOSECONDS);
                        next = "next attempt in " + wait.toMillis() + " ms";
                    } catch (RejectedExecutionException stopped) {
                        next = "no further attempt: the connection manager is stopping";
                    }
                }
                if (retry == null) {
                    end();
                }
            }
            LOG.log(System.Logger.Level.INFO, what + " failed" + counted(n) + ": " + te.getMessage() + "; " + next);
        }

        /** The relayed session closed: a waiting retry is dropped at once. */
        void relayedClosed() {
            boolean dropped;
            synchronized (lock) {
                dropped = retry != null && retry.cancel(false);
                if (dropped) {
                    retry = null;
                    end();
                }
            }
            if (dropped) {
                LOG.log(System.Logger.Level.INFO, what() + ": no further attempt, the relayed connection closed");
            }
        }

        /** @return why not to try (again), or null to try; under lock. Takes the best signaled transport now. */
        private String stopReason() {
            if (!active) {
                return "the connection manager is stopping";
            }
            if (!relayed.usable()) {
                return "the relayed connection closed";
            }
            if (!sessionsWhere(x -> x.peer().equals(peer) && x.info().via().isEmpty()).isEmpty()) {
                return "a direct connection to " + peer.shortForm() + " is pooled now";
            }
            List<TransportEntry> t = upgradeTargets(relayed);
            if (t.isEmpty()) {
                return "no transport is left to upgrade to";
            }
            order = t;
            return null;
        }

        /** Under lock. */
        private void end() {
            if (!ended) {
                ended = true;
                upgrading.remove(peer);
            }
        }
    }

    private static Duration left(long deadlineNanos) {
        return Duration.ofNanos(Math.max(1_000_000, deadlineNanos - System.nanoTime()));
    }

    // ------------------------------------------------------------------ ping, perf, streams

    @Override
    public CompletionStage<PingResult> ping(PeerAddress peer) {
        return session(peer).thenCompose(s -> s.ping().thenApply(rtt -> new PingResult(s.peer(), s.protocol(),
                s.remoteEndpoint().orElse(null), Duration.ofNanos(rtt))));
    }

    @Override
    public CompletionStage<PerfResult> perf(PeerAddress peer, long uploadBytes, long downloadBytes,
            Consumer<PerfResult.Progress> progress) {
        if (uploadBytes < 0 || downloadBytes < 0) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("perf byte counts must not be "
                    + "negative: upload " + uploadBytes + ", download " + downloadBytes));
        }
        return session(peer).thenCompose(s -> rawStream(s, peer).thenCompose(st -> Perf.run(wire, st, s.peer(),
                s.protocol(), uploadBytes, downloadBytes, progress, settings.openTimeout())));
    }

    @Override
    public CompletionStage<Connection> openStream(PeerAddress peer, String applicationProtocol) {
        try {
            ControlCodec.checkProtocolName(applicationProtocol);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new TransportException.UnsupportedProtocol(e.getMessage()));
        }
        if (reserved(applicationProtocol)) {
            return CompletableFuture.failedFuture(new TransportException.UnsupportedProtocol("'"
                    + applicationProtocol + "' is reserved for the platform (names starting with " + RESERVED_PREFIX
                    + "); choose another application protocol name"));
        }
        return session(peer).thenCompose(s -> rawStream(s, peer).thenCompose(st -> wire.open(st,
                applicationProtocol, null, s.peer(), settings.openTimeout())));
    }

    /**
     * A fresh stream to the session's peer over the session's transport: a new
     * stream of a multiplexed connection, else a new connection. Counted against
     * maxStreams and in the metrics until it closes.
     */
    private CompletableFuture<Connection> rawStream(ControlSession s, PeerAddress address) {
        if (!reserveStream()) {
            return CompletableFuture.failedFuture(new TransportException.LimitExceeded("maxStreams",
                    settings.maxStreams(), "opening a stream to " + s.peer().shortForm() + ": this node has "
                            + settings.maxStreams() + " streams open; close some or raise maxStreams in "
                            + "configuration " + PID));
        }
        CompletableFuture<Connection> f;
        ControlSession over = null;
        if (s.connection() instanceof MultiplexedConnection m) {
            over = s;
            f = m.openStream().toCompletableFuture();
        } else {
            TransportEntry e = s.transport();
            PeerAddress at = streamAddress(s, address);
            if (e.removed()) {
                f = CompletableFuture.failedFuture(new TransportException.ConnectionFailed("the " + e.protocol
                        + " transport left this node; try again", null));
            } else if (at.endpoints().isEmpty()) {
                f = CompletableFuture.failedFuture(new TransportException.ConnectionFailed("no " + e.protocol
                        + " endpoint of " + s.peer() + " is known to open a new stream to: it announced none; "
                        + "give its address", null));
            } else {
                try {
                    f = e.transport.connect(at, settings.connectTimeout()).toCompletableFuture();
                } catch (RuntimeException ex) {
                    f = CompletableFuture.failedFuture(ex);
                }
            }
        }
        ControlSession session = over;
        return f.handle((c, err) -> {
            if (err != null) {
                releaseStream();
                throw new CompletionException(TransportException.unwrap(err));
            }
            if (!c.info().peerId().equals(s.peer())) {
                c.close();
                releaseStream();
                throw new CompletionException(new TransportException.PeerAuthenticationFailed(s.peer(),
                        c.info().peerId(), "a new stream reached another peer"));
            }
            trackStream(c, s.peer(), s.protocol(), session);
            return c;
        });
    }

    /**
     * Where to dial a new stream over the session's transport: the session's own
     * remote endpoint when this side dialed it, then the endpoints the peer
     * announced, then those of the address given.
     */
    private PeerAddress streamAddress(ControlSession s, PeerAddress address) {
        String p = s.protocol();
        Set<Endpoint> eps = new LinkedHashSet<>();
        if (s.direction() == ConnectionInfo.Direction.OUTBOUND) {
            s.remoteEndpoint().ifPresent(eps::add);
        }
        known.get(s.peer()).ifPresent(k -> k.listen().stream().filter(e -> e.protocol().equals(p))
                .forEach(eps::add));
        eps.addAll(address.endpoints(p));
        return new PeerAddress(s.peer(), List.copyOf(eps));
    }

    // ------------------------------------------------------------------ metrics

    @Override
    public ConnectionMetrics metrics() {
        return metrics.overall();
    }

    @Override
    public ConnectionMetrics metrics(PeerId peer) {
        return metrics.forPeer(peer);
    }

    @Override
    public Map<String, ConnectionMetrics> metricsByProtocol() {
        return metrics.byProtocol();
    }

    long protocolViolations() {
        return metrics.violations();
    }

    long perPeerRefusals() {
        return budgets.refusals();
    }

    long announcedEndpointsDropped() {
        return metrics.announcedDropped();
    }

    int knownPeerCount() {
        return known.size();
    }

    // ------------------------------------------------------------------ for sessions

    ManagerSettings settings() {
        return settings;
    }

    ScheduledExecutorService timer() {
        return timer;
    }

    Wire wire() {
        return wire;
    }

    SecureRandom random() {
        return random;
    }

    /** This node's HELLO for a connection. */
    ControlMessage.Hello localHello(Connection c) {
        List<String> names;
        List<String> signaled;
        synchronized (lock) {
            names = transports.stream().filter(TransportEntry::usable).map(e -> e.protocol).distinct()
                    .limit(ControlCodec.MAX_LIST).toList();
            signaled = transports.stream().filter(TransportEntry::signaled).map(e -> e.protocol).distinct()
                    .limit(ControlCodec.MAX_LIST).toList();
        }
        Optional<Endpoint> observed;
        try {
            ConnectionInfo i = c.info();
            observed = Optional.of(new Endpoint(i.protocol(), i.remoteAddress()));
        } catch (RuntimeException e) {
            observed = Optional.empty();
        }
        // HELLO carries direct endpoints only: its endpoint encoding has no room for a relay hop.
        List<Endpoint> direct = localAddress().endpoints().stream().filter(e -> e.via().isEmpty()).toList();
        return new ControlMessage.Hello(CONTROL_VERSION, local, direct, names, observed, signaled);
    }

    void helloReceived(ControlSession s, ControlMessage.Hello h) {
        InetSocketAddress from;
        try {
            from = s.connection().info().remoteAddress();
        } catch (RuntimeException e) {
            from = null;
        }
        List<Endpoint> listen = AnnouncedEndpoints.keep(h.listen(), from, settings.dialPrivateAnnounced());
        if (listen.size() < h.listen().size()) {
            metrics.announcedDropped(h.listen().size() - listen.size());
            LOG.log(System.Logger.Level.DEBUG, "hello from " + s.peer().shortForm() + " over " + from
                    + ": not dialing the endpoints it announced in networks this node does not reach it over "
                    + h.listen().stream().filter(e -> !listen.contains(e)).toList()
                    + " (dialPrivateAnnounced allows them)");
        }
        known.put(s.peer(), new KnownPeers.Known(listen, h.transports(), Instant.now(), h.observed()));
        LOG.log(System.Logger.Level.DEBUG, "hello from " + s.peer().shortForm() + ": listens on " + h.listen()
                + ", transports " + h.transports() + ", signaled " + h.signaled() + ", sees us at "
                + h.observed().map(Object::toString).orElse("?"));
    }

    void measured(ControlSession s, long rttNanos) {
        history.rtt(s.peer(), s.protocol(), rttNanos);
        metrics.latency(s.peer(), s.protocol(), rttNanos);
    }

    /** Counts and logs a protocol violation; the caller sends ERROR and closes that connection. */
    void violation(Connection c, TransportException.ProtocolViolation v) {
        metrics.violation();
        ConnectionInfo i = c.info();
        LOG.log(System.Logger.Level.WARNING, "closing connection " + i.id() + " (" + i.protocol() + ", peer "
                + i.peerId().shortForm() + ", " + i.remoteAddress() + "): protocol violation: " + v.getMessage());
    }

    void sessionClosed(ControlSession s) {
        LOG.log(System.Logger.Level.DEBUG, "control connection " + s.describe() + " closed");
    }

    /** @return what dials taught for a peer, for tests */
    Map<String, PeerHistory.Stats> history(PeerId peer) {
        return history.of(peer);
    }

    // ------------------------------------------------------------------ JMX and helpers

    private ObjectName registerMBean() {
        if (settings.jmxName().isEmpty()) {
            return null;
        }
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        StandardMBean bean;
        try {
            bean = new StandardMBean(new ManagerMBean(this), ConnectionManagerMXBean.class, true);
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot build the connection manager MBean", e);
            return null;
        }
        for (String name : new String[] {settings.jmxName(), settings.jmxName() + ",peer=" + local.shortForm()}) {
            try {
                ObjectName n = new ObjectName(name);
                server.registerMBean(bean, n);
                return n;
            } catch (InstanceAlreadyExistsException taken) {
                LOG.log(System.Logger.Level.DEBUG, "MBean name " + name + " is taken");
            } catch (JMException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot register the connection manager MBean as " + name, e);
                return null;
            }
        }
        LOG.log(System.Logger.Level.WARNING, "cannot register the connection manager MBean: its names are taken");
        return null;
    }

    private void unregisterMBean() {
        if (mbeanName == null) {
            return;
        }
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(mbeanName);
        } catch (JMException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "MBean " + mbeanName + " was already gone");
        }
    }

    /** @return the MBean's name, or null when none is registered */
    ObjectName mbeanName() {
        return mbeanName;
    }

    private void awaitQuietly(List<CompletableFuture<?>> futures, String what) {
        try {
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new))
                    .get(settings.closeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, what + ": not everything closed within "
                    + settings.closeTimeout().toMillis() + " ms (" + Async.unwrap(e) + ")");
        }
    }

    private TransportException stopped(String what) {
        return new TransportException.ConnectionFailed("cannot " + what + ": the connection manager has stopped",
                null);
    }

    @Override
    public String toString() {
        return "connection manager of " + local.shortForm();
    }
}
