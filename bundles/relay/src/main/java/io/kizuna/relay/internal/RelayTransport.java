package io.kizuna.relay.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.TransportException.RelayFailed;
import io.kizuna.transport.support.tls.NettyTls;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The relay transport ({@code relay}, lowest priority): dials a peer through a
 * relay named in its address ({@code <peer-id>@relay://<relay-id>@tcp://ip:port})
 * and listens by keeping a reservation on a relay.
 *
 * <p>The hop to the relay is an ordinary stream of the connection manager
 * ({@value RelayCodec#PROTOCOL}) over a direct transport, so the relay is
 * authenticated by its PeerId like any peer: a relay with another key fails the
 * dial with {@link TransportException.PeerAuthenticationFailed}. Inside the spliced
 * circuit the two peers run their own TLS 1.3 ({@link CircuitConnection}).
 */
@Component(service = {Transport.class, RelayTransport.class}, configurationPid = RelayTransport.PID,
        property = {Transport.PROTOCOL + "=" + RelayTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + ClientSettings.DEFAULT_PRIORITY})
@Designate(ocd = RelayTransportConfig.class)
public final class RelayTransport implements Transport {

    /** The configuration PID. */
    static final String PID = "io.kizuna.relay.transport";

    /** The protocol name in endpoints. */
    static final String PROTOCOL_NAME = "relay";

    private static final System.Logger LOG = System.getLogger(RelayTransport.class.getName());

    private final ConnectionManager manager;
    private final NodeIdentity identity;
    private final ClientSettings settings;
    private final NettyTls nettyTls;
    private final ScheduledExecutorService timer;
    private final ExecutorService pool;
    private final RelaySelector selector;
    private final Set<RelayListener> listeners = ConcurrentHashMap.newKeySet();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private volatile boolean active = true;

    /**
     * Activated by Declarative Services.
     *
     * @param config   the configuration
     * @param manager  the connection manager, which carries the hops to relays
     * @param identity this node's identity, for the end-to-end TLS
     */
    @Activate
    public RelayTransport(RelayTransportConfig config, @Reference ConnectionManager manager,
            @Reference NodeIdentity identity) {
        this(manager, identity, ClientSettings.from(config));
    }

    RelayTransport(ConnectionManager manager, NodeIdentity identity, ClientSettings settings) {
        // The hops to relays are tcp or websocket connections, on the engine the identity configures. The
        // end-to-end TLS of circuits stays on the JDK's: on OpenSSL, which answers a close_notify with its
        // own, a circuit's close does not yet meet the transport contract.
        this(manager, identity, settings, NettyTls.jdk("circuits stay on the JDK's engine"));
    }

    /**
     * @param manager  the connection manager
     * @param identity this node's identity
     * @param settings the settings
     * @param tls      the TLS engine of the end-to-end TLS
     */
    RelayTransport(ConnectionManager manager, NodeIdentity identity, ClientSettings settings, NettyTls tls) {
        this.manager = manager;
        this.identity = identity;
        this.settings = settings;
        // A circuit's TLS runs on an EmbeddedChannel that is dropped, not closed: with OpenSSL, the GC frees
        // its native state.
        this.nettyTls = tls.releasedByGc();
        tls.log(LOG, PROTOCOL_NAME);
        ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1, daemon("kizuna-relay-client-timer"));
        t.setRemoveOnCancelPolicy(true);
        this.timer = t;
        this.pool = Executors.newFixedThreadPool(2, daemon("kizuna-relay-client"));
        this.selector = new RelaySelector(this, settings.relays());
        if (!settings.relays().isEmpty()) {
            timer.scheduleWithFixedDelay(this::remeasure, 0, settings.measureInterval().toMillis(),
                    TimeUnit.MILLISECONDS);
        }
    }

    static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread th = new Thread(r, name + "-" + n.incrementAndGet());
            th.setDaemon(true);
            return th;
        };
    }

    /** Closes the reservations and circuits, then stops the threads. */
    @Deactivate
    void deactivate() {
        active = false;
        List<CompletableFuture<?>> closing = new ArrayList<>();
        listeners.forEach(l -> closing.add(l.close().toCompletableFuture()));
        connections.forEach(c -> closing.add(c.close().toCompletableFuture()));
        try {
            CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new)).get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.DEBUG, "relay transport: closing took too long", e);
        }
        timer.shutdownNow();
        SerialExecutor.stop(pool);
    }

    NodeIdentity identity() {
        return identity;
    }

    /** @return the TLS engine of the end-to-end TLS */
    NettyTls nettyTls() {
        return nettyTls;
    }

    ConnectionManager manager() {
        return manager;
    }

    ClientSettings settings() {
        return settings;
    }

    ScheduledExecutorService timer() {
        return timer;
    }

    ExecutorService pool() {
        return pool;
    }

    RelaySelector selector() {
        return selector;
    }

    List<RelayListener> listeners() {
        return List.copyOf(listeners);
    }

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
        return new TransportCapabilities(true, true, false, false, true, 0);
    }

    @Override
    public boolean isAvailable() {
        return active;
    }

    @Override
    public Optional<String> unavailableReason() {
        return active ? Optional.empty() : Optional.of("the relay transport is stopped");
    }

    /** @return the engine of the end-to-end TLS inside circuits; the hops to relays have their transports' */
    @Override
    public Optional<String> tlsEngine() {
        return Optional.of(nettyTls.describe());
    }

    // ------------------------------------------------------------------ dialing

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        List<Endpoint> relayed = peer.endpoints(PROTOCOL_NAME).stream().filter(e -> e.via().isPresent()).toList();
        if (relayed.isEmpty()) {
            // A relay endpoint that names no relay cannot be dialed safely: nothing would say which key to expect.
            Optional<Endpoint> bare = peer.endpoints(PROTOCOL_NAME).stream().findFirst();
            if (bare.isPresent()) {
                return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("relay endpoint "
                        + bare.get() + " names no relay: write relay://<relay-id>@tcp://ip:port", null));
            }
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(PROTOCOL_NAME, peer));
        }
        if (!active) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed(
                    "the relay transport is stopped", null));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<TransportException> failures = new ArrayList<>();
        CompletableFuture<Connection> result = new CompletableFuture<>();
        tryNext(peer, relayed, 0, deadline, failures, result);
        return result;
    }

    private void tryNext(PeerAddress peer, List<Endpoint> relayed, int i, long deadline,
            List<TransportException> failures, CompletableFuture<Connection> result) {
        if (i >= relayed.size()) {
            result.completeExceptionally(TransportException.ConnectionFailed.summarize(peer.peerId(), PROTOCOL_NAME,
                    relayed.size(), failures));
            return;
        }
        Duration left = Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime()));
        dialVia(peer.peerId(), relayed.get(i), left).whenComplete((c, e) -> {
            if (e == null) {
                track(c);
                result.complete(c);
            } else {
                failures.add(TransportException.unwrap(e));
                tryNext(peer, relayed, i + 1, deadline, failures, result);
            }
        });
    }

    private void track(Connection c) {
        connections.add(c);
        c.closeFuture().whenComplete((v, e) -> connections.remove(c));
    }

    private CompletionStage<Connection> dialVia(PeerId target, Endpoint relayed, Duration timeout) {
        PeerAddress relay = relayed.hopAddress().orElseThrow();
        Endpoint.Hop hop = relayed.via().orElseThrow();
        CompletableFuture<Connection> done = new CompletableFuture<>();
        openHop(relay).thenCompose(stream -> {
            // A dial that fails or times out, before the hop opened or after, gives the hop stream up.
            done.whenComplete((c, e) -> {
                if (e != null) {
                    stream.close();
                }
            });
            return RelayCodec.write(stream, new RelayMessage.Connect(target, settings.token()))
                    .thenCompose(v -> RelayCodec.read(stream)).thenCompose(m -> {
                        if (m instanceof RelayMessage.Connected) {
                            return CircuitConnection.dial(stream, identity, nettyTls, target, hop, pool);
                        }
                        stream.close();
                        return CompletableFuture.failedFuture(answer(relay.peerId(), target, m));
                    }).whenComplete((c, e) -> {
                        if (e != null || !done.complete(c)) {
                            stream.close();
                        }
                    });
        }).whenComplete((c, e) -> {
            if (e != null) {
                done.completeExceptionally(TransportException.unwrap(e));
            }
        });
        ScheduledFuture<?> t = timer.schedule(() -> done.completeExceptionally(
                new TransportException.ConnectionTimeout("circuit to " + target + " through relay " + relay, timeout)),
                timeout.toMillis(), TimeUnit.MILLISECONDS);
        done.whenComplete((c, e) -> t.cancel(false));
        return done;
    }

    /**
     * Waits for a relay's answer on a hop stream, at most the handshake timeout;
     * then the stream is closed, so a relay that stays silent holds nothing here.
     *
     * @param stream the hop stream
     * @param answer the answer being read
     * @param what   what was asked, for the error
     * @return the answer, or a {@link TransportException.ConnectionTimeout}
     */
    <T> CompletableFuture<T> answerOf(Connection stream, CompletionStage<T> answer, String what) {
        Duration timeout = settings.handshakeTimeout();
        CompletableFuture<T> out = new CompletableFuture<>();
        ScheduledFuture<?> t = timer.schedule(() -> {
            if (out.completeExceptionally(new TransportException.ConnectionTimeout(what, timeout))) {
                stream.close();
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        answer.whenComplete((v, e) -> {
            t.cancel(false);
            if (e != null) {
                out.completeExceptionally(e);
            } else if (!out.complete(v)) {
                stream.close();
            }
        });
        return out;
    }

    /** The failure for an answer other than CONNECTED. */
    static TransportException answer(PeerId relay, PeerId target, RelayMessage m) {
        if (m instanceof RelayMessage.Refused r) {
            TransportException f = RelayCodec.failure(relay, r);
            if (r.reason() == RelayFailed.Reason.NO_RESERVATION) {
                // The peer is not there: the same as a closed port for a direct transport.
                return new TransportException.ConnectionFailed("could not reach " + target + " through relay "
                        + relay + ": " + r.message(), f);
            }
            return f;
        }
        return new TransportException.ProtocolViolation("relay " + relay + " answered "
                + m.getClass().getSimpleName() + " where CONNECTED or REFUSED was expected");
    }

    /**
     * Opens a stream to a relay over a direct transport.
     *
     * @param relay the relay's address (direct endpoints only)
     * @return the stream; a relay that serves no relay protocol fails with {@link RelayFailed}
     */
    CompletionStage<Connection> openHop(PeerAddress relay) {
        return manager.openStream(relay, RelayCodec.PROTOCOL).handle((s, e) -> {
            if (e == null) {
                return CompletableFuture.completedFuture(s);
            }
            TransportException t = TransportException.unwrap(e);
            if (t instanceof TransportException.UnsupportedProtocol) {
                t = new RelayFailed(RelayFailed.Reason.NO_RELAY, "node " + relay.peerId()
                        + " runs no relay service: " + t.getMessage(), t);
            }
            return CompletableFuture.<Connection>failedFuture(t);
        }).thenCompose(f -> f);
    }

    // ------------------------------------------------------------------ listening

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        return CompletableFuture.failedFuture(new TransportException.Io("the relay transport listens at a relay, "
                + "not at a local address: listen on relay://<relay-id>@tcp://ip:port", null));
    }

    @Override
    public CompletionStage<Listener> listen(Endpoint local, Consumer<Connection> acceptor) {
        Optional<PeerAddress> relay = local.hopAddress();
        if (relay.isEmpty()) {
            return listen(local.address(), acceptor);
        }
        RelayListener l = new RelayListener(this, relay.get(), c -> {
            track(c);
            acceptor.accept(c);
        });
        listeners.add(l);
        l.closed().whenComplete((v, e) -> listeners.remove(l));
        return l.start().thenApply(v -> (Listener) l);
    }

    /** Measures the known relays again (find_best_relay keeps its view fresh). */
    private void remeasure() {
        if (active) {
            selector.measure();
        }
    }
}
