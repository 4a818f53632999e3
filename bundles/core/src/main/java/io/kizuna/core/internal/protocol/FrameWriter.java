package io.kizuna.core.internal.protocol;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import io.kizuna.transport.Connection;
import io.kizuna.transport.TransportException;

/**
 * Writes frames to a {@link Connection} one after another: the connection allows
 * one write in flight, so frames wait in a bounded queue. A full queue is an
 * error for the sender ({@link TransportException.LimitExceeded}), and after a
 * failed write every queued and later frame fails too.
 */
public final class FrameWriter {

    private final Connection connection;
    private final int maxQueued;
    private final ArrayDeque<Item> queue = new ArrayDeque<>();
    private boolean writing;
    private Throwable failure;

    private record Item(ByteBuffer frame, CompletableFuture<Void> done) {
    }

    /**
     * @param connection where to write
     * @param maxQueued  frames that may wait behind the one being written
     */
    public FrameWriter(Connection connection, int maxQueued) {
        this.connection = connection;
        this.maxQueued = maxQueued;
    }

    /**
     * Queues a frame.
     *
     * @param frame the encoded frame (taken over by the writer)
     * @return completes when the connection took the frame
     */
    public CompletableFuture<Void> send(ByteBuffer frame) {
        Item item = new Item(frame, new CompletableFuture<>());
        boolean start;
        synchronized (this) {
            if (failure != null) {
                return CompletableFuture.failedFuture(failure);
            }
            if (queue.size() >= maxQueued) {
                return CompletableFuture.failedFuture(new TransportException.LimitExceeded("queued control frames",
                        maxQueued, "the peer is not reading its control connection (" + connection.info().id()
                                + ")"));
            }
            queue.add(item);
            start = !writing;
            writing = true;
        }
        if (start) {
            drain();
        }
        return item.done();
    }

    private void drain() {
        while (true) {
            Item item;
            synchronized (this) {
                item = queue.poll();
                if (item == null) {
                    writing = false;
                    return;
                }
            }
            CompletableFuture<Void> write;
            try {
                write = connection.write(item.frame()).toCompletableFuture();
            } catch (RuntimeException e) {
                write = CompletableFuture.failedFuture(e);
            }
            if (!write.isDone()) {
                write.whenComplete((v, e) -> {
                    if (written(item, e)) {
                        drain();
                    }
                });
                return;
            }
            Throwable e = null;
            try {
                write.join();
            } catch (CompletionException | java.util.concurrent.CancellationException ex) {
                e = ex.getCause() != null ? ex.getCause() : ex;
            }
            if (!written(item, e)) {
                return;
            }
        }
    }

    /** @return whether to go on writing */
    private boolean written(Item item, Throwable e) {
        if (e == null) {
            item.done().complete(null);
            return true;
        }
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        List<Item> failed = new ArrayList<>();
        failed.add(item);
        synchronized (this) {
            failure = cause;
            failed.addAll(queue);
            queue.clear();
            writing = false;
        }
        failed.forEach(i -> i.done().completeExceptionally(cause));
        return false;
    }
}
