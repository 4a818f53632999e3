package io.kizuna.quic.internal;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.ByteBufStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamResetException;
import io.netty.handler.codec.quic.QuicTimeoutClosedChannelException;
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
final class QuicStream extends ByteBufStream {

    /** Application error code of STOP_SENDING when this side closes before the peer finished. */
    static final int CLOSED_BY_APPLICATION = 0x100;

    private final QuicConnection owner;
    private final QuicStreamChannel channel;
    private final QuicSettings settings;
    private final Instant openedAt = Instant.now();

    private volatile boolean closed;

    // Event-loop state.
    private boolean peerReset;
    private boolean peerEndedLast;
    private int expectedPreamble = -1;

    QuicStream(QuicConnection owner, QuicStreamChannel channel) {
        super(channel, QuicTransport.PROTOCOL_NAME);
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
    public String toString() {
        return "quic stream " + channel.streamId() + " of " + owner;
    }

    Instant openedAt() {
        return openedAt;
    }

    // ------------------------------------------------------------------ the stream's hooks, on the event loop

    @Override
    protected String name() {
        return toString();
    }

    @Override
    protected boolean isClosed() {
        return closed;
    }

    /** Asks quiche for more bytes while the read queue is below its bound. */
    @Override
    protected boolean wantsInput() {
        return !inputEnded && !closed && inbound.bytes() < settings.readQueueBytes();
    }

    @Override
    protected ByteBuf allocate(int bytes) {
        return ctx.alloc().directBuffer(bytes);
    }

    @Override
    protected TransportException ioError(String doing, Throwable cause) {
        return streamError(doing, cause);
    }

    @Override
    protected void endOutput(CompletableFuture<Void> result) {
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
        if (!closedByApplication()) {
            return;
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

    @Override
    protected void closeChannel() {
        if (channel.isOpen()) {
            channel.close();
        }
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        super.handlerAdded(ctx);
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
        super.channelRead(ctx, msg);
    }

    /** The peer's FIN arrived: every byte it sent is in. */
    private void endOfInput() {
        if (inputEnded) {
            return;
        }
        peerEndedLast = outputShutdown;
        endInput();
        if (appClosed || outputShutdown && shutdownResult != null && shutdownResult.isDone()) {
            closeChannel(); // both directions ended in order
        }
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
        settlePending();
        keepOrReleaseInbound();
        completeCloseFuture();
        owner.streamClosed(this);
        ctx.fireChannelInactive();
    }

    private TransportException streamError(String doing, Throwable cause) {
        if (cause instanceof QuicStreamResetException) {
            return new TransportException.Io(owner.peerName() + " reset " + this + " (its application closed it "
                    + "before finishing)", cause);
        }
        if (cause instanceof QuicTimeoutClosedChannelException) {
            TransportException lost = owner.lostReason(this); // says "timed out (no packets for ... ms)"
            return new TransportException.Io(doing + " " + owner.peerName() + " on " + this + " failed: "
                    + lost.getMessage(), cause);
        }
        return new TransportException.Io(doing + " " + owner.peerName() + " on " + this + " failed: "
                + QuicTransport.describe(cause), cause);
    }

    /** Takes bytes the transport itself read (the first stream's preamble) out of the count. */
    void discountReceived(int n) {
        bytesReceived.addAndGet(-n);
    }
}
