package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The serial executor when its pool refuses work: what it accepted still runs, in order. */
class SerialExecutorTest {

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void tasksQueuedWhileThePoolRefusesStillRunAndLaterOnesAreRefused() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch refuse = new CountDownLatch(1);
        // A pool that is stopping: it takes its time, then refuses.
        SerialExecutor serial = new SerialExecutor(r -> {
            entered.countDown();
            try {
                refuse.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new RejectedExecutionException("stopped");
        });
        List<String> ran = new CopyOnWriteArrayList<>();
        ExecutorService caller = Executors.newSingleThreadExecutor();
        try {
            Future<?> first = caller.submit(() -> serial.execute(() -> ran.add("first")));
            entered.await(10, SECONDS);
            // Accepted while the first is being handed to the pool.
            CompletableFuture<Void> second = CompletableFuture.runAsync(() -> ran.add("second"), serial);
            refuse.countDown();
            assertThatThrownBy(() -> first.get(10, SECONDS)).hasCauseInstanceOf(RejectedExecutionException.class);
            second.get(10, SECONDS);
            assertThat(ran).containsExactly("second");
            // From now on nothing is accepted: the caller learns it at once, and a dependent future fails.
            assertThatThrownBy(() -> serial.execute(() -> ran.add("third")))
                    .isInstanceOf(RejectedExecutionException.class);
            CompletableFuture<Void> before = new CompletableFuture<>();
            CompletableFuture<Void> fourth = before.thenRunAsync(() -> ran.add("fourth"), serial);
            before.complete(null);
            assertThatThrownBy(() -> fourth.get(10, SECONDS)).hasCauseInstanceOf(RejectedExecutionException.class);
            assertThat(ran).containsExactly("second");
        } finally {
            caller.shutdownNow();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void stoppingThePoolRunsADrainItHeldBack() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        CountDownLatch busy = new CountDownLatch(1);
        pool.execute(() -> {
            try {
                busy.await(); // a task that ends only when interrupted, holding the pool's one thread
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        SerialExecutor serial = new SerialExecutor(pool);
        CompletableFuture<Void> queued = CompletableFuture.runAsync(() -> { }, serial);
        SerialExecutor.stop(pool);
        queued.get(10, SECONDS);
        assertThat(pool.isShutdown()).isTrue();
    }
}
