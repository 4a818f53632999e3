package io.kizuna.relay.internal;

import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A token bucket in bytes per second whose waiters are served first come, first
 * served: each circuit direction asks for at most one chunk at a time, so a
 * shared bucket gives every circuit its turn (fair sharing of the total rate).
 * A rate of 0 means unlimited. At most {@value #MAX_WAITERS} waiters; more is a
 * failure the caller sees.
 */
final class TokenBucket {

    static final int MAX_WAITERS = 4096;

    private record Waiter(long bytes, CompletableFuture<Void> done) {
    }

    private final long rate;
    private final long capacity;
    private final ScheduledExecutorService timer;
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private double tokens;
    private long lastNanos = System.nanoTime();
    private boolean scheduled;

    /**
     * @param rate  bytes per second, 0 for unlimited
     * @param timer runs the refills
     */
    TokenBucket(long rate, ScheduledExecutorService timer) {
        this.rate = rate;
        // A burst of 50 ms of traffic, at least one chunk of the largest size asked for.
        this.capacity = Math.max(Splice.CHUNK, rate / 20);
        this.tokens = capacity;
        this.timer = timer;
    }

    /**
     * @param bytes how many bytes are about to be sent (at most one chunk)
     * @return completes when they may be sent
     */
    CompletableFuture<Void> acquire(long bytes) {
        if (rate <= 0) {
            return CompletableFuture.completedFuture(null);
        }
        synchronized (this) {
            refill();
            if (waiters.isEmpty() && tokens >= bytes) {
                tokens -= bytes;
                return CompletableFuture.completedFuture(null);
            }
            if (waiters.size() >= MAX_WAITERS) {
                return CompletableFuture.failedFuture(new IllegalStateException(
                        "more than " + MAX_WAITERS + " circuit directions wait for bandwidth"));
            }
            Waiter w = new Waiter(Math.min(bytes, capacity), new CompletableFuture<>());
            waiters.add(w);
            schedule();
            return w.done();
        }
    }

    private void refill() {
        long now = System.nanoTime();
        tokens = Math.min(capacity, tokens + (now - lastNanos) * (double) rate / 1e9);
        lastNanos = now;
    }

    private void schedule() {
        if (scheduled || waiters.isEmpty()) {
            return;
        }
        scheduled = true;
        double missing = Math.max(0, waiters.peek().bytes() - tokens);
        long delayNanos = Math.max(200_000, (long) (missing * 1e9 / rate));
        timer.schedule(this::release, delayNanos, TimeUnit.NANOSECONDS);
    }

    private void release() {
        ArrayDeque<Waiter> ready = new ArrayDeque<>();
        synchronized (this) {
            scheduled = false;
            refill();
            while (!waiters.isEmpty() && tokens >= waiters.peek().bytes()) {
                Waiter w = waiters.poll();
                tokens -= w.bytes();
                ready.add(w);
            }
            schedule();
        }
        ready.forEach(w -> w.done().complete(null));
    }
}
