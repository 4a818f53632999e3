package io.kizuna.relay.internal;

/**
 * Limits for one circuit; 0 means unlimited.
 *
 * @param maxBytes   bytes both ways together
 * @param maxSeconds lifetime
 * @param rate       bytes per second, both directions sharing it
 */
record Quota(long maxBytes, long maxSeconds, long rate) {

    static final Quota UNLIMITED = new Quota(0, 0, 0);

    /** @return the stricter of the two in each limit */
    Quota and(Quota other) {
        return new Quota(min(maxBytes, other.maxBytes), min(maxSeconds, other.maxSeconds), min(rate, other.rate));
    }

    private static long min(long a, long b) {
        if (a <= 0) {
            return b;
        }
        if (b <= 0) {
            return a;
        }
        return Math.min(a, b);
    }
}
