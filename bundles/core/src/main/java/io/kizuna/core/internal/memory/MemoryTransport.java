package io.kizuna.core.internal.memory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

/**
 * A transport inside one JVM: endpoints {@code memory://127.0.0.1:<port>}, where
 * the port is only a number in the {@link MemoryHub}; connections are pairs of
 * bounded in-memory pipes that keep the whole {@link Connection} contract
 * (backpressure, half-close, close, close future, info).
 *
 * <p>It authenticates by construction: a dial names the PeerId it expects, and a
 * listener of another node is refused with
 * {@link TransportException.PeerAuthenticationFailed}. For tests of the
 * connection manager it can be told to delay, fail or swallow its dials.
 *
 * <p>As a DS component it exists only when configuration {@value #PID} does, so
 * a production node never has it, while a test can add it at runtime.
 */
@Component(service = Transport.class, configurationPid = MemoryTransport.PID,
        configurationPolicy = ConfigurationPolicy.REQUIRE,
        property = {Transport.PROTOCOL + "=" + MemoryTransport.PROTOCOL_NAME,
                Transport.PRIORITY + ":Integer=" + MemoryTransport.DEFAULT_PRIORITY})
@Designate(ocd = MemoryConfig.class)
public final class MemoryTransport implements Transport {

    /** The configuration PID; the component exists only while it is configured. */
    public static final String PID = "io.kizuna.memory";

    /** The protocol name of the DS component. */
    public static final String PROTOCOL_NAME = "memory";

    static final int DEFAULT_PRIORITY = 10;
    static final int DEFAULT_PIPE_CAPACITY = 256 * 1024;
    static final int DEFAULT_MAX_CONNECTIONS = 1024;

    /** Dials remembered for {@link #dialTimeouts()} and {@link #dialed()}. */
    private static final int RECORDED = 256;

    static final SecureRandom RANDOM = new SecureRandom();

    private static final System.Logger LOG = System.getLogger(MemoryTransport.class.getName());
    private static final TransportCapabilities CAPABILITIES = TransportCapabilities.STREAM;

    private final PeerId localPeer;
    private final String protocol;
    private final int priority;
    private final int pipeCapacity;
    private final int maxConnections;
    private final MemoryHub hub;
    private final ScheduledThreadPoolExecutor executor;
    private final Set<MemoryConnection> connections = ConcurrentHashMap.newKeySet();
    private final Set<MemoryListener> listeners = ConcurrentHashMap.newKeySet();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger dials = new AtomicInteger();
    private final List<Duration> dialTimeouts = new CopyOnWriteArrayList<>();
    private final List<MemoryConnection> dialed = new CopyOnWriteArrayList<>();
    private final Set<CompletableFuture<Connection>> delayed = ConcurrentHashMap.newKeySet();
    private volatile boolean active = true;
    private volatile String unavailable;
    private volatile Duration dialDelay = Duration.ZERO;
    private volatile String dialFailure;

    /**
     * Activated by Declarative Services when configuration {@value #PID} exists.
     *
     * @param config   the configuration
     * @param identity this node's identity, whose PeerId the transport presents
     */
    @Activate
    public MemoryTransport(MemoryConfig config, @Reference NodeIdentity identity) {
        this(identity.peerId(), PROTOCOL_NAME, config.kizuna_transport_priority(), config.pipeCapacity(),
                config.maxConnections(), MemoryHub.GLOBAL);
    }

    /**
     * A transport in the JVM-wide hub with default limits.
     *
     * @param localPeer the PeerId it presents
     * @param protocol  its protocol name (tests use several, e.g. {@code mem-a}, {@code mem-b})
     * @param priority  its priority
     */
    public MemoryTransport(PeerId localPeer, String protocol, int priority) {
        this(localPeer, protocol, priority, DEFAULT_PIPE_CAPACITY, DEFAULT_MAX_CONNECTIONS, MemoryHub.GLOBAL);
    }

