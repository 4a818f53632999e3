package io.kizuna.core.internal.mux;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.TransportException;

/**
 * One stream of a {@link MuxSession}. Writes go out in DATA frames of at most
 * {@value MuxSession#MAX_DATA_FRAME} bytes while the peer's window allows; a
 * write completes once its last frame is written to the connection, so a writer
 * facing a slow reader waits for WINDOW_UPDATEs instead of buffering. Received
 * data waits here, at most one window of it; reading it gives the peer credit
 * back once half a window was read.
 *
 * <p>{@link #shutdownOutput()} sends FIN; {@link #close()} drops what was
 * received and not read and sends FIN after everything written; data that
 * arrives after that is answered with RST (the peer stops writing; its reads
 * still get all that was written here, then end of stream), and a stream whose
 * peer has not sent its FIN within the close timeout is reset. {@link #reset()}
 * ends both directions at once. All state is guarded by the session's lock.
 */
final class MuxStream implements Connection {

    private record PendingRead(ByteBuffer dst, CompletableFuture<Integer> result) {
    }

    private record PendingWrite(ByteBuffer src, CompletableFuture<Void> result) {
    }

    final int id;
    private final MuxSession session;
    private final boolean outbound;
    private final Instant openedAt = Instant.now();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    boolean awaitingSyn;
    boolean acked;
    private long sendWindow = MuxFrame.INITIAL_WINDOW;
    private long recvWindow = MuxFrame.INITIAL_WINDOW;
    private long window = MuxFrame.INITIAL_WINDOW;
    private long lastGrantNanos = System.nanoTime();
    private int unacked;
    private final ArrayDeque<ByteBuffer> inbound = new ArrayDeque<>();
    private int buffered;
    private PendingRead pendingRead;
    private PendingWrite pendingWrite;
    private boolean localFin;
    private boolean finAfterWrite;
    private CompletableFuture<Void> finSent;
    private boolean remoteFin;
    private boolean closedByApp;
    private boolean done;
    private TransportException failure;
    private ScheduledFuture<?> linger;
    private volatile long bytesSent;
    private volatile long bytesReceived;

