package io.kizuna.tcp.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLSession;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.ReferenceCountUtil;

/**
 * One TLS-over-TCP connection: the last handler of its channel's pipeline, after
 * the {@link SslHandler}, and the {@link Connection} the application holds.
 *
 * <p>All mutable state is touched on the channel's event loop only; the public
 * methods hand their work to it. Reads are driven by demand (auto-read is off):
 * the channel is asked for more only while fewer than the read-queue bound of
 * bytes wait for the application. A write hands its bytes to the TLS layer in
 * chunks while the channel is writable and completes once everything is taken
 * and the channel is writable again, so at most the high-water mark (plus one
 * chunk) of a connection's outbound bytes waits in memory.
 */
final class TcpConnection extends ChannelInboundHandlerAdapter implements Connection {

    private static final System.Logger LOG = System.getLogger(TcpConnection.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The largest slice of a write handed to the TLS layer at once. */
    private static final int WRITE_CHUNK = 64 * 1024;

    private enum State { HANDSHAKING, OPEN, CLOSED }

    private final TcpTransport transport;
    private final TcpSettings settings;
    private final Channel channel;
    private final SslHandler tls;
    private final Direction direction;
    private final String target;
    private final DialTrustManager expectation;
    private final CompletableFuture<TcpConnection> established;
    private final String id;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> closedQuietly = closeFuture.exceptionally(e -> null);
    private final AtomicBoolean reading = new AtomicBoolean();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final ChannelFutureListener writeListener = f -> {
        if (!f.isSuccess()) {
            writeFailed(f.cause());
        }
    };

    private volatile State state = State.HANDSHAKING;
    private volatile PeerId peerId;
    private volatile Instant establishedAt;
    private volatile InetSocketAddress localAddress;
    private volatile InetSocketAddress remoteAddress;

    // Event-loop state.
    private ChannelHandlerContext ctx;
    private final ArrayDeque<ByteBuf> inbound = new ArrayDeque<>();
    private long queuedBytes;
    private boolean readRequested;
    private boolean inputEnded;
    private boolean outputShutdown;
    private boolean outputShutdownDone;
    private boolean appClosed;
    private TransportException failure;
    private ByteBuffer readDst;
    private CompletableFuture<Integer> readResult;
    private ByteBuffer writeSrc;
    private CompletableFuture<Void> writeResult;
    private ChannelFuture lastWrite;
    private CompletableFuture<Void> shutdownResult;

    /**
     * @param transport   the transport that owns it
     * @param channel     its channel
     * @param tls         the channel's TLS handler
     * @param direction   who dialed
     * @param target      the endpoint, for messages (e.g. {@code tcp://127.0.0.1:7400})
     * @param expectation for a dial: the trust manager that knows the expected PeerId; null when accepted
     * @param established completed with this connection once authenticated, or with the reason it was not
     */
    TcpConnection(TcpTransport transport, Channel channel, SslHandler tls, Direction direction, String target,
            DialTrustManager expectation, CompletableFuture<TcpConnection> established) {
        this.transport = transport;
        this.settings = transport.settings();
        this.channel = channel;
        this.tls = tls;
        this.direction = direction;
        this.target = target;
        this.expectation = expectation;
        this.established = established;
        byte[] random = new byte[8];
        RANDOM.nextBytes(random);
        this.id = HexFormat.of().formatHex(random);
    }

    Channel channel() {
        return channel;
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
                    + "connection " + id + "; wait for its stage to complete before reading again"));
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
                    + "connection " + id + "; wait for its stage to complete before writing again"));
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
        onLoop(this::closeByApplication);
        return closedQuietly.minimalCompletionStage();
    }

    @Override
    public boolean isConnected() {
        return state == State.OPEN && channel.isActive();
    }

    @Override
    public ConnectionInfo info() {
        return new ConnectionInfo(id, peerId, TcpTransport.PROTOCOL_NAME, direction, localAddress, remoteAddress,
                establishedAt, bytesSent.get(), bytesReceived.get(), Optional.empty(), Optional.empty());
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    @Override
    public String toString() {
        return "tcp connection " + id + " " + direction.name().toLowerCase(java.util.Locale.ROOT) + " " + who();
    }

    // ------------------------------------------------------------------ operations, on the event loop

    private void startRead(ByteBuffer dst, CompletableFuture<Integer> result) {
        readDst = dst;
        readResult = result;
        if (appClosed) {
            failRead(new TransportException.Io("connection " + id + " is closed; open a new one", null));
        } else if (!inbound.isEmpty()) {
            deliver();
            requestInput();
        } else if (inputEnded) {
            completeRead(-1);
        } else if (failure != null) {
            failRead(failure);
        } else if (state == State.CLOSED) {
            failRead(new TransportException.Io("connection " + id + " is closed", null));
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

    /** Asks the channel for more bytes while the read queue is below its bound. */
    private void requestInput() {
        if (state == State.OPEN && !readRequested && !inputEnded && !appClosed
                && queuedBytes < settings.readQueueBytes() && channel.isActive()) {
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
        if (appClosed || state == State.CLOSED) {
            return new TransportException.Io("connection " + id + " is closed; open a new one to write", null);
        }
        if (outputShutdown) {
            return new TransportException.Io("connection " + id + " has shut down its output; nothing more can "
                    + "be written on it", null);
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
            ByteBuf buf = ctx.alloc().heapBuffer(n);
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
            failure = new TransportException.Io("writing to " + who() + " failed: " + describe(cause), cause);
        }
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io("connection " + id + " closed before the write completed", cause));
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
                result.completeExceptionally(new TransportException.Io("flushing to " + who() + " failed: "
                        + describe(f.cause()), f.cause()));
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
            result.completeExceptionally(new IllegalStateException("a write is in progress on connection " + id
                    + "; wait for it to complete before shutting down output"));
            return;
        }
        outputShutdown = true;
        shutdownResult = result;
        // TLS 1.3 allows half-close: close_notify ends our direction only, the
        // peer may go on writing. Then FIN, so the peer's socket sees EOF too.
        tls.closeOutbound().addListener(sent -> {
            if (!sent.isSuccess()) {
                result.completeExceptionally(new TransportException.Io("sending close_notify to " + who()
                        + " failed: " + describe(sent.cause()), sent.cause()));
                return;
            }
            ((DuplexChannel) channel).shutdownOutput().addListener(fin -> {
                if (fin.isSuccess()) {
                    outputShutdownDone = true;
                    result.complete(null);
                    if (inputEnded) {
                        closeChannel();
                    }
                } else {
                    result.completeExceptionally(new TransportException.Io("shutting down the TCP output to "
                            + who() + " failed: " + describe(fin.cause()), fin.cause()));
                }
            });
        });
    }

    private void closeByApplication() {
        if (appClosed) {
            return;
        }
        appClosed = true;
        releaseInbound();
        if (readResult != null) {
            failRead(new TransportException.Io("connection " + id + " was closed by this side while a read "
                    + "waited", null));
        }
        if (writeResult != null && writeSrc.hasRemaining()) {
            failWrite(new TransportException.Io("connection " + id + " was closed by this side before the "
                    + "write was taken", null));
        }
        closeChannel();
    }

    /** Closes gracefully: through the TLS handler, so close_notify goes out before FIN. */
    private void closeChannel() {
        if (channel.isOpen()) {
            ctx.close();
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
        return new TransportException.Io("the tcp transport has stopped, connection " + id + " with it", null);
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // Auto-read is off: the handshake needs a first read; the TLS handler asks for the rest.
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            if (e.isSuccess()) {
                handshakeSucceeded();
            } else {
                handshakeFailed(e.cause());
            }
        } else if (evt instanceof SslCloseCompletionEvent e) {
            if (e.isSuccess()) {
                endOfInput();
            }
        } else if (evt instanceof ChannelInputShutdownEvent) {
            if (state == State.HANDSHAKING) {
                handshakeFailed(new ClosedChannelException());
            } else if (!inputEnded && !tls.engine().isInboundDone()) {
                fail(new TransportException.Io(who() + " ended the TCP stream without a TLS close_notify; "
                        + "what it sent may be truncated", null));
            } else {
                endOfInput();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void handshakeSucceeded() {
        if (state != State.HANDSHAKING) {
            return;
        }
        SSLSession session = tls.engine().getSession();
        try {
            peerId = expectation != null
                    ? PeerCertificates.expect(session, expectation.expected())
                    : PeerCertificates.peerId(session);
        } catch (TransportException.PeerAuthenticationFailed e) {
            refuse(e);
            return;
        }
        localAddress = (InetSocketAddress) channel.localAddress();
        remoteAddress = (InetSocketAddress) channel.remoteAddress();
        establishedAt = Instant.now();
        state = State.OPEN;
        transport.opened(this);
        established.complete(this);
        requestInput();
    }

    private void handshakeFailed(Throwable cause) {
        if (state != State.HANDSHAKING) {
            return;
        }
        refuse(handshakeError(cause));
    }

    private void refuse(TransportException why) {
        state = State.CLOSED;
        failure = why;
        if (direction == Direction.INBOUND) {
            LOG.log(System.Logger.Level.DEBUG, "refused inbound tcp connection from {0}: {1}", target,
                    why.getMessage());
            transport.refusedHandshake();
        }
        established.completeExceptionally(why);
        closeChannel();
    }

    private TransportException handshakeError(Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (expectation != null && expectation.mismatch() != null) {
            return new TransportException.PeerAuthenticationFailed(expectation.expected(), expectation.mismatch(),
                    "the listener at " + target + " proved another key in the TLS handshake");
        }
        if (c instanceof SslHandshakeTimeoutException) {
            return new TransportException.ConnectionTimeout("TLS handshake with " + who(),
                    Duration.ofMillis(settings.handshakeTimeoutMillis()));
        }
        if (c instanceof ClosedChannelException) {
            return new TransportException.ConnectionFailed(target + " closed the connection during the TLS "
                    + "handshake; the peer may be at its connection limit, or may not be a kizuna node", c);
        }
        if (expectation != null && hasCause(c, CertificateException.class)) {
            return new TransportException.PeerAuthenticationFailed(expectation.expected(), null,
                    "the listener at " + target + " presented no valid identity certificate: " + describe(c));
        }
        return new TransportException.ConnectionFailed("TLS handshake with " + who() + " failed: " + describe(c)
                + "; check that the peer is a kizuna node speaking TLS 1.3", c);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf) || appClosed || state == State.CLOSED || !buf.isReadable()) {
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

    /** The peer's close_notify (or, after it, its FIN) arrived: every byte it sent is in. */
    private void endOfInput() {
        if (inputEnded) {
            return;
        }
        inputEnded = true;
        if (readResult != null && inbound.isEmpty()) {
            completeRead(-1);
        }
        if (outputShutdownDone) {
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
        if (state == State.HANDSHAKING) {
            handshakeFailed(cause);
            return;
        }
        if (failure == null && !appClosed) {
            LOG.log(System.Logger.Level.DEBUG, "{0} failed: {1}", this, describe(cause));
            fail(new TransportException.Io("connection " + id + " to " + who() + " failed: " + describe(cause),
                    cause));
        } else {
            closeChannel();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.HANDSHAKING) {
            handshakeFailed(new ClosedChannelException());
        }
        boolean wasOpen = peerId != null && established.isDone() && !established.isCompletedExceptionally();
        state = State.CLOSED;
        boolean orderly = failure == null && (appClosed || inputEnded);
        if (!orderly && failure == null) {
            failure = new TransportException.Io("connection " + id + " to " + who()
                    + " was lost without an orderly close", null);
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
                    : new TransportException.Io("connection " + id + " closed before the write completed", null));
        }
        if (appClosed || failure != null) {
            releaseInbound();
        } else {
            keepInboundOnHeap();
        }
        if (wasOpen) {
            transport.closed(this);
        }
        if (failure == null) {
            closeFuture.complete(null);
        } else {
            closeFuture.completeExceptionally(failure);
        }
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

    // ------------------------------------------------------------------ helpers

    private String who() {
        PeerId p = peerId != null ? peerId : expectation != null ? expectation.expected() : null;
        return p != null ? p + " at " + target : "the dialer at " + target;
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable t) {
        Throwable c = t instanceof DecoderException && t.getCause() != null ? t.getCause() : t;
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }
}