    /**
     * @param localPeer      the PeerId it presents
     * @param protocol       its protocol name
     * @param priority       its priority
     * @param pipeCapacity   bytes buffered each way per connection
     * @param maxConnections open connections allowed, both directions
     * @param hub            the in-process registry of listeners
     */
    public MemoryTransport(PeerId localPeer, String protocol, int priority, int pipeCapacity, int maxConnections,
            MemoryHub hub) {
        this.localPeer = Objects.requireNonNull(localPeer, "localPeer");
        this.protocol = new Endpoint(protocol, new InetSocketAddress(loopback(), 0)).protocol();
        if (pipeCapacity < 1 || maxConnections < 1) {
            throw new IllegalArgumentException("pipeCapacity and maxConnections of configuration " + PID
                    + " must be positive");
        }
        this.priority = priority;
        this.pipeCapacity = pipeCapacity;
        this.maxConnections = maxConnections;
        this.hub = Objects.requireNonNull(hub, "hub");
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "kizuna-" + this.protocol + "-" + localPeer.shortForm());
            t.setDaemon(true);
            return t;
        });
        this.executor.setRemoveOnCancelPolicy(true);
        this.executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /** Closes every listener and connection (peers read an orderly end of stream), then stops the executor. */
    @Deactivate
    public void shutdown() {
        if (!active) {
            return;
        }
        active = false;
        for (MemoryListener l : listeners) {
            l.close();
        }
        for (MemoryConnection c : connections) {
            c.close();
        }
        for (CompletableFuture<Connection> d : delayed) {
            d.completeExceptionally(new TransportException.ConnectionFailed("the " + protocol
                    + " transport stopped while dialing", null));
        }
        executor.shutdown();
    }

    // ------------------------------------------------------------------ Transport

    @Override
    public String protocolName() {
        return protocol;
    }

    @Override
    public int priority() {
        return priority;
    }

    @Override
    public TransportCapabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public boolean isAvailable() {
        return active && unavailable == null;
    }

    @Override
    public Optional<String> unavailableReason() {
        if (!active) {
            return Optional.of("the " + protocol + " transport has stopped");
        }
        return Optional.ofNullable(unavailable);
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        Objects.requireNonNull(peer, "peer");
        Objects.requireNonNull(timeout, "timeout");
        List<Endpoint> endpoints = peer.endpoints(protocol);
        if (endpoints.isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(protocol, peer));
        }
        if (!active) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot dial " + peer
                    + ": the " + protocol + " transport has stopped", null));
        }
        dials.incrementAndGet();
        remember(dialTimeouts, timeout);
        CompletableFuture<Connection> result = new CompletableFuture<>();
        Duration delay = dialDelay;
        String failure = dialFailure;
        Runnable attempt = failure == null ? () -> dialNow(peer, endpoints, result)
                : () -> result.completeExceptionally(new TransportException.ConnectionFailed(protocol + " dial to "
                        + peer + " failed: " + failure, null));
        if (delay.isZero()) {
            attempt.run();
            return result;
        }
        delayed.add(result);
        result.whenComplete((c, e) -> delayed.remove(result));
        try {
            if (delay.compareTo(timeout) >= 0) {
                executor.schedule(() -> result.completeExceptionally(new TransportException.ConnectionTimeout(
                        "dialing " + peer + " over " + protocol, timeout)), timeout.toNanos(), TimeUnit.NANOSECONDS);
            } else {
                executor.schedule(attempt, delay.toNanos(), TimeUnit.NANOSECONDS);
            }
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer + ": the "
                    + protocol + " transport has stopped", e));
        }
        return result;
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(acceptor, "acceptor");
        if (!active) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot listen on " + protocol + "://"
                    + local.getHostString() + ":" + local.getPort() + ": the transport has stopped", null));
        }
        try {
            MemoryListener l = hub.bind(protocol, local.getPort(),
                    port -> new MemoryListener(this, new InetSocketAddress(local.getAddress(), port), acceptor));
            listeners.add(l);
            return CompletableFuture.completedFuture(l);
        } catch (TransportException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public String toString() {
        return protocol + " transport of " + localPeer.shortForm();
    }

    // ------------------------------------------------------------------ controls for tests

    /** @param delay how long each later dial waits before it connects (a dial whose timeout is shorter times out) */
    public void delayDials(Duration delay) {
        this.dialDelay = Objects.requireNonNull(delay);
    }

    /** @param reason later dials fail with {@link TransportException.ConnectionFailed} giving this reason */
    public void failDials(String reason) {
        this.dialFailure = Objects.requireNonNull(reason);
    }

    /** Later dials never connect: each fails when its timeout passes. */
    public void blackholeDials() {
        this.dialDelay = Duration.ofDays(365);
    }

    /** Later dials connect at once again. */
    public void normalDials() {
        this.dialDelay = Duration.ZERO;
        this.dialFailure = null;
    }

    /** @param reason null to make the transport available, else why it is not */
    public void unavailable(String reason) {
        this.unavailable = reason;
    }

    /** @return dials started so far */
    public int dialCount() {
        return dials.get();
    }

    /** @return the timeout each dial was given, in order (the latest 256) */
    public List<Duration> dialTimeouts() {
        return List.copyOf(dialTimeouts);
    }

    /** @return the dialer's end of the connections this transport dialed, in order (the latest 256) */
    public List<Connection> dialed() {
        return List.copyOf(dialed);
    }

    /** @return connections open now, both directions */
    public List<Connection> openConnections() {
        return List.copyOf(connections);
    }

    /**
     * Connects this transport to another directly, without a listener: a test
     * hook for building multiplexed connections on top of this transport.
     *
     * @param other the other side's transport
     * @return this side's end at [0], the other side's at [1]
     * @throws TransportException.LimitExceeded when a connection limit or the ports are used up
     */
    public Connection[] pairWith(MemoryTransport other) throws TransportException.LimitExceeded {
        if (!reserve()) {
            throw new TransportException.LimitExceeded("maxConnections", maxConnections, "pairing " + this);
        }
        if (!other.reserve()) {
            release();
            throw new TransportException.LimitExceeded("maxConnections", other.maxConnections, "pairing " + other);
        }
        int mine = hub.ephemeral(protocol);
        int theirs = hub.ephemeral(protocol);
        MemoryConnection[] pair = MemoryConnection.pair(this, localPeer, new InetSocketAddress(loopback(), mine),
                other, other.localPeer, new InetSocketAddress(loopback(), theirs), pipeCapacity);
        connections.add(pair[0]);
        other.connections.add(pair[1]);
        pair[0].closeFuture().whenComplete((v, x) -> hub.release(protocol, mine));
        pair[1].closeFuture().whenComplete((v, x) -> hub.release(protocol, theirs));
        return new Connection[] {pair[0], pair[1]};
    }

    /** @return the PeerId this transport presents */
    public PeerId localPeer() {
        return localPeer;
    }

    // ------------------------------------------------------------------ internals

    private void dialNow(PeerAddress peer, List<Endpoint> endpoints, CompletableFuture<Connection> result) {
        if (!active) {
            result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer + ": the "
                    + protocol + " transport has stopped", null));
            return;
        }
        List<TransportException> failures = new ArrayList<>();
        for (Endpoint e : endpoints) {
            MemoryListener l = hub.find(protocol, e.address().getPort());
            if (l == null || !l.isOpen() || !l.transport().active) {
                failures.add(new TransportException.ConnectionFailed(protocol + " dial to " + e
                        + " failed: nothing listens there in this process; check the port", null));
                continue;
            }
            MemoryTransport there = l.transport();
            if (!there.localPeer.equals(peer.peerId())) {
                failures.add(new TransportException.PeerAuthenticationFailed(peer.peerId(), there.localPeer,
                        "the " + protocol + " listener at " + e + " belongs to another node"));
                continue;
            }
            if (!reserve()) {
                result.completeExceptionally(new TransportException.LimitExceeded("maxConnections", maxConnections,
                        "dialing " + peer + " over " + protocol + ": " + open.get() + " connections are open"));
                return;
            }
            if (!there.reserve()) {
                release();
                failures.add(new TransportException.ConnectionFailed(protocol + " dial to " + e + " failed: the "
                        + "listener refused it (its maxConnections=" + there.maxConnections + " is reached)", null));
                continue;
            }
            int localPort;
            try {
                localPort = hub.ephemeral(protocol);
            } catch (TransportException.LimitExceeded full) {
                release();
                there.release();
                result.completeExceptionally(full);
                return;
            }
            MemoryConnection[] pair = MemoryConnection.pair(this, localPeer,
                    new InetSocketAddress(loopback(), localPort), there, there.localPeer, l.localAddress(),
                    pipeCapacity);
            MemoryConnection mine = pair[0];
            MemoryConnection theirs = pair[1];
            connections.add(mine);
            remember(dialed, mine);
            mine.closeFuture().whenComplete((v, x) -> hub.release(protocol, localPort));
            there.connections.add(theirs);
            there.dispatch(() -> {
                try {
                    l.acceptor().accept(theirs);
                } catch (RuntimeException ex) {
                    LOG.log(System.Logger.Level.WARNING, protocol + ": the acceptor failed on " + theirs
                            + "; closing it", ex);
                    theirs.close();
                }
            });
            if (!result.complete(mine)) {
                mine.close();
            }
            return;
        }
        result.completeExceptionally(summary(peer, endpoints, failures));
    }

    private TransportException summary(PeerAddress peer, List<Endpoint> endpoints, List<TransportException> failures) {
        return TransportException.ConnectionFailed.summarize(peer.peerId(), protocol, endpoints.size(), failures);
    }

    /** Test records are bounded too: the oldest entries go. */
    private static <T> void remember(List<T> list, T item) {
        list.add(item);
        while (list.size() > RECORDED) {
            list.remove(0);
        }
    }

    private boolean reserve() {
        int n;
        do {
            n = open.get();
            if (n >= maxConnections) {
                return false;
            }
        } while (!open.compareAndSet(n, n + 1));
        return true;
    }

    private void release() {
        open.decrementAndGet();
    }

    void closed(MemoryConnection c) {
        if (connections.remove(c)) {
            release();
        }
    }

    void unbind(MemoryListener l) {
        listeners.remove(l);
        hub.unbind(protocol, l.localAddress().getPort(), l);
    }

    /** Runs a completion on this transport's thread, or here when the transport has stopped. */
    void dispatch(Runnable r) {
        try {
            executor.execute(r);
        } catch (RejectedExecutionException stopped) {
            r.run();
        }
    }

    private static InetAddress loopback() {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
