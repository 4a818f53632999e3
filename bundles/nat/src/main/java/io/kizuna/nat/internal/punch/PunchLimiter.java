package io.kizuna.nat.internal.punch;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * Admission of punch sessions, whichever side asks: a punch makes this node
 * send probes, so a peer must not be able to make it send them at will.
 *
 * <ul>
 * <li>One session at a time per peer ({@code PEER_BUSY}).</li>
 * <li>At most {@code perPeerPerMinute} sessions per peer and minute: a token
 *     bucket of that size, refilled evenly over a minute ({@code PEER_RATE}).</li>
 * <li>At most {@code maxSessions} sessions at once in all ({@code TOTAL}).</li>
 * </ul>
 *
 * <p>The buckets of at most {@link #MAX_PEERS} peers are kept, the least
 * recently used forgotten first (a forgotten peer starts with a full bucket,
 * which the total bound still caps). Every refusal is counted by reason and
 * carries the limit's name and value.
 */
final class PunchLimiter {

    /** Sessions per peer and minute by default. */
    static final int DEFAULT_PER_PEER_PER_MINUTE = 6;

    /** Sessions at once by default. */
    static final int DEFAULT_MAX_SESSIONS = 16;

    /** The largest value either limit may be configured to. */
    static final int MAX_LIMIT = 1000;

    /** Peers whose buckets are kept. */
    static final int MAX_PEERS = 4096;

    /** Why a session was refused. */
    enum Refusal {
        /** The peer has a session running. */
        PEER_BUSY,
        /** The peer's sessions per minute are used up. */
        PEER_RATE,
        /** As many sessions as allowed run in all. */
        TOTAL
    }

    /** A granted session; close it when the session ends. */
    interface Permit extends AutoCloseable {
        @Override
        void close();
    }

    private static final long MINUTE_NANOS = TimeUnit.MINUTES.toNanos(1);

    private final int perPeerPerMinute;
    private final int maxSessions;
    private final LongSupplier nanoTime;
    private final Set<PeerId> running = new HashSet<>();
    private final Map<PeerId, long[]> buckets = new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<PeerId, long[]> eldest) {
            return size() > MAX_PEERS;
        }
    };
    private final long[] refused = new long[Refusal.values().length];
    private long granted;

    /**
     * @param perPeerPerMinute sessions per peer and minute, at least 1
     * @param maxSessions      sessions at once, at least 1
     * @param nanoTime         the clock ({@code System::nanoTime})
     */
    PunchLimiter(int perPeerPerMinute, int maxSessions, LongSupplier nanoTime) {
        if (perPeerPerMinute < 1 || perPeerPerMinute > MAX_LIMIT || maxSessions < 1 || maxSessions > MAX_LIMIT) {
            throw new IllegalArgumentException("punch limits must be 1 to " + MAX_LIMIT
                    + ": punchSessionsPerPeerPerMinute=" + perPeerPerMinute + ", maxPunchSessions=" + maxSessions);
        }
        this.perPeerPerMinute = perPeerPerMinute;
        this.maxSessions = maxSessions;
        this.nanoTime = nanoTime;
    }

    /**
     * @param peer the peer the session is with
     * @return the permit, to close when the session ends
     * @throws TransportException.LimitExceeded naming the limit, when refused
     */
    synchronized Permit acquire(PeerId peer) throws TransportException.LimitExceeded {
        if (running.contains(peer)) {
            throw refuse(Refusal.PEER_BUSY, "maxPunchSessionsPerPeer", 1, "a punch session with " + peer
                    + " is running");
        }
        if (running.size() >= maxSessions) {
            throw refuse(Refusal.TOTAL, "maxPunchSessions", maxSessions, running.size()
                    + " punch sessions are running");
        }
        // A bucket holds tokens scaled by MINUTE_NANOS, so the refill needs no fractions.
        long now = nanoTime.getAsLong();
        long full = perPeerPerMinute * MINUTE_NANOS;
        long[] b = buckets.computeIfAbsent(peer, p -> new long[] {full, now});
        b[0] = Math.min(full, b[0] + Math.min(now - b[1], MINUTE_NANOS) * perPeerPerMinute);
        b[1] = now;
        if (b[0] < MINUTE_NANOS) {
            long waitMillis = TimeUnit.NANOSECONDS.toMillis((MINUTE_NANOS - b[0]) / perPeerPerMinute) + 1;
            throw refuse(Refusal.PEER_RATE, "punchSessionsPerPeerPerMinute", perPeerPerMinute, peer
                    + " had its punch sessions for this minute; the next in " + waitMillis + " ms");
        }
        b[0] -= MINUTE_NANOS;
        running.add(peer);
        granted++;
        boolean[] closed = {false};
        return () -> {
            synchronized (PunchLimiter.this) {
                if (!closed[0]) {
                    closed[0] = true;
                    running.remove(peer);
                }
            }
        };
    }

    private TransportException.LimitExceeded refuse(Refusal why, String limit, long value, String message) {
        refused[why.ordinal()]++;
        return new TransportException.LimitExceeded(limit, value, "punch refused (" + why + "): " + message);
    }

    /** @return sessions granted so far */
    synchronized long granted() {
        return granted;
    }

    /**
     * @param why a reason
     * @return sessions refused for it so far
     */
    synchronized long refused(Refusal why) {
        return refused[why.ordinal()];
    }

    /** @return sessions running now */
    synchronized int running() {
        return running.size();
    }
}
