package io.kizuna.core.internal;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * What one peer may take of this node's stream budget: streams naming their
 * protocol ({@code maxOpeningStreamsPerPeer}), open streams
 * ({@code maxStreamsPerPeer}) and perf bytes sent back to it
 * ({@code maxPerfBytesPerPeerPerMinute}, a token bucket refilled evenly over a
 * minute). The node-wide limits stay where they are; these keep one
 * authenticated peer from taking all of them.
 *
 * <p>Counts live in maps keyed by peer, dropped at zero (or at a full bucket),
 * so their size is bounded by the streams open and by {@code maxKnownPeers}.
 * Refusals are counted, and logged at most once per limit every
 * {@link #LOG_INTERVAL_NANOS}, with the number of refusals not logged.
 */
final class PeerBudgets {

    private static final System.Logger LOG = System.getLogger(PeerBudgets.class.getName());

    /** At most one log line per limit this often. */
    static final long LOG_INTERVAL_NANOS = 10_000_000_000L;

    private static final long MINUTE_NANOS = 60_000_000_000L;

    private final int maxOpening;
    private final int maxOpen;
    private final long perfPerMinute;
    private final int maxPeers;
    private final LongSupplier nanoTime;
    private final Map<PeerId, Integer> opening = new HashMap<>();
    private final Map<PeerId, Integer> open = new HashMap<>();
    private final Map<PeerId, Bucket> perf = new HashMap<>();
    private final AtomicLong refusals = new AtomicLong();
    private final Map<String, long[]> logged = new HashMap<>(); // limit -> {last log nanos, suppressed}

    private static final class Bucket {
        double tokens;
        long at;
    }

    /**
     * @param maxOpening    streams of one peer naming their protocol at once
     * @param maxOpen       open streams of one peer
     * @param perfPerMinute perf bytes sent back to one peer per minute
     * @param maxPeers      peers whose perf budget is remembered at once
     * @param nanoTime      the clock
     */
    PeerBudgets(int maxOpening, int maxOpen, long perfPerMinute, int maxPeers, LongSupplier nanoTime) {
        this.maxOpening = maxOpening;
        this.maxOpen = maxOpen;
        this.perfPerMinute = perfPerMinute;
        this.maxPeers = maxPeers;
        this.nanoTime = nanoTime;
    }

    /** @return streams refused because a peer was at one of its limits, since the start */
    long refusals() {
        return refusals.get();
    }

    /**
     * Takes an opening slot of the peer.
     *
     * @param peer the peer
     * @return null when taken, otherwise the refusal to report
     */
    synchronized TransportException.LimitExceeded startOpening(PeerId peer) {
        int n = opening.getOrDefault(peer, 0);
        if (n >= maxOpening) {
            return refused("maxOpeningStreamsPerPeer", maxOpening, "peer " + peer.shortForm() + " has " + n
                    + " streams naming their protocol on this node; wait for them or raise maxOpeningStreamsPerPeer");
        }
        opening.put(peer, n + 1);
        return null;
    }

    /** @param peer a peer whose stream named its protocol (or failed to) */
    synchronized void endOpening(PeerId peer) {
        opening.computeIfPresent(peer, (k, n) -> n > 1 ? n - 1 : null);
    }

    /**
     * Takes an open-stream slot of the peer; {@link #closed} gives it back.
     *
     * @param peer the peer
     * @return null when taken, otherwise the refusal to report
     */
    synchronized TransportException.LimitExceeded open(PeerId peer) {
        int n = open.getOrDefault(peer, 0);
        if (n >= maxOpen) {
            return refused("maxStreamsPerPeer", maxOpen, "peer " + peer.shortForm() + " has " + n
                    + " streams open on this node; close some or raise maxStreamsPerPeer");
        }
        open.put(peer, n + 1);
        return null;
    }

    /** @param peer a peer one of whose streams closed */
    synchronized void closed(PeerId peer) {
        open.computeIfPresent(peer, (k, n) -> n > 1 ? n - 1 : null);
    }

    /**
     * Takes perf bytes from the peer's budget, all or nothing.
     *
     * @param peer  the peer
     * @param bytes the bytes its run asks back
     * @return null when taken, otherwise the refusal to report
     */
    synchronized TransportException.LimitExceeded perf(PeerId peer, long bytes) {
        long now = nanoTime.getAsLong();
        refill(now);
        Bucket b = perf.get(peer);
        if (b == null) {
            if (perf.size() >= maxPeers) {
                return refused("maxPerfBytesPerPeerPerMinute", perfPerMinute, perf.size() + " peers ran perf "
                        + "on this node within the last minute (maxKnownPeers); try again later");
            }
            b = new Bucket();
            b.tokens = perfPerMinute;
            b.at = now;
        }
        if (bytes > b.tokens) {
            perf.put(peer, b);
            return refused("maxPerfBytesPerPeerPerMinute", perfPerMinute, "a perf run of " + bytes + " bytes for "
                    + "peer " + peer.shortForm() + ", which has " + (long) b.tokens + " of its " + perfPerMinute
                    + " bytes per minute left; ask for less or wait");
        }
        b.tokens -= bytes;
        perf.put(peer, b);
        return null;
    }

    /** Refills every bucket and forgets the full ones. */
    private void refill(long now) {
        for (Iterator<Bucket> it = perf.values().iterator(); it.hasNext();) {
            Bucket b = it.next();
            b.tokens = Math.min(perfPerMinute, b.tokens + (double) perfPerMinute * (now - b.at) / MINUTE_NANOS);
            b.at = now;
            if (b.tokens >= perfPerMinute) {
                it.remove();
            }
        }
    }

    private TransportException.LimitExceeded refused(String limit, long value, String message) {
        refusals.incrementAndGet();
        long now = nanoTime.getAsLong();
        long[] l = logged.computeIfAbsent(limit, k -> new long[] {now - LOG_INTERVAL_NANOS, 0});
        if (now - l[0] >= LOG_INTERVAL_NANOS) {
            LOG.log(System.Logger.Level.WARNING, "refused a stream: " + message
                    + (l[1] > 0 ? " (" + l[1] + " more refusals at " + limit + " not logged)" : ""));
            l[0] = now;
            l[1] = 0;
        } else {
            l[1]++;
        }
        return new TransportException.LimitExceeded(limit, value, message);
    }
}
