package io.kizuna.relay.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.RelayFailed;

/**
 * A circuit on the relay: two streams spliced, bytes copied both ways without
 * being looked at, under the circuit's quota (bytes, lifetime, rate), its idle
 * limit and the relay's total bandwidth. An end of stream on one side
 * half-closes the other; a failure, or a limit reached, closes both.
 */
final class Splice {

    /** Bytes moved per read and per bandwidth request. */
    static final int CHUNK = 64 * 1024;

    /** Sees every chunk the relay forwards (metrics, and the tests' tap). */
    @FunctionalInterface
    interface Tap {
        /** The tap that sees nothing. */
        Tap NONE = b -> {
        };

        /** @param bytes a read-only view of the bytes forwarded */
        void forwarded(ByteBuffer bytes);
    }

    private final String id;
    private final PeerId dialer;
    private final PeerId target;
    private final Connection a;
    private final Connection b;
    private final Quota quota;
    private final Duration idle;
    private final TokenBucket circuitBucket;
    private final TokenBucket totalBucket;
    private final ScheduledExecutorService timer;
    private final Executor pool;
    private final Tap tap;
    private final BiConsumer<Splice, RelayFailed.Reason> ended;
    private final Instant started = Instant.now();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger halfClosed = new AtomicInteger();
    private final AtomicBoolean over = new AtomicBoolean();
    private volatile ScheduledFuture<?> deadline;
    private volatile ScheduledFuture<?> idleCheck;
    private volatile long lastActivityNanos = System.nanoTime();

    /**
     * @param idle how long the circuit may carry nothing either way before the relay cuts it; zero: no limit
     */
    Splice(String id, PeerId dialer, PeerId target, Connection a, Connection b, Quota quota, Duration idle,
            TokenBucket total, ScheduledExecutorService timer, Executor pool, Tap tap,
            BiConsumer<Splice, RelayFailed.Reason> ended) {
        this.id = id;
        this.dialer = dialer;
        this.target = target;
        this.a = a;
        this.b = b;
        this.quota = quota;
        this.idle = idle;
        this.circuitBucket = new TokenBucket(quota.rate(), timer);
        this.totalBucket = total;
        this.timer = timer;
        this.pool = pool;
        this.tap = tap;
        this.ended = ended;
    }

    String id() {
        return id;
    }

    PeerId dialer() {
        return dialer;
    }

    PeerId target() {
        return target;
    }

    Instant started() {
        return started;
    }

    long bytes() {
        return bytes.get();
    }

    void start() {
        if (quota.maxSeconds() > 0) {
            deadline = timer.schedule(() -> end(RelayFailed.Reason.DURATION_LIMIT), quota.maxSeconds(),
                    TimeUnit.SECONDS);
        }
        scheduleIdleCheck(idle.toNanos());
        pump(a, b);
        pump(b, a);
    }

    private void pump(Connection from, Connection to) {
        if (over.get()) {
            return;
        }
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        from.read(buf).whenCompleteAsync((n, e) -> {
            if (e != null) {
                end(RelayFailed.Reason.OTHER);
            } else if (n < 0) {
                to.shutdownOutput().whenComplete((v, x) -> {
                    if (x != null) {
                        end(RelayFailed.Reason.OTHER);
                    } else if (halfClosed.incrementAndGet() == 2) {
                        end(null);
                    }
                });
            } else {
                forward(from, to, buf.flip(), n);
            }
        }, pool);
    }

    private void forward(Connection from, Connection to, ByteBuffer buf, int n) {
        lastActivityNanos = System.nanoTime();
        long total = bytes.addAndGet(n);
        if (quota.maxBytes() > 0 && total > quota.maxBytes()) {
            end(RelayFailed.Reason.BYTES_LIMIT);
            return;
        }
        tap.forwarded(buf.asReadOnlyBuffer());
        circuitBucket.acquire(n).thenCompose(v -> totalBucket.acquire(n)).thenCompose(v -> to.write(buf))
                .whenComplete((v, e) -> {
                    if (e != null) {
                        end(RelayFailed.Reason.OTHER);
                    } else {
                        pump(from, to);
                    }
                });
    }

    private void scheduleIdleCheck(long afterNanos) {
        if (!idle.isZero() && !over.get()) {
            idleCheck = timer.schedule(this::idleCheck, Math.max(1, afterNanos), TimeUnit.NANOSECONDS);
        }
    }

    /** Cuts a circuit that moved nothing for the idle limit, so a silent dialer cannot hold it for its lifetime. */
    private void idleCheck() {
        long idleFor = System.nanoTime() - lastActivityNanos;
        if (idleFor >= idle.toNanos()) {
            end(RelayFailed.Reason.IDLE_LIMIT);
        } else {
            scheduleIdleCheck(idle.toNanos() - idleFor);
        }
    }

    /**
     * Ends the circuit: both streams are closed.
     *
     * @param reason the limit that ended it, or null when both sides finished or one failed
     */
    void end(RelayFailed.Reason reason) {
        if (!over.compareAndSet(false, true)) {
            return;
        }
        for (ScheduledFuture<?> f : new ScheduledFuture<?>[] {deadline, idleCheck}) {
            if (f != null) {
                f.cancel(false);
            }
        }
        CompletableFuture.allOf(a.close().toCompletableFuture(), b.close().toCompletableFuture())
                .whenComplete((v, e) -> ended.accept(this, reason));
    }
}
