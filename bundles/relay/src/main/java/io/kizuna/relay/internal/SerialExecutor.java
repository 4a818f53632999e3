package io.kizuna.relay.internal;

import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/** Runs tasks one at a time, in order, on a shared executor (one per stream). */
final class SerialExecutor implements Executor {

    private final Executor pool;
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private boolean running;

    SerialExecutor(Executor pool) {
        this.pool = pool;
    }

    @Override
    public void execute(Runnable task) {
        synchronized (tasks) {
            tasks.add(task);
            if (running) {
                return;
            }
            running = true;
        }
        try {
            pool.execute(this::drain);
        } catch (RejectedExecutionException stopped) {
            synchronized (tasks) { // the pool stopped: nothing queued here will run, so later tasks fail too
                tasks.clear();
                running = false;
            }
            throw stopped;
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
