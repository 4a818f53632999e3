package io.kizuna.nat.internal.punch;

/**
 * The hole-punching part of PID {@code io.kizuna.nat}, checked when the
 * component activates so a bad value fails there with the key's name, not at
 * the first punch.
 *
 * @param policy    which candidates may be probed ({@code punchNetworks}, {@code punchPrivateAddresses})
 * @param schedule  {@code punchRounds}, {@code punchRoundMillis}
 * @param perPeerPerMinute {@code punchSessionsPerPeerPerMinute}
 * @param maxSessions      {@code maxPunchSessions}
 */
public record PunchSettings(CandidatePolicy policy, PunchSchedule schedule, int perPeerPerMinute, int maxSessions) {

    /** Default of {@code punchRounds}. */
    public static final int DEFAULT_ROUNDS = PunchSchedule.DEFAULT_ROUNDS;

    /** Default of {@code punchRoundMillis}. */
    public static final int DEFAULT_ROUND_MILLIS = (int) PunchSchedule.DEFAULT_ROUND_MILLIS;

    /** Default of {@code punchSessionsPerPeerPerMinute}. */
    public static final int DEFAULT_PER_PEER_PER_MINUTE = PunchLimiter.DEFAULT_PER_PEER_PER_MINUTE;

    /** Default of {@code maxPunchSessions}. */
    public static final int DEFAULT_MAX_SESSIONS = PunchLimiter.DEFAULT_MAX_SESSIONS;

    /**
     * @param networks         {@code punchNetworks}: CIDR prefixes candidates must lie in; empty for any
     * @param allowPrivate     {@code punchPrivateAddresses}
     * @param rounds           {@code punchRounds}
     * @param roundMillis      {@code punchRoundMillis}
     * @param perPeerPerMinute {@code punchSessionsPerPeerPerMinute}
     * @param maxSessions      {@code maxPunchSessions}
     * @return the settings
     * @throws IllegalArgumentException naming the key whose value is wrong
     */
    public static PunchSettings of(String[] networks, boolean allowPrivate, int rounds, int roundMillis,
            int perPeerPerMinute, int maxSessions) {
        if (perPeerPerMinute < 1 || perPeerPerMinute > PunchLimiter.MAX_LIMIT) {
            throw new IllegalArgumentException("punchSessionsPerPeerPerMinute is " + perPeerPerMinute
                    + ", expected 1 to " + PunchLimiter.MAX_LIMIT);
        }
        if (maxSessions < 1 || maxSessions > PunchLimiter.MAX_LIMIT) {
            throw new IllegalArgumentException("maxPunchSessions is " + maxSessions + ", expected 1 to "
                    + PunchLimiter.MAX_LIMIT);
        }
        return new PunchSettings(CandidatePolicy.of(networks, allowPrivate), new PunchSchedule(rounds, roundMillis),
                perPeerPerMinute, maxSessions);
    }
}