    MuxStream(MuxSession session, int id, boolean outbound, boolean awaitingSyn) {
        this.session = session;
        this.id = id;
        this.outbound = outbound;
        this.awaitingSyn = awaitingSyn;
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        if (!dst.hasRemaining()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read into a full buffer on " + this));
        }
        CompletableFuture<Integer> result;
        synchronized (session.lock) {
            if (pendingRead != null) {
                return CompletableFuture.failedFuture(new IllegalStateException("a read is already in flight on "
                        + this + "; wait for its stage to complete before reading again"));
            }
            if (buffered > 0) {
                result = CompletableFuture.completedFuture(drain(dst));
            } else if (remoteFin) {
                result = CompletableFuture.completedFuture(-1);
            } else if (closedByApp) {
                result = CompletableFuture.failedFuture(new TransportException.ConnectionFailed(this
                        + " was closed by this side", null));
            } else if (failure != null) {
                result = CompletableFuture.failedFuture(failure);
            } else {
                result = new CompletableFuture<>();
                pendingRead = new PendingRead(dst, result);
            }
        }
        session.writeNext();
        return result;
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        CompletableFuture<Void> result;
        List<Runnable> after = new java.util.ArrayList<>();
        synchronized (session.lock) {
            if (pendingWrite != null) {
                return CompletableFuture.failedFuture(new IllegalStateException("a write is already in flight on "
                        + this + "; wait for its stage to complete before writing again"));
            }
            if (failure != null) {
                return CompletableFuture.failedFuture(failure);
            }
            if (localFin || closedByApp) {
                return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot write on "
                        + this + ": its output was shut down", null));
            }
            if (!src.hasRemaining()) {
                return CompletableFuture.completedFuture(null);
            }
            result = new CompletableFuture<>();
            pendingWrite = new PendingWrite(src, result);
            pump(after);
        }
        after.forEach(Runnable::run);
        session.writeNext();
        return result;
    }

    @Override
    public CompletionStage<Void> flush() {
        CompletableFuture<Void> marked = new CompletableFuture<>();
        synchronized (session.lock) {
            if (session.ended() != null) {
                return CompletableFuture.failedFuture(session.ended());
            }
            session.marker(marked);
        }
        session.writeNext();
        return marked.thenCompose(v -> session.underlying().flush());
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        CompletableFuture<Void> f;
        synchronized (session.lock) {
            if (failure != null && finSent == null) {
                return CompletableFuture.failedFuture(failure);
            }
            f = fin();
        }
        session.writeNext();
        return f;
    }

    /** Queues FIN after the data of a write in flight; under lock. */
    private CompletableFuture<Void> fin() {
        if (!localFin) {
            localFin = true;
            finSent = new CompletableFuture<>();
            if (pendingWrite != null) {
                finAfterWrite = true;
            } else {
                session.control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.FIN, id, 0), finSent);
                finishedIfBothFin();
            }
        }
        return finSent;
    }

    @Override
    public CompletionStage<Void> close() {
        List<Runnable> after = new java.util.ArrayList<>();
        synchronized (session.lock) {
            if (!closedByApp) {
                closedByApp = true;
                if (pendingRead != null) {
                    PendingRead r = pendingRead;
                    pendingRead = null;
                    TransportException x = new TransportException.ConnectionFailed(this + " was closed by this side",
                            null);
                    after.add(() -> r.result().completeExceptionally(x));
                }
                // Unread data is dropped; what this side wrote still reaches the peer, then FIN.
                inbound.clear();
                buffered = 0;
                if (done) {
                    after.add(() -> closeFuture.complete(null));
                } else {
                    CompletableFuture<Void> f = fin();
                    session.defer(() -> f.whenComplete((v, e) -> closeFuture.complete(null)));
                    if (!done) {
                        lingerLocked();
                    }
                }
            }
        }
        after.forEach(Runnable::run);
        session.writeNext();
        return closeFuture.exceptionally(e -> null);
    }

    /** Sends RST: both directions end at once; pending operations fail. */
    void reset() {
        List<Runnable> after = new java.util.ArrayList<>();
        synchronized (session.lock) {
            if (!done) {
                resetLocked(after, new TransportException.ConnectionFailed(this + " was reset by this side", null));
            }
        }
        after.forEach(Runnable::run);
        session.writeNext();
    }

    @Override
    public boolean isConnected() {
        synchronized (session.lock) {
            return !done && !closedByApp && failure == null;
        }
    }

    @Override
    public ConnectionInfo info() {
        ConnectionInfo i = session.underlying().info();
        long sent = bytesSent;
        long received = bytesReceived;
        boolean first = id == 1;
        return new ConnectionInfo(first ? i.id() : i.id() + "/" + id, i.peerId(), i.protocol(),
                first ? i.direction() : outbound ? ConnectionInfo.Direction.OUTBOUND : ConnectionInfo.Direction.INBOUND,
                i.localAddress(), i.remoteAddress(), first ? i.establishedAt() : openedAt, sent, received, i.rtt(),
                i.bandwidth(), i.via(), i.path());
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    // ------------------------------------------------------------------ from the session (under lock)

    /** Queues DATA frames while the window and the session's queue allow. */
    void pump(List<Runnable> after) {
        PendingWrite w = pendingWrite;
        if (w == null || failure != null) {
            return;
        }
        while (w.src().hasRemaining() && sendWindow > 0) {
            int room = session.queueRoom();
            if (room == 0) {
                session.blocked(this);
                return;
            }
            int n = (int) Math.min(Math.min(w.src().remaining(), sendWindow), Math.min(MuxSession.MAX_DATA_FRAME,
                    room));
            ByteBuffer frame = ByteBuffer.allocate(MuxFrame.HEADER_BYTES + n);
            new MuxFrame(MuxFrame.DATA, 0, id, n).encodeInto(frame);
            ByteBuffer part = w.src().slice(w.src().position(), n);
            frame.put(part).flip();
            w.src().position(w.src().position() + n);
            sendWindow -= n;
            bytesSent += n;
            boolean last = !w.src().hasRemaining();
            session.data(frame, n, last ? w.result() : null);
            if (last) {
                pendingWrite = null;
                if (finAfterWrite) {
                    finAfterWrite = false;
                    session.control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.FIN, id, 0), finSent);
                    finishedIfBothFin();
                }
            }
        }
    }

    void windowUpdate(long delta, List<Runnable> after) throws TransportException.ProtocolViolation {
        if (sendWindow + delta > Integer.MAX_VALUE) {
            throw MuxSession.violation("WINDOW_UPDATE of " + delta + " for stream " + id + " raises its window "
                    + "above " + Integer.MAX_VALUE);
        }
        sendWindow += delta;
        if (delta > 0) {
            pump(after);
        }
    }

    /** Checks a DATA frame's length against what this side allowed. */
    void checkData(long length) throws TransportException.ProtocolViolation {
        if (remoteFin && length > 0) {
            throw MuxSession.violation("DATA of " + length + " bytes for stream " + id + " after its FIN");
        }
        if (length > recvWindow) {
            throw MuxSession.violation("DATA of " + length + " bytes for stream " + id + " exceeds its receive "
                    + "window of " + recvWindow + " bytes");
        }
        recvWindow -= length;
    }

    /** @return whether received data is kept; data for a stream nobody reads any more resets it */
    boolean takesData(List<Runnable> after) {
        if (done) {
            return false;
        }
        if (closedByApp) {
            // Nobody reads any more: once this side's FIN is queued (behind all it wrote), RST tells the
            // peer to stop; until then the bytes are dropped, so the reset cuts off nothing written here.
            if (localFin && !finAfterWrite) {
                resetLocked(after, null);
            }
            return false;
        }
        return true;
    }

    void received(ByteBuffer data, List<Runnable> after) {
        inbound.add(data);
        buffered += data.remaining();
        bytesReceived += data.remaining();
        PendingRead r = pendingRead;
        if (r != null) {
            pendingRead = null;
            int n = drain(r.dst());
            after.add(() -> r.result().complete(n));
        }
    }

    /** FIN and RST of a frame, after its payload. */
    void flags(MuxFrame f, List<Runnable> after) {
        if (done) {
            return;
        }
        if (f.has(MuxFrame.RST)) {
            String why = outbound && !acked ? "the peer refused " + this + " (reset before acknowledging it; it may "
                    + "have reached its limit of streams per connection, maxStreamsPerConnection)"
                    : this + " was reset by the peer";
            TransportException x = new TransportException.ConnectionFailed(why, null);
            failure = x;
            end(after, x);
            return;
        }
        if (f.has(MuxFrame.FIN) && !remoteFin) {
            remoteFin = true;
            PendingRead r = pendingRead;
            if (r != null && buffered == 0) {
                pendingRead = null;
                after.add(() -> r.result().complete(-1));
            }
            finishedIfBothFin();
        }
    }

    void sessionEnded(TransportException why, List<Runnable> after) {
        if (done) {
            return;
        }
        if (failure == null) {
            failure = why;
        }
        end(after, why);
    }

    /**
     * The session is being closed by this side, in order, and has sent this stream's FIN: nothing more is read
     * (a read under way gets the end of stream), a write under way fails, and the stream closes in order.
     * Under lock.
     *
     * @param after where to put what must run outside the lock
     */
    void closedHere(List<Runnable> after) {
        if (done) {
            return;
        }
        remoteFin = true;
        localFin = true;
        end(after, null);
    }

    /** @return how far this stream's receive window has grown beyond the initial one; under lock */
    long grownBy() {
        return window - MuxFrame.INITIAL_WINDOW;
    }

    /** @return the receive window now */
    long window() {
        synchronized (session.lock) {
            return window;
        }
    }

    // ------------------------------------------------------------------ internals (under lock)

    private int drain(ByteBuffer dst) {
        int n = 0;
        while (dst.hasRemaining() && !inbound.isEmpty()) {
            ByteBuffer b = inbound.peek();
            int k = Math.min(b.remaining(), dst.remaining());
            dst.put(b.slice(b.position(), k));
            b.position(b.position() + k);
            n += k;
            if (!b.hasRemaining()) {
                inbound.poll();
            }
        }
        buffered -= n;
        unacked += n;
        if (!remoteFin && !done && unacked >= window / 2) {
            long delta = unacked;
            long now = System.nanoTime();
            long rtt = session.rttNanos();
            if (rtt > 0 && now - lastGrantNanos < 2 * rtt && window < session.settings.windowBytes()) {
                // Half a window read twice within two round trips: the window limits the sender; double it.
                long more = session.grow(Math.min(window, session.settings.windowBytes() - window));
                window += more;
                delta += more;
            }
            lastGrantNanos = now;
            session.control(new MuxFrame(MuxFrame.WINDOW_UPDATE, 0, id, delta), null);
            recvWindow += delta;
            unacked = 0;
        }
        return n;
    }

    private void resetLocked(List<Runnable> after, TransportException why) {
        session.control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.RST, id, 0), null);
        if (why != null && failure == null) {
            failure = why;
        }
        inbound.clear();
        buffered = 0;
        end(after, why);
    }

    private void finishedIfBothFin() {
        if (localFin && remoteFin && pendingWrite == null) {
            done = true;
            session.remove(this);
            cancelLinger();
            CompletableFuture<Void> f = finSent;
            session.defer(() -> f.whenComplete((v, e) -> closeFuture.complete(null)));
        }
    }

    /** Ends the stream: out of the session's table; pending operations fail with {@code why}. */
    private void end(List<Runnable> after, TransportException why) {
        done = true;
        session.remove(this);
        cancelLinger();
        PendingRead r = pendingRead;
        PendingWrite w = pendingWrite;
        pendingRead = null;
        pendingWrite = null;
        TransportException x = why != null ? why : new TransportException.ConnectionFailed(this + " was reset by "
                + "this side", null);
        CompletableFuture<Void> fs = finAfterWrite ? finSent : null;
        after.add(() -> {
            if (r != null) {
                if (buffered > 0 || remoteFin) {
                    r.result().complete(-1);
                } else {
                    r.result().completeExceptionally(x);
                }
            }
            if (w != null) {
                w.result().completeExceptionally(x);
            }
            if (fs != null) {
                fs.completeExceptionally(x);
            }
            if (why == null || closedByApp) {
                closeFuture.complete(null);
            } else {
                closeFuture.completeExceptionally(why);
            }
        });
    }

    private void lingerLocked() {
        try {
            linger = session.timer.schedule(() -> {
                List<Runnable> after = new java.util.ArrayList<>();
                synchronized (session.lock) {
                    if (!done) {
                        resetLocked(after, null);
                    }
                }
                after.forEach(Runnable::run);
                session.writeNext();
            }, session.settings.closeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            // the session ends with its manager
        }
    }

    private void cancelLinger() {
        if (linger != null) {
            linger.cancel(false);
            linger = null;
        }
    }

    @Override
    public String toString() {
        return "stream " + id + " to " + session.peerName();
    }
}
