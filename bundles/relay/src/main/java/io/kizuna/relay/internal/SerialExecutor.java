package io.kizuna.relay.internal;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs tasks one at a time, in order, on a shared executor (one per stream).
 *
 * <p>Once the pool refuses work (it is stopping), the task that met the refusal
 * is refused to its caller, every task accepted before it still runs (on the
 * refused caller's thread, in order: a task accepted is a future someone waits
 * for), and every later task is refused at once.
 */
final class SerialExecutor implements Executor {

    private final Executor pool;
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private boolean running;
    private boolean stopped;

    SerialExecutor(Executor pool) {
        this.pool = pool;
    }

    @Override
    public void execute(Runnable task) {
        synchronized (tasks) {
            if (stopped) {
                throw new RejectedExecutionException("the relay's executor is stopped");
            }
            tasks.add(task);
            if (running) {
                return;
            }
            running = true;
        }
        try {
            pool.execute(this::drain);
        } catch (RejectedExecutionException refused) {
            synchronized (tasks) {
                stopped = true;
                tasks.removeFirstOccurrence(task);
            }
            // Tasks other threads queued meanwhile were accepted: they run here, after which none is taken.
            drain();
            throw refused;
        }
    }

    /**
     * Stops one of the relay's pools without losing what it accepted: queued
     * work may finish for a second, and what never started is run on this
     * thread (it does not block: nothing in the relay does), so a serial
     * executor's drain the pool held back still runs and its futures complete.
     *
     * @param pool the pool to stop
     */
    static void stop(ExecutorService pool) {
        pool.shutdown();
        try {
            if (pool.awaitTermination(1, TimeUnit.SECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Runnable never : pool.shutdownNow()) {
            try {
                never.run();
            } catch (RuntimeException e) {
                System.getLogger(SerialExecutor.class.getName()).log(System.Logger.Level.DEBUG,
                        "relay task failed while stopping", e);
            }
        }
    }

    private void drain() {
        while (true) {
            Runnable next;
            synchronized (tasks) {
                next = tasks.poll();
                if (next == null) {
                    running = false;
                    return;
                }
            }
            try {
                next.run();
            } catch (RuntimeException | LinkageError | AssertionError e) {
                System.getLogger(SerialExecutor.class.getName()).log(System.Logger.Level.WARNING,
                        "relay task failed", e);
            }
        }
    }
}
