package io.kizuna.core.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.kizuna.transport.PeerId;

/**
 * What dials and pings taught about each transport for each peer, and the order
 * of candidates it implies. Bounded: the least recently used peer is forgotten
 * first.
 */
final class PeerHistory {

    /** Outcomes of one transport for one peer. */
    static final class Stats {
        long successes;
        long failures;
        long lastSuccessNanos;
        long lastFailureNanos;
        boolean everSucceeded;
        boolean everFailed;
        /** Smoothed ping round-trip time in nanoseconds, or -1 before the first. */
        double rttNanos = -1;

        boolean failedRecently(long now, long memoryNanos) {
            return everFailed && (!everSucceeded || lastFailureNanos - lastSuccessNanos > 0)
                    && now - lastFailureNanos < memoryNanos;
        }
    }

    private final int maxPeers;
    private final long memoryNanos;
    private final LinkedHashMap<PeerId, Map<String, Stats>> table;

    PeerHistory(int maxPeers, java.time.Duration failureMemory) {
        this.maxPeers = maxPeers;
        this.memoryNanos = failureMemory.toNanos();
        this.table = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<PeerId, Map<String, Stats>> eldest) {
                return size() > PeerHistory.this.maxPeers;
            }
        };
    }

    private Stats stats(PeerId peer, String protocol) {
        return table.computeIfAbsent(peer, k -> new HashMap<>()).computeIfAbsent(protocol, k -> new Stats());
    }

    synchronized void success(PeerId peer, String protocol) {
        Stats s = stats(peer, protocol);
        s.successes++;
        s.everSucceeded = true;
        s.lastSuccessNanos = System.nanoTime();
    }

    synchronized void failure(PeerId peer, String protocol) {
        Stats s = stats(peer, protocol);
        s.failures++;
        s.everFailed = true;
        s.lastFailureNanos = System.nanoTime();
    }

    synchronized void rtt(PeerId peer, String protocol, long nanos) {
        Stats s = stats(peer, protocol);
        s.rttNanos = s.rttNanos < 0 ? nanos : 0.75 * s.rttNanos + 0.25 * nanos;
    }

    /**
     * Orders candidate transports for a peer: those that failed for it most
     * recently (and have not worked since, within the failure memory) go last;
     * then higher priority first; then one that worked for this peer before one
     * that did not; then lower measured round-trip time; then by name.
     */
    synchronized List<TransportEntry> order(PeerId peer, List<TransportEntry> candidates) {
        long now = System.nanoTime();
        Map<String, Stats> known = table.getOrDefault(peer, Map.of());
        Stats none = new Stats();
        Comparator<TransportEntry> c = Comparator
                .comparing((TransportEntry e) -> known.getOrDefault(e.protocol, none).failedRecently(now, memoryNanos))
                .thenComparing(Comparator.comparingInt((TransportEntry e) -> e.priority()).reversed())
                .thenComparing(e -> !known.getOrDefault(e.protocol, none).everSucceeded)
                .thenComparingDouble(e -> {
                    double r = known.getOrDefault(e.protocol, none).rttNanos;
                    return r < 0 ? Double.MAX_VALUE : r;
                })
                .thenComparing(e -> e.protocol);
        List<TransportEntry> sorted = new ArrayList<>(candidates);
        sorted.sort(c);
        return sorted;
    }

    /** @return a copy of what is known for a peer, for tests and diagnostics */
    synchronized Map<String, Stats> of(PeerId peer) {
        return Map.copyOf(table.getOrDefault(peer, Map.of()));
    }
}
