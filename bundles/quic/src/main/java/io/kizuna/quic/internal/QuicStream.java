package io.kizuna.quic.internal;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.TransportException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamResetException;
import io.netty.util.ReferenceCountUtil;

/**
 * One bidirectional QUIC stream: the only handler of its stream channel, and the
 * {@link Connection} the application holds. The QUIC connection it rides on is
 * already authenticated; the stream adds nothing but ordering and flow control.
 *
 * <p>All mutable state is touched on the channel's event loop. Reads are driven
 * by demand (auto-read is off), so bytes the application has not asked for stay
 * in quiche and its flow-control window holds the peer back. A write completes
 * once its bytes are handed to the stream channel and the channel is writable
 * again, which for Netty's QUIC stream channel means quiche has stream capacity
 * left (it has no outbound buffer and ignores write-buffer water marks).
 * {@link #shutdownOutput()} sends FIN; {@link #close()} also sends STOP_SENDING
 * when the peer has not finished, so a writer on the other side learns of it
 * from a failed write.
 */
final class QuicStream extends ChannelInboundHandlerAdapter implements Connection {

    /** The largest slice of a write handed to quiche at once. */
    private static final int WRITE_CHUNK = 64 * 1024;

    /** Application error code of STOP_SENDING when this side closes before the peer finished. */
    static final int CLOSED_BY_APPLICATION = 0x100;

    private final QuicConnection owner;
    private final QuicStreamChannel channel;
    private final QuicSettings settings;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> closedQuietly = closeFuture.exceptionally(e -> null);
    private final AtomicBoolean reading = new AtomicBoolean();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final Instant openedAt = Instant.now();
    private final ChannelFutureListener writeListener = f -> {
        if (!f.isSuccess()) {
            writeFailed(f.cause());
        }
    };

    private volatile boolean closed;

    // Event-loop state.
    private ChannelHandlerContext ctx;
    private final ArrayDeque<ByteBuf> inbound = new ArrayDeque<>();
    private long queuedBytes;
    private boolean readRequested;
    private boolean inputEnded;
    private boolean peerReset;
    private boolean peerEndedLast;
    private int expectedPreamble = -1;
    private boolean outputShutdown;
    private boolean appClosed;
    private TransportException failure;
    private ByteBuffer readDst;
    private CompletableFuture<Integer> readResult;
    private ByteBuffer writeSrc;
    private CompletableFuture<Void> writeResult;
    private ChannelFuture lastWrite;
    private CompletableFuture<Void> shutdownResult;

    QuicStream(QuicConnection owner, QuicStreamChannel channel) {
        this.owner = owner;
        this.channel = channel;
        this.settings = owner.settings();
    }

    QuicStreamChannel channel() {
        return channel;
    }

