package io.kizuna.core.internal;

import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.PeerId;

/**
 * Counters overall, per transport protocol and per peer (bounded: the least
 * recently used peer is forgotten first).
 *
 * <p>Connections and streams the manager knows of are tracked while open; their
 * bytes are read from {@link Connection#info()} when metrics are asked for, and
 * added to the counters when they close. "established", "active" and
 * "protocolUsage" count pooled control connections; "failed" counts dial
 * attempts that failed, one per transport tried; bytes include perf and
 * application streams.
 */
final class ManagerMetrics {

    /** Whether a tracked connection is a pooled control connection or a stream. */
    enum Kind { CONTROL, STREAM }

    private static final class Counters {
        long established;
        long failed;
        long bytesSent;
        long bytesReceived;
        long latencySumNanos;
        long latencyCount;
        final Map<String, Long> usage = new HashMap<>();
    }

    private record Tracked(Connection connection, PeerId peer, String protocol, Kind kind) {
    }

    private final Counters overall = new Counters();
    private final Map<String, Counters> byProtocol = new HashMap<>();
    private final LinkedHashMap<PeerId, Counters> byPeer;
    private final Set<Tracked> live = ConcurrentHashMap.newKeySet();
    private final AtomicLong violations = new AtomicLong();
    private final AtomicLong announcedDropped = new AtomicLong();

    ManagerMetrics(int maxPeers) {
        this.byPeer = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<PeerId, Counters> eldest) {
                return size() > maxPeers;
            }
        };
    }

    private Counters peer(PeerId p) {
        return byPeer.computeIfAbsent(p, k -> new Counters());
    }

    private Counters protocol(String p) {
        return byProtocol.computeIfAbsent(p, k -> new Counters());
    }

    synchronized void established(PeerId peer, String protocol) {
        for (Counters c : new Counters[] {overall, peer(peer), protocol(protocol)}) {
            c.established++;
            c.usage.merge(protocol, 1L, Long::sum);
        }
    }

    synchronized void failed(PeerId peer, String protocol) {
        overall.failed++;
        peer(peer).failed++;
        protocol(protocol).failed++;
    }

    synchronized void latency(PeerId peer, String protocol, long nanos) {
        for (Counters c : new Counters[] {overall, peer(peer), protocol(protocol)}) {
            c.latencySumNanos += nanos;
            c.latencyCount++;
        }
    }

    void violation() {
        violations.incrementAndGet();
    }

    void announcedDropped(int n) {
        announcedDropped.addAndGet(n);
    }

    long announcedDropped() {
        return announcedDropped.get();
    }

    long violations() {
        return violations.get();
    }

    /** Counts a connection's bytes while it is open and after. */
    void track(Connection c, PeerId peer, String protocol, Kind kind) {
        Tracked t = new Tracked(c, peer, protocol, kind);
        live.add(t);
        c.closeFuture().whenComplete((v, e) -> untrack(t));
    }

    private synchronized void untrack(Tracked t) {
        if (!live.remove(t)) {
            return;
        }
        ConnectionInfo i = t.connection().info();
        for (Counters c : new Counters[] {overall, peer(t.peer()), protocol(t.protocol())}) {
            c.bytesSent += i.bytesSent();
            c.bytesReceived += i.bytesReceived();
        }
    }

    synchronized ConnectionMetrics overall() {
        return snapshot(overall, t -> true);
    }

    synchronized ConnectionMetrics forPeer(PeerId p) {
        Counters c = byPeer.get(p);
        return snapshot(c == null ? new Counters() : c, t -> t.peer().equals(p));
    }

    /** @return the streams (not pooled connections) open now */
    java.util.List<Connection> liveStreams() {
        return live.stream().filter(t -> t.kind() == Kind.STREAM).map(Tracked::connection).toList();
    }

    synchronized Map<String, ConnectionMetrics> byProtocol() {
        Map<String, ConnectionMetrics> out = new TreeMap<>();
        byProtocol.forEach((p, c) -> out.put(p, snapshot(c, t -> t.protocol().equals(p))));
        return out;
    }

    private ConnectionMetrics snapshot(Counters c, java.util.function.Predicate<Tracked> in) {
        long active = 0;
        long sent = c.bytesSent;
        long received = c.bytesReceived;
        for (Tracked t : live) {
            if (!in.test(t)) {
                continue;
            }
            ConnectionInfo i = t.connection().info();
            sent += i.bytesSent();
            received += i.bytesReceived();
            if (t.kind() == Kind.CONTROL && t.connection().isConnected()) {
                active++;
            }
        }
        Optional<Duration> latency = c.latencyCount == 0 ? Optional.empty()
                : Optional.of(Duration.ofNanos(c.latencySumNanos / c.latencyCount));
        return new ConnectionMetrics(c.established, c.failed, active, sent, received, latency, c.usage);
    }
}
