package io.kizuna.core.internal.memory;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.TransportException;

/**
 * One direction of an in-memory connection: a bounded ring buffer between one
 * writer and one reader.
 *
 * <p>A write completes once all its bytes are in the ring, so a writer whose
 * reader does not read waits once the ring is full (the backpressure of the
 * {@link io.kizuna.transport.Connection} contract). A read completes as soon as
 * one byte is there. Futures of the side that called complete before the call
 * returns; futures of the other side, which was waiting, complete on that
 * side's executor, as an event loop would wake it, so two sides answering each
 * other never recurse on one stack.
 */
final class MemoryPipe {

    private final byte[] ring;
    private final AtomicLong sent;
    private final AtomicLong received;
    private MemoryConnection writer;
    private MemoryConnection reader;
    private int head;
    private int size;
    private boolean writerDone;
    private boolean readerGone;
    private TransportException reset;
    private ByteBuffer pendingDst;
    private CompletableFuture<Integer> pendingRead;
    private ByteBuffer pendingSrc;
    private CompletableFuture<Void> pendingWrite;

    /**
     * @param capacity bytes the ring holds
     * @param sent     the writer's count of bytes taken
     * @param received the reader's count of bytes delivered
     */
    MemoryPipe(int capacity, AtomicLong sent, AtomicLong received) {
        this.ring = new byte[capacity];
        this.sent = sent;
        this.received = received;
    }

    void ends(MemoryConnection writer, MemoryConnection reader) {
        this.writer = writer;
        this.reader = reader;
    }

    /** Writer side: takes all of {@code src}, waiting for space as needed. */
    CompletableFuture<Void> write(ByteBuffer src) {
        List<Runnable> later = new ArrayList<>();
        CompletableFuture<Void> f = new CompletableFuture<>();
        boolean peerGone = false;
        synchronized (this) {
            if (reset != null) {
                return CompletableFuture.failedFuture(reset);
            }
            if (readerGone) {
                peerGone = true;
            } else if (writerDone) {
                return CompletableFuture.failedFuture(new TransportException.Io("connection " + writer.id()
                        + " has shut down its output; nothing more can be written on it", null));
            } else {
                pendingSrc = src;
                pendingWrite = f;
                settle(later, Side.WRITER);
            }
        }
        if (peerGone) {
            writer.peerStoppedReading();
            return CompletableFuture.failedFuture(peerClosed());
        }
        later.forEach(Runnable::run);
        return f;
    }

    /** Reader side: at least one byte, or -1 at end of stream. */
    CompletableFuture<Integer> read(ByteBuffer dst) {
        List<Runnable> later = new ArrayList<>();
        CompletableFuture<Integer> f = new CompletableFuture<>();
        synchronized (this) {
            if (reset != null && size == 0) {
                return CompletableFuture.failedFuture(reset);
            }
            pendingDst = dst;
            pendingRead = f;
            settle(later, Side.READER);
        }
        later.forEach(Runnable::run);
        return f;
    }

    /** Writer side: no more bytes will come; the reader gets -1 once it read what is there. */
    void closeWriter(TransportException pendingWriteFailure) {
        List<Runnable> later = new ArrayList<>();
        synchronized (this) {
            writerDone = true;
            if (pendingWrite != null) {
                CompletableFuture<Void> w = pendingWrite;
                pendingWrite = null;
                pendingSrc = null;
                later.add(() -> w.completeExceptionally(pendingWriteFailure));
            }
            settle(later, Side.WRITER);
        }
        later.forEach(Runnable::run);
    }

    /** Reader side: it reads no more; what is buffered is dropped and the writer's writes fail. */
    void closeReader() {
        List<Runnable> later = new ArrayList<>();
        boolean writerWaiting;
        synchronized (this) {
            readerGone = true;
            size = 0;
            writerWaiting = pendingWrite != null;
            if (pendingWrite != null) {
                CompletableFuture<Void> w = pendingWrite;
                pendingWrite = null;
                pendingSrc = null;
                later.add(() -> writer.dispatch(() -> w.completeExceptionally(peerClosed())));
            }
            if (pendingRead != null) {
                CompletableFuture<Integer> r = pendingRead;
                pendingRead = null;
                pendingDst = null;
                later.add(() -> r.complete(-1));
            }
        }
        if (writerWaiting) {
            writer.dispatch(writer::peerStoppedReading);
        }
        later.forEach(Runnable::run);
    }

    /** Aborts: waiting operations fail, and so does every later one. */
    void reset(TransportException cause) {
        List<Runnable> later = new ArrayList<>();
        synchronized (this) {
            if (reset != null) {
                return;
            }
            reset = cause;
            size = 0;
            if (pendingWrite != null) {
                CompletableFuture<Void> w = pendingWrite;
                pendingWrite = null;
                pendingSrc = null;
                later.add(() -> writer.dispatch(() -> w.completeExceptionally(cause)));
            }
            if (pendingRead != null) {
                CompletableFuture<Integer> r = pendingRead;
                pendingRead = null;
                pendingDst = null;
                later.add(() -> reader.dispatch(() -> r.completeExceptionally(cause)));
            }
        }
        later.forEach(Runnable::run);
    }

    private TransportException peerClosed() {
        return new TransportException.Io("connection " + writer.id() + ": the peer closed the connection and reads "
                + "no more; the bytes were not delivered", null);
    }

    private enum Side { READER, WRITER }

    /** Moves bytes while either side can make progress; queues the completions. Holds the lock. */
    private void settle(List<Runnable> later, Side caller) {
        boolean progress = true;
        while (progress) {
            progress = false;
            if (pendingRead != null && size > 0) {
                int n = copyOut(pendingDst);
                CompletableFuture<Integer> r = pendingRead;
                pendingRead = null;
                pendingDst = null;
                later.add(caller == Side.READER ? () -> r.complete(n) : () -> reader.dispatch(() -> r.complete(n)));
                progress = true;
            }
            if (pendingWrite != null && size < ring.length) {
                copyIn(pendingSrc);
                if (!pendingSrc.hasRemaining()) {
                    CompletableFuture<Void> w = pendingWrite;
                    pendingWrite = null;
                    pendingSrc = null;
                    later.add(caller == Side.WRITER ? () -> w.complete(null)
                            : () -> writer.dispatch(() -> w.complete(null)));
                }
                progress = true;
            }
            if (pendingRead != null && size == 0 && writerDone) {
                CompletableFuture<Integer> r = pendingRead;
                pendingRead = null;
                pendingDst = null;
                later.add(caller == Side.READER ? () -> r.complete(-1) : () -> reader.dispatch(() -> r.complete(-1)));
            }
        }
    }

    private void copyIn(ByteBuffer src) {
        int n = Math.min(src.remaining(), ring.length - size);
        int tail = (head + size) % ring.length;
        int first = Math.min(n, ring.length - tail);
        src.get(ring, tail, first);
        if (n > first) {
            src.get(ring, 0, n - first);
        }
        size += n;
        sent.addAndGet(n);
    }

    private int copyOut(ByteBuffer dst) {
        int n = Math.min(dst.remaining(), size);
        int first = Math.min(n, ring.length - head);
        dst.put(ring, head, first);
        if (n > first) {
            dst.put(ring, 0, n - first);
        }
        head = (head + n) % ring.length;
        size -= n;
        received.addAndGet(n);
        return n;
    }
}
