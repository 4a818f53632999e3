package io.kizuna.quic.internal;

/**
 * At most so many events in each one-second window. Not thread-safe: each
 * instance is used on one socket's event loop only.
 */
final class PerSecondLimit {

    private final int max;
    private long windowStart = System.nanoTime();
    private int inWindow;

    /** @param max events allowed per second */
    PerSecondLimit(int max) {
        this.max = max;
    }

    /** @return whether one more event fits in the current second; counts it if so */
    boolean allowed() {
        long now = System.nanoTime();
        if (now - windowStart > 1_000_000_000L) {
            windowStart = now;
            inWindow = 0;
        }
        if (inWindow >= max) {
            return false;
        }
        inWindow++;
        return true;
    }
}
