package io.kizuna.transport.support;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Connection;
import io.kizuna.transport.TransportException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * A {@link Connection} that is the last handler of one Netty channel: the state
 * machine the TCP connection, the QUIC stream and the WebSocket connection share.
 *
 * <p>One read and one write may be in flight; a second one fails at once. All
 * mutable state is touched on the channel's event loop only: the public methods
 * check their arguments and hand their work to it. Reads are driven by demand
 * (auto-read is off): the channel is asked for more only while the subclass
 * {@linkplain #wantsInput() wants input}, which it bounds by its read queue. A
 * write hands its bytes to the channel in chunks while the channel is writable
 * and completes once everything is taken and the channel is writable again, so
 * at most the high-water mark (plus one chunk) of outbound bytes waits in memory.
 * A flush completes when the last chunk written is on the wire.
 *
 * <p>What differs between transports are hooks: what counts as data ready for
 * the reader ({@link #hasData()}, {@link #deliver()}), how a chunk is written
 * ({@link #writeChunk(ByteBuffer)}), how this side's direction ends
 * ({@link #endOutput(CompletableFuture)}), how the channel closes
 * ({@link #closeChannel()}), and the words of its errors ({@link #name()},
 * {@link #ioError(String, Throwable)}).
 */
public abstract class ChannelStream extends ChannelInboundHandlerAdapter implements Connection {

    private final Channel channel;
    private final String transportName;
    private final AtomicBoolean reading = new AtomicBoolean();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final ChannelFutureListener writeListener = f -> {
        if (!f.isSuccess()) {
            writeFailed(f.cause());
        }
    };
    private boolean inWriteMore;

    /** Completed when the channel has closed: normally after an orderly end, exceptionally with the failure. */
    protected final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    /** {@link #closeFuture}, completed normally either way: what {@link Connection#close()} returns. */
    protected final CompletableFuture<Void> closedQuietly = closeFuture.exceptionally(e -> null);
    /** Payload bytes handed to the channel. */
    protected final AtomicLong bytesSent = new AtomicLong();
    /** Payload bytes handed to the application. */
    protected final AtomicLong bytesReceived = new AtomicLong();

    // Event-loop state, shared with the subclass.
    /** The handler's context, set when it is added to the pipeline. */
    protected ChannelHandlerContext ctx;
    /** Whether a read of the channel is outstanding. */
    protected boolean readRequested;
    /** Whether every byte the peer will send has arrived. */
    protected boolean inputEnded;
    /** Whether this side has ended (or begun to end) its direction. */
    protected boolean outputShutdown;
    /** Whether the application has closed the connection. */
    protected boolean appClosed;
    /** Why the connection failed; null while it has not. */
    protected TransportException failure;
    /** The application's buffer of the read in flight. */
    protected ByteBuffer readDst;
    /** The read in flight; null when none is. */
    protected CompletableFuture<Integer> readResult;
    /** The application's buffer of the write in flight. */
    protected ByteBuffer writeSrc;
    /** The write in flight; null when none is. */
    protected CompletableFuture<Void> writeResult;
    /** The last write handed to the channel, which a flush waits for. */
    protected ChannelFuture lastWrite;
    /** The first shutdownOutput, which later ones follow. */
    protected CompletableFuture<Void> shutdownResult;

    /**
     * @param channel       the channel
     * @param transportName the transport's protocol name, for messages (e.g. {@code tcp})
     */
    protected ChannelStream(Channel channel, String transportName) {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.transportName = Objects.requireNonNull(transportName, "transportName");
    }

    // ------------------------------------------------------------------ hooks

    /** @return how messages name this stream, e.g. {@code connection 3f2a…} */
    protected abstract String name();

    /** @return whether the channel has closed (or the connection was refused) */
    protected abstract boolean isClosed();

    /** @return whether the channel should be asked for more bytes now (it is active and none are asked for) */
    protected abstract boolean wantsInput();

    /** @return whether bytes are ready for the reader */
    protected abstract boolean hasData();

    /** Moves ready bytes into {@link #readDst} and completes the read ({@link #delivered(int)}). */
    protected abstract void deliver();

    /** Drops every byte queued for the reader: the application closed the connection. */
    protected abstract void discardInbound();

    /**
     * Hands one chunk of a write to the channel, through {@link #send(ByteBuf)}
     * or otherwise so that {@link #lastWrite} is its last write.
     *
     * @param chunk the bytes, all of which are to be taken
     * @return false when it failed the write instead
     */
    protected abstract boolean writeChunk(ByteBuffer chunk);

    /** @return the largest chunk of a write handed to the channel at once */
    protected abstract int chunkSize();

    /**
     * Ends this side's direction; {@link #outputShutdown} is set already.
     *
     * @param result completed once the end is on its way
     */
    protected abstract void endOutput(CompletableFuture<Void> result);

    /** Closes the channel gracefully, if it is open. */
    protected abstract void closeChannel();

    /**
     * @param doing what failed, e.g. {@code writing to}
     * @param cause the cause
     * @return the error the application sees
     */
    protected abstract TransportException ioError(String doing, Throwable cause);

    /** @return whether this side is closing the connection, so that failures from now on are no news */
    protected boolean closingHere() {
        return appClosed;
    }

    /** @return whether writes are refused (besides after a failure or the application's close) */
    protected boolean refusesWrites() {
        return isClosed();
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public final CompletionStage<Integer> read(ByteBuffer dst) {
        Objects.requireNonNull(dst, "dst");
        if (!dst.hasRemaining() || dst.isReadOnly()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "read needs a writable buffer with space remaining (position " + dst.position() + ", limit "
                            + dst.limit() + (dst.isReadOnly() ? ", read-only" : "") + ")"));
        }
        if (!reading.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a read is already in progress on "
                    + name() + "; wait for its stage to complete before reading again"));
        }
        CompletableFuture<Integer> result = new CompletableFuture<>();
        if (!onLoop(() -> {
            readDst = dst;
            readResult = result;
            startRead();
        })) {
            reading.set(false);
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public final CompletionStage<Void> write(ByteBuffer src) {
        Objects.requireNonNull(src, "src");
        if (!writing.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a write is already in progress on "
                    + name() + "; wait for its stage to complete before writing again"));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> startWrite(src, result))) {
            writing.set(false);
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public final CompletionStage<Void> flush() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> doFlush(result))) {
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public final CompletionStage<Void> shutdownOutput() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> doShutdownOutput(result))) {
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public final CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    // ------------------------------------------------------------------ reads, on the event loop

    /** Serves the read just started: from queued bytes, the end of input, the failure, or by asking for more. */
    protected void startRead() {
        if (appClosed) {
            failRead(new TransportException.Io(name() + " is closed; open a new one", null));
        } else if (hasData()) {
            deliver();
            requestInput();
        } else if (inputEnded) {
            completeRead(-1);
        } else if (failure != null) {
            failRead(failure);
        } else if (isClosed()) {
            failRead(new TransportException.Io(name() + " is closed", null));
        } else {
            requestInput();
        }
    }

    /** Asks the channel for more bytes when the subclass wants them and none are asked for yet. */
    protected final void requestInput() {
        if (!readRequested && channel.isActive() && wantsInput()) {
            readRequested = true;
            ctx.read();
        }
    }

    /**
     * Completes the read in flight with bytes moved into its buffer.
     *
     * @param n how many
     */
    protected final void delivered(int n) {
        bytesReceived.addAndGet(n);
        completeRead(n);
    }

    /** @param n the bytes read, or -1 at the end of the stream */
    protected final void completeRead(int n) {
        CompletableFuture<Integer> r = readResult;
        readResult = null;
        readDst = null;
        reading.set(false);
        r.complete(n);
    }

    /** @param e why the read in flight failed */
    protected final void failRead(Throwable e) {
        CompletableFuture<Integer> r = readResult;
        readResult = null;
        readDst = null;
        reading.set(false);
        r.completeExceptionally(e);
    }

    // ------------------------------------------------------------------ writes, on the event loop

    private void startWrite(ByteBuffer src, CompletableFuture<Void> result) {
        writeSrc = src;
        writeResult = result;
        TransportException refused = writeRefusal();
        if (refused != null) {
            failWrite(refused);
        } else {
            writeMore();
        }
    }

    private TransportException writeRefusal() {
        if (failure != null) {
            return failure;
        }
        if (appClosed || refusesWrites()) {
            return new TransportException.Io(name() + " is closed; open a new one to write", null);
        }
        if (outputShutdown) {
            return new TransportException.Io(name() + " has shut down its output; nothing more can be written "
                    + "on it", null);
        }
        return null;
    }

    private void writeMore() {
        if (inWriteMore) {
            return; // a flush below made the channel writable again: the running loop goes on
        }
        inWriteMore = true;
        try {
            ByteBuffer src = writeSrc;
            while (writeResult != null && src.hasRemaining()) { // a failed chunk fails the write: stop there
                if (!channel.isWritable()) {
                    ctx.flush();
                    if (!channel.isWritable()) {
                        return; // channelWritabilityChanged resumes
                    }
                }
                int n = Math.min(src.remaining(), chunkSize());
                int limit = src.limit();
                src.limit(src.position() + n);
                boolean sent;
                try {
                    sent = writeChunk(src);
                } finally {
                    src.limit(limit);
                }
                if (!sent) {
                    return;
                }
                bytesSent.addAndGet(n);
            }
            ctx.flush();
            if (writeResult != null && channel.isWritable()) {
                completeWrite();
            }
        } finally {
            inWriteMore = false;
        }
    }

    /**
     * Writes to the channel (without flushing); a failure fails the write in flight.
     *
     * @param buf what to write
     */
    protected final void send(ByteBuf buf) {
        lastWrite = ctx.write(buf);
        lastWrite.addListener(writeListener);
    }

    private void writeFailed(Throwable cause) {
        if (failure == null && !closingHere()) {
            failure = ioError("writing to", cause);
        }
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io(name() + " closed before the write completed", cause));
        }
        writeFailed();
    }

    /**
     * A write to the channel failed (after the failure was recorded). Does nothing
     * by default; a stream whose channel stays open after a failed write (an epoll
     * socket reset by the peer) closes it here.
     */
    protected void writeFailed() {
    }

    private void completeWrite() {
        CompletableFuture<Void> r = writeResult;
        writeResult = null;
        writeSrc = null;
        writing.set(false);
        r.complete(null);
    }

    /** @param e why the write in flight failed */
    protected final void failWrite(Throwable e) {
        CompletableFuture<Void> r = writeResult;
        writeResult = null;
        writeSrc = null;
        writing.set(false);
        r.completeExceptionally(e);
    }

    private void doFlush(CompletableFuture<Void> result) {
        TransportException refused = writeRefusal();
        if (refused != null && !(outputShutdown && failure == null && !appClosed)) {
            result.completeExceptionally(refused);
            return;
        }
        ctx.flush();
        ChannelFuture last = lastWrite;
        if (last == null) {
            result.complete(null);
            return;
        }
        last.addListener(f -> {
            if (f.isSuccess()) {
                result.complete(null);
            } else {
                result.completeExceptionally(ioError("flushing to", f.cause()));
            }
        });
    }

    private void doShutdownOutput(CompletableFuture<Void> result) {
        if (shutdownResult != null) {
            shutdownResult.whenComplete((v, e) -> {
                if (e == null) {
                    result.complete(null);
                } else {
                    result.completeExceptionally(e);
                }
            });
            return;
        }
        TransportException refused = writeRefusal();
        if (refused != null) {
            result.completeExceptionally(refused);
            return;
        }
        if (writeResult != null) {
            result.completeExceptionally(new IllegalStateException("a write is in progress on " + name()
                    + "; wait for it to complete before shutting down output"));
            return;
        }
        outputShutdown = true;
        shutdownResult = result;
        endOutput(result);
    }

    // ------------------------------------------------------------------ ends, on the event loop

    /**
     * The application closes: queued bytes are dropped, the read in flight and a
     * write not yet taken fail. The caller then closes the channel its own way.
     *
     * @return false when the application had closed it already
     */
    protected final boolean closedByApplication() {
        if (appClosed) {
            return false;
        }
        appClosed = true;
        discardInbound();
        if (readResult != null) {
            failRead(new TransportException.Io(name() + " was closed by this side while a read waited", null));
        }
        if (writeResult != null && writeSrc.hasRemaining()) {
            failWrite(new TransportException.Io(name() + " was closed by this side before the write was taken",
                    null));
        }
        return true;
    }

    /**
     * Fails the read and the write in flight and closes the channel.
     *
     * @param why the failure, unless one came first
     */
    protected final void fail(TransportException why) {
        if (failure == null) {
            failure = why;
        }
        if (readResult != null) {
            failRead(failure);
        }
        if (writeResult != null) {
            failWrite(failure);
        }
        closeChannel();
    }

    /**
     * The channel has closed: the read in flight ends (with the failure, the
     * bytes still ready, or the end of stream) and the write in flight fails.
     */
    protected final void settlePending() {
        if (readResult != null) {
            if (failure != null) {
                failRead(failure);
            } else if (hasData()) {
                deliver();
            } else if (readResult != null) { // unless making the data ready failed it
                completeRead(-1);
            }
        }
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io(name() + " closed before the write completed", null));
        }
    }

    /** Completes {@link #closeFuture}: normally, or with the failure when there is one. */
    protected final void completeCloseFuture() {
        if (failure == null) {
            closeFuture.complete(null);
        } else {
            closeFuture.completeExceptionally(failure);
        }
    }

    /**
     * @param task what to run on the channel's event loop
     * @return false when the event loop has stopped
     */
    protected final boolean onLoop(Runnable task) {
        try {
            channel.eventLoop().execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private TransportException stopped() {
        return new TransportException.Io("the " + transportName + " transport has stopped, " + name() + " with it",
                null);
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public final void channelReadComplete(ChannelHandlerContext ctx) {
        readRequested = false;
        requestInput();
        ctx.fireChannelReadComplete();
    }

    @Override
    public final void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (writeResult != null && channel.isWritable()) {
            writeMore();
        }
        ctx.fireChannelWritabilityChanged();
    }
}
