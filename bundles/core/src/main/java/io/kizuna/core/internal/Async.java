package io.kizuna.core.internal;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import io.kizuna.transport.TransportException;

/** Small helpers for composing stages without blocking. */
final class Async {

    private Async() {
    }

    /**
     * Fails {@code f} with {@code onTimeout} unless it completes in time.
     *
     * @return {@code f}
     */
    static <T> CompletableFuture<T> within(CompletableFuture<T> f, Duration timeout, ScheduledExecutorService timer,
            Supplier<? extends Throwable> onTimeout) {
        if (f.isDone()) {
            return f;
        }
        ScheduledFuture<?> t;
        try {
            t = timer.schedule(() -> {
                f.completeExceptionally(onTimeout.get());
            }, timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            f.completeExceptionally(new TransportException.Io("the connection manager has stopped", null));
            return f;
        }
        f.whenComplete((v, e) -> t.cancel(false));
        return f;
    }

    /**
     * Runs {@code step} again and again until its stage yields false or fails. A
     * step that completes at once is followed in the same loop, not by recursion.
     *
     * @return completes when the loop ends
     */
    static CompletableFuture<Void> loop(Supplier<? extends CompletionStage<Boolean>> step) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        new Runnable() {
            @Override
            public void run() {
                try {
                    while (!done.isDone()) {
                        CompletableFuture<Boolean> f = step.get().toCompletableFuture();
                        if (!f.isDone()) {
                            f.whenComplete((more, e) -> {
                                if (e != null) {
                                    done.completeExceptionally(unwrap(e));
                                } else if (!more) {
                                    done.complete(null);
                                } else {
                                    run();
                                }
                            });
                            return;
                        }
                        boolean more;
                        try {
                            more = f.join();
                        } catch (CompletionException | CancellationException e) {
                            done.completeExceptionally(unwrap(e));
                            return;
                        }
                        if (!more) {
                            done.complete(null);
                            return;
                        }
                    }
                } catch (RuntimeException e) {
                    done.completeExceptionally(e);
                }
            }
        }.run();
        return done;
    }

    /** @return the failure behind completion and execution wrappers */
    static Throwable unwrap(Throwable t) {
        Throwable c = t;
        while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /** @return a stage's failure as a TransportException */
    static TransportException transportFailure(Throwable t) {
        return TransportException.unwrap(t);
    }

    /** Closes a connection's stage quietly after a bounded wait, whatever happens to it. */
    static void closeAfter(CompletionStage<?> before, io.kizuna.transport.Connection c, Duration max,
            ScheduledExecutorService timer) {
        CompletableFuture<Object> f = new CompletableFuture<>();
        before.whenComplete((v, e) -> f.complete(null));
        within(f, max, timer, () -> new TransportException.Io("timed out", null))
                .whenComplete((v, e) -> c.close());
    }
}