    /**
     * @return whether the peer ended its side (FIN or reset) after this side had
     *         sent its FIN: the peer has read everything this side sent
     */
    boolean peerEndedLast() {
        return peerEndedLast;
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        Objects.requireNonNull(dst, "dst");
        if (!dst.hasRemaining() || dst.isReadOnly()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "read needs a writable buffer with space remaining (position " + dst.position() + ", limit "
                            + dst.limit() + (dst.isReadOnly() ? ", read-only" : "") + ")"));
        }
        if (!reading.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a read is already in progress on "
                    + this + "; wait for its stage to complete before reading again"));
        }
        CompletableFuture<Integer> result = new CompletableFuture<>();
        if (!onLoop(() -> startRead(dst, result))) {
            reading.set(false);
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        Objects.requireNonNull(src, "src");
        if (!writing.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a write is already in progress on "
                    + this + "; wait for its stage to complete before writing again"));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> startWrite(src, result))) {
            writing.set(false);
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public CompletionStage<Void> flush() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> doFlush(result))) {
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (!onLoop(() -> doShutdownOutput(result))) {
            result.completeExceptionally(stopped());
        }
        return result;
    }

    @Override
    public CompletionStage<Void> close() {
        if (!onLoop(this::closeByApplication)) {
            closeFuture.complete(null);
        }
        return closedQuietly.minimalCompletionStage();
    }

    @Override
    public boolean isConnected() {
        return !closed && channel.isActive();
    }

    @Override
    public ConnectionInfo info() {
        return owner.info(this, bytesSent.get(), bytesReceived.get());
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    @Override
    public String toString() {
        return "quic stream " + channel.streamId() + " of " + owner;
    }

    Instant openedAt() {
        return openedAt;
    }

    // ------------------------------------------------------------------ operations, on the event loop

    private void startRead(ByteBuffer dst, CompletableFuture<Integer> result) {
        readDst = dst;
        readResult = result;
        if (appClosed) {
            failRead(new TransportException.Io(this + " is closed; open a new one", null));
        } else if (!inbound.isEmpty()) {
            deliver();
            requestInput();
        } else if (inputEnded) {
            completeRead(-1);
        } else if (failure != null) {
            failRead(failure);
        } else if (closed) {
            failRead(new TransportException.Io(this + " is closed", null));
        } else {
            requestInput();
        }
    }

    private void deliver() {
        ByteBuffer dst = readDst;
        int n = 0;
        while (dst.hasRemaining() && !inbound.isEmpty()) {
            ByteBuf head = inbound.peek();
            int k = Math.min(dst.remaining(), head.readableBytes());
            int limit = dst.limit();
            dst.limit(dst.position() + k);
            head.readBytes(dst);
            dst.limit(limit);
            n += k;
            if (!head.isReadable()) {
                inbound.poll().release();
            }
        }
        queuedBytes -= n;
        bytesReceived.addAndGet(n);
        completeRead(n);
    }

    /** Asks quiche for more bytes while the read queue is below its bound. */
    private void requestInput() {
        if (!readRequested && !inputEnded && !closed && queuedBytes < settings.readQueueBytes()
                && channel.isActive()) {
            readRequested = true;
            ctx.read();
        }
    }

    private void completeRead(int n) {
        CompletableFuture<Integer> r = readResult;
        readResult = null;
        readDst = null;
        reading.set(false);
        r.complete(n);
    }

    private void failRead(Throwable e) {
        CompletableFuture<Integer> r = readResult;
        readResult = null;
        readDst = null;
        reading.set(false);
        r.completeExceptionally(e);
    }

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
        if (appClosed || closed) {
            return new TransportException.Io(this + " is closed; open a new one to write", null);
        }
        if (outputShutdown) {
            return new TransportException.Io(this + " has shut down its output; nothing more can be written "
                    + "on it", null);
        }
        return null;
    }

    private void writeMore() {
        ByteBuffer src = writeSrc;
        while (writeResult != null && src.hasRemaining()) { // a failed chunk fails the write: stop there
            if (!channel.isWritable()) {
                ctx.flush();
                if (!channel.isWritable()) {
                    return; // channelWritabilityChanged resumes
                }
            }
            int n = Math.min(src.remaining(), WRITE_CHUNK);
            ByteBuf buf = ctx.alloc().directBuffer(n);
            int limit = src.limit();
            src.limit(src.position() + n);
            buf.writeBytes(src);
            src.limit(limit);
            lastWrite = ctx.write(buf);
            lastWrite.addListener(writeListener);
            bytesSent.addAndGet(n);
        }
        ctx.flush();
        if (writeResult != null && channel.isWritable()) {
            completeWrite();
        }
    }

    private void writeFailed(Throwable cause) {
        if (failure == null && !appClosed) {
            failure = streamError("writing to", cause);
        }
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io(this + " closed before the write completed", cause));
        }
    }

    private void completeWrite() {
        CompletableFuture<Void> r = writeResult;
        writeResult = null;
        writeSrc = null;
        writing.set(false);
        r.complete(null);
    }

    private void failWrite(Throwable e) {
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
                result.completeExceptionally(streamError("flushing to", f.cause()));
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
            result.completeExceptionally(new IllegalStateException("a write is in progress on " + this
                    + "; wait for it to complete before shutting down output"));
            return;
        }
        outputShutdown = true;
        shutdownResult = result;
        channel.shutdownOutput().addListener(fin -> {
            if (fin.isSuccess()) {
                result.complete(null);
                if (inputEnded) {
                    closeChannel(); // both directions ended in order
                }
            } else {
                result.completeExceptionally(streamError("sending FIN to", fin.cause()));
            }
        });
    }

    private void closeByApplication() {
        if (appClosed) {
            return;
        }
        appClosed = true;
        releaseInbound();
        if (readResult != null) {
            failRead(new TransportException.Io(this + " was closed by this side while a read waited", null));
        }
        if (writeResult != null && writeSrc.hasRemaining()) {
            failWrite(new TransportException.Io(this + " was closed by this side before the write was taken",
                    null));
        }
        if (!channel.isActive()) {
            closeChannel();
            return;
        }
        if (owner.isFirst(this) && !inputEnded) {
            // The first stream ends the connection. Send FIN and read on, discarding, until the peer ends its
            // side too: then everything this side wrote has been read, and the connection can close at once
            // without CONNECTION_CLOSE overtaking stream data. The connection's close timer bounds the wait.
            if (!outputShutdown) {
                outputShutdown = true;
                channel.shutdownOutput();
            }
            requestInput();
            return;
        }
        if (!inputEnded && !channel.isInputShutdown()) {
            channel.shutdownInput(CLOSED_BY_APPLICATION); // STOP_SENDING: the peer's writes fail from now on
        }
        if (!outputShutdown) {
            outputShutdown = true;
            channel.shutdownOutput().addListener(f -> closeChannel());
        } else {
            closeChannel();
        }
    }

    private void closeChannel() {
        if (channel.isOpen()) {
            channel.close();
        }
    }

    private boolean onLoop(Runnable task) {
        try {
            channel.eventLoop().execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private TransportException stopped() {
        return new TransportException.Io("the quic transport has stopped, " + this + " with it", null);
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        owner.streamOpened(this);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            endOfInput();
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** The first byte that arrives is the peer's preamble, not data: check it and drop it. */
    void expectPreamble(byte value) {
        onLoop(() -> expectedPreamble = value & 0xff);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf b && expectedPreamble >= 0 && b.isReadable()) {
            int got = b.readUnsignedByte();
            if (got != expectedPreamble) {
                ReferenceCountUtil.release(msg);
                fail(new TransportException.ProtocolViolation(owner.peerName() + " did not start the first stream "
                        + "with the kizuna preamble " + expectedPreamble + " but with byte " + got));
                return;
            }
            expectedPreamble = -1;
        }
        if (!(msg instanceof ByteBuf buf) || appClosed || closed || !buf.isReadable()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        inbound.add(buf);
        queuedBytes += buf.readableBytes();
        if (readResult != null) {
            deliver();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        readRequested = false;
        requestInput();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (writeResult != null && channel.isWritable()) {
            writeMore();
        }
        ctx.fireChannelWritabilityChanged();
    }

    /** The peer's FIN arrived: every byte it sent is in. */
    private void endOfInput() {
        if (inputEnded) {
            return;
        }
        inputEnded = true;
        peerEndedLast = outputShutdown;
        if (readResult != null && inbound.isEmpty()) {
            completeRead(-1);
        }
        if (appClosed || outputShutdown && shutdownResult != null && shutdownResult.isDone()) {
            closeChannel(); // both directions ended in order
        }
    }

    private void fail(TransportException why) {
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

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof QuicStreamResetException) {
            peerReset = true; // the peer ended its side, abruptly
            peerEndedLast = outputShutdown;
        }
        if (failure == null && !appClosed) {
            fail(streamError("reading from", cause));
        } else {
            closeChannel();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closed = true;
        boolean orderly = failure == null && (appClosed || inputEnded);
        if (!orderly && failure == null) {
            failure = owner.lostReason(this);
        }
        if (readResult != null) {
            if (failure == null && inbound.isEmpty()) {
                completeRead(-1);
            } else if (failure != null) {
                failRead(failure);
            }
        }
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io(this + " closed before the write completed", null));
        }
        if (appClosed || failure != null) {
            releaseInbound();
        } else {
            keepInboundOnHeap();
        }
        if (failure == null) {
            closeFuture.complete(null);
        } else {
            closeFuture.completeExceptionally(failure);
        }
        owner.streamClosed(this);
        ctx.fireChannelInactive();
    }

    private void releaseInbound() {
        ByteBuf b;
        while ((b = inbound.poll()) != null) {
            b.release();
        }
        queuedBytes = 0;
    }

    /** Bytes that arrived before an orderly end stay readable; pooled memory goes back to the pool. */
    private void keepInboundOnHeap() {
        int n = inbound.size();
        for (int i = 0; i < n; i++) {
            ByteBuf b = inbound.poll();
            inbound.add(Unpooled.copiedBuffer(b));
            b.release();
        }
    }

    private TransportException streamError(String doing, Throwable cause) {
        if (cause instanceof QuicStreamResetException) {
            return new TransportException.Io(owner.peerName() + " reset " + this + " (its application closed it "
                    + "before finishing)", cause);
        }
        return new TransportException.Io(doing + " " + owner.peerName() + " on " + this + " failed: "
                + QuicTransport.describe(cause), cause);
    }

    /** Takes bytes the transport itself read (the first stream's preamble) out of the count. */
    void discountReceived(int n) {
        bytesReceived.addAndGet(-n);
    }
}
