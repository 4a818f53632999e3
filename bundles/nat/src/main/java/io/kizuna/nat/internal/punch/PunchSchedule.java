package io.kizuna.nat.internal.punch;

import java.util.ArrayList;
import java.util.List;

/**
 * When probes leave, as pure functions of the configuration and the measured
 * round-trip time (the timing of libp2p DCUtR, the probe spacing of ICE's
 * retransmissions, shortened).
 *
 * <p>Each round: the initiator sends its CANDIDATES and times the responder's
 * CANDIDATES coming back (one RTT over the existing connection); it sends SYNC
 * and starts probing {@link #initiatorStartDelay RTT/2} later, when SYNC is
 * about to reach the responder, which starts probing the moment it reads SYNC.
 * Both sides' first probes so leave at about the same time and open each NAT's
 * mapping before the other's probe arrives. Within a round every candidate
 * gets probes at {@link #probeOffsets} (0, 50, 100, 200, 400, 800, 1600 ms with
 * the default 3 s budget): early ones for the common case, later ones for a
 * slow NAT or a lost probe, none after the budget; after the budget the round
 * is lost and the initiator starts the next one, {@code rounds} in all.
 *
 * @param rounds      rounds before the session gives up, 1 to {@link PunchCodec#MAX_ROUND}
 * @param roundMillis each round's budget, from its start to the last reply awaited
 */
record PunchSchedule(int rounds, long roundMillis) {

    /** Rounds by default, as DCUtR's three attempts. */
    static final int DEFAULT_ROUNDS = 3;

    /** A round's budget by default: a few RTTs on a slow path, and room for seven probes. */
    static final long DEFAULT_ROUND_MILLIS = 3_000;

    /** The shortest budget configurable: it must outlast a long RTT. */
    static final long MIN_ROUND_MILLIS = 500;

    /** The longest budget configurable: every round's CANDIDATES must stay fresh ({@link #MAX_AGE_MILLIS}). */
    static final long MAX_ROUND_MILLIS = 10_000;

    /** The first gap between probes to one candidate; each later gap doubles. */
    static final long FIRST_GAP_MILLIS = 50;

    /** The most the initiator waits after SYNC: half an RTT above this is a path not worth punching over. */
    static final long MAX_START_DELAY_MILLIS = 2_000;

    /** The oldest CANDIDATES accepted. */
    static final long MAX_AGE_MILLIS = 30_000;

    /** How far in the future a CANDIDATES may be dated: clocks of two hosts differ. */
    static final long MAX_SKEW_MILLIS = 5_000;

    /** The default schedule. */
    static final PunchSchedule DEFAULT = new PunchSchedule(DEFAULT_ROUNDS, DEFAULT_ROUND_MILLIS);

    PunchSchedule {
        if (rounds < 1 || rounds > PunchCodec.MAX_ROUND) {
            throw new IllegalArgumentException("punchRounds is " + rounds + ", expected 1 to " + PunchCodec.MAX_ROUND);
        }
        if (roundMillis < MIN_ROUND_MILLIS || roundMillis > MAX_ROUND_MILLIS) {
            throw new IllegalArgumentException("punchRoundMillis is " + roundMillis + ", expected " + MIN_ROUND_MILLIS
                    + " to " + MAX_ROUND_MILLIS);
        }
    }

    /**
     * @param rttMillis the round trip of the CANDIDATES exchange, in ms (not negative)
     * @return how long the initiator waits after sending SYNC before its first probe: half the RTT, at most
     *         {@link #MAX_START_DELAY_MILLIS}
     */
    static long initiatorStartDelay(long rttMillis) {
        return Math.min(Math.max(0, rttMillis) / 2, MAX_START_DELAY_MILLIS);
    }

    /** @return when the probes to each candidate leave, ms after the round's start: 0, 50, 100, 200 ... below the budget */
    List<Long> probeOffsets() {
        List<Long> out = new ArrayList<>();
        out.add(0L);
        for (long t = FIRST_GAP_MILLIS, gap = FIRST_GAP_MILLIS; t < roundMillis; gap = t, t += gap) {
            out.add(t);
        }
        return out;
    }

    /**
     * @return how long the responder waits for the initiator's next message (it does not know the RTT):
     *         the round, and twice the largest start delay for the initiator's wait after SYNC and the
     *         message's way, so a path of up to 4 s RTT is waited for
     */
    long responderWaitMillis() {
        return roundMillis + 2 * MAX_START_DELAY_MILLIS;
    }
}
