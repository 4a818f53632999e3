package io.kizuna.relay.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLException;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.tls.NettyTls;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;

/**
 * One end of a relayed circuit: the two peers' identity-bound TLS 1.3 (the same
 * certificates and checks as the direct transports, from the identity bundle),
 * run by Netty's {@link SslHandler} on an {@link EmbeddedChannel} whose
 * ciphertext is pumped to and from the spliced stream. The relay sees only
 * ciphertext.
 *
 * <p>Every state change runs on one {@link SerialExecutor}; the stream's
 * callbacks hop onto it. Input is read from the stream only while a read is
 * pending or the handshake runs, so memory stays bounded by one record batch.
 */
final class CircuitConnection implements Connection {

    private static final int READ_SIZE = 32 * 1024;
    private static final int WRITE_CHUNK = 64 * 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Connection inner;
    private final SerialExecutor serial;
    private final PeerId expected;
    private final DialTrustManager trust;
    private final ConnectionInfo.Direction direction;
    private final InetSocketAddress local;
    private final InetSocketAddress remote;
    private final Endpoint.Hop hop;
    private final String id;
    private final AtomicBoolean reading = new AtomicBoolean();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final CompletableFuture<CircuitConnection> handshake = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final ArrayDeque<ByteBuf> plain = new ArrayDeque<>();

    // Serial-executor state.
    private EmbeddedChannel channel;
    private SslHandler tls;
    private volatile PeerId peer;
    private volatile Instant establishedAt;
    private CompletableFuture<Void> writeTail = CompletableFuture.completedFuture(null);
    private ByteBuffer readDst;
    private CompletableFuture<Integer> readResult;
    private boolean innerReading;
    private boolean innerEnded;
    private boolean innerGone;
    private volatile boolean inputEnded;
    private volatile boolean outputShut;
    private volatile TransportException failure;

    private CircuitConnection(Connection inner, Executor pool, PeerId expected, DialTrustManager trust,
            ConnectionInfo.Direction direction, InetSocketAddress local, InetSocketAddress remote,
            Endpoint.Hop hop) {
        this.inner = inner;
        this.serial = new SerialExecutor(pool);
        this.expected = expected;
        this.trust = trust;
        this.direction = direction;
        this.local = local;
        this.remote = remote;
        this.hop = hop;
        byte[] raw = new byte[8];
        RANDOM.nextBytes(raw);
        this.id = "r" + HexFormat.of().formatHex(raw);
    }

    /**
     * Runs the dialer's side of the handshake over a spliced stream.
     *
     * @param inner    the stream, spliced by the relay
     * @param identity this node's identity
     * @param engine   the TLS engine
     * @param target   the peer asked for; another key fails with {@link TransportException.PeerAuthenticationFailed}
     * @param hop      the relay
     * @param pool     where the work runs
     * @return completes with the connection once the handshake proved {@code target}
     */
    static CompletionStage<CircuitConnection> dial(Connection inner, NodeIdentity identity, NettyTls engine,
            PeerId target, Endpoint.Hop hop, Executor pool) {
        DialTrustManager trust = DialTrustManager.forPeer(identity.trustManager(), target);
        ConnectionInfo i = inner.info();
        CircuitConnection c = new CircuitConnection(inner, pool, target, trust, ConnectionInfo.Direction.OUTBOUND,
                i.localAddress(), i.remoteAddress(), hop);
        try {
            SslContext ctx = engine.client(identity, trust).build();
            c.serial.execute(() -> c.start(ctx));
        } catch (SSLException e) {
            c.handshake.completeExceptionally(new TransportException.Io("building the circuit's TLS context", e));
        }
        return c.handshake;
    }

    /**
     * Runs the reserved peer's side of the handshake over a spliced stream. The
     * connection's addresses are those of the hop stream, which this node saw
     * itself: the dialer's address in INCOMING is only what the relay claims, and
     * whatever counts by source address (a relay service on this node, say) must
     * not trust it.
     *
     * @param inner    the stream, spliced by the relay
     * @param identity this node's identity
     * @param engine   the TLS engine
     * @param dialer   the dialer as the relay named it; the handshake must prove it
     * @param source   the dialer's address as the relay claims it, for messages only
     * @param hop      the relay
     * @param pool     where the work runs
     * @param timer    times the handshake
     * @param timeout  how long the dialer has to finish the handshake; then the circuit is closed, so a dialer
     *                 that never sends a ClientHello cannot hold it
     * @return completes with the connection once the dialer proved its key
     */
    static CompletionStage<CircuitConnection> accept(Connection inner, NodeIdentity identity, NettyTls engine,
            PeerId dialer, InetSocketAddress source, Endpoint.Hop hop, Executor pool, ScheduledExecutorService timer,
            Duration timeout) {
        // Both addresses are the relay's: this node listens there, and the dialer is reached through it.
        InetSocketAddress relay = inner.info().remoteAddress();
        CircuitConnection c = new CircuitConnection(inner, pool, dialer, null, ConnectionInfo.Direction.INBOUND,
                relay, relay, hop);
        try {
            SslContext ctx = engine.server(identity, ClientAuth.REQUIRE).build();
            c.serial.execute(() -> c.start(ctx));
        } catch (SSLException e) {
            c.handshake.completeExceptionally(new TransportException.Io("building the circuit's TLS context", e));
        }
        ScheduledFuture<?> t = timer.schedule(() -> c.timedOut(timeout, source), timeout.toMillis(),
                TimeUnit.MILLISECONDS);
        c.handshake.whenComplete((v, e) -> t.cancel(false));
        return c.handshake;
    }

    private void timedOut(Duration timeout, InetSocketAddress claimed) {
        try {
            serial.execute(() -> {
                if (!handshake.isDone()) {
                    fail(new TransportException.ConnectionTimeout("end-to-end TLS from " + expected + " (at "
                            + claimed.getAddress().getHostAddress() + ", as relay " + hop.peer() + " says)",
                            timeout));
                }
            });
        } catch (RejectedExecutionException stopped) {
            inner.close();
        }
    }

    // ------------------------------------------------------------------ serial-executor work

    private void start(SslContext ctx) {
        tls = ctx.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT);
        tls.setHandshakeTimeoutMillis(0); // nothing runs the EmbeddedChannel's timers: the dial and accept() time it
        tls.setCloseNotifyFlushTimeoutMillis(0);
        tls.setCloseNotifyReadTimeoutMillis(0);
        channel = new EmbeddedChannel(tls, new Tail());
        inner.closeFuture().whenCompleteAsync((v, e) -> innerClosed(e), serial);
        flushOut();
        readInner();
    }

    /** Receives what the TLS handler decrypts and reports. */
    private final class Tail extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            plain.add((ByteBuf) msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent e) {
                if (e.isSuccess()) {
                    handshakeSucceeded();
                } else {
                    handshakeFailed(e.cause());
                }
            } else if (evt instanceof SslCloseCompletionEvent e && e.isSuccess()) {
                inputEnded = true;
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(new TransportException.Io("TLS on the circuit to " + expected + " failed: " + cause.getMessage(),
                    cause));
        }
    }

    /** @return the circuit's TLS engine, once the handshake started */
    javax.net.ssl.SSLEngine engine() {
        SslHandler t = tls;
        return t == null ? null : t.engine();
    }

    private void handshakeSucceeded() {
        try {
            PeerId proved = PeerCertificates.peerId(tls.engine().getSession());
            if (!proved.equals(expected)) {
                throw new TransportException.PeerAuthenticationFailed(expected, proved,
                        "the peer at the end of the circuit through relay " + hop.peer() + " proved another key");
            }
            peer = proved;
            establishedAt = Instant.now();
            handshake.complete(this);
        } catch (TransportException.PeerAuthenticationFailed e) {
            fail(e);
        }
    }

    private void handshakeFailed(Throwable cause) {
        PeerId other = trust == null ? null : trust.mismatch();
        if (other != null) {
            fail(new TransportException.PeerAuthenticationFailed(expected, other,
                    "end-to-end TLS through relay " + hop.peer()));
        } else {
            fail(new TransportException.ConnectionFailed("end-to-end TLS with " + expected + " through relay "
                    + hop.peer() + " failed: " + (cause == null ? "closed" : cause.getMessage()), cause));
        }
    }

    private void readInner() {
        if (innerReading || innerEnded || failure != null) {
            return;
        }
        innerReading = true;
        ByteBuffer b = ByteBuffer.allocate(READ_SIZE);
        inner.read(b).whenCompleteAsync((n, e) -> {
            innerReading = false;
            if (e != null) {
                fail(TransportException.unwrap(e));
            } else {
                onInner(b.flip(), n);
            }
        }, serial);
    }

    private void onInner(ByteBuffer b, int n) {
        if (n < 0) {
            innerEnded = true;
            if (!handshake.isDone()) {
                handshakeFailed(new ClosedChannelException());
            } else if (!inputEnded) {
                fail(new TransportException.Io("the circuit from " + expected + " through relay " + hop.peer()
                        + " ended without a TLS close_notify; what it sent may be truncated", null));
            }
            deliver();
            maybeFinish();
            return;
        }
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(b));
        } catch (RuntimeException e) {
            fail(new TransportException.Io("TLS on the circuit to " + expected + " failed: " + e.getMessage(), e));
            return;
        }
        flushOut();
        deliver();
        if (!handshake.isDone() || innerGone || (readResult != null && plain.isEmpty() && !inputEnded)) {
            readInner();
        }
        maybeFinish();
    }

    /** Completes the pending read from decrypted bytes, or with -1 at the end. */
    private void deliver() {
        if (readResult == null) {
            return;
        }
        CompletableFuture<Integer> r = readResult;
        if (!plain.isEmpty()) {
            int n = 0;
            while (!plain.isEmpty() && readDst.hasRemaining()) {
                ByteBuf head = plain.peek();
                int take = Math.min(head.readableBytes(), readDst.remaining());
                int limit = readDst.limit();
                readDst.limit(readDst.position() + take);
                head.readBytes(readDst);
                readDst.limit(limit);
                n += take;
                if (!head.isReadable()) {
                    plain.poll().release();
                }
            }
            received.addAndGet(n);
            readResult = null;
            readDst = null;
            reading.set(false);
            r.complete(n);
        } else if (inputEnded || (innerEnded && failure == null)) {
            readResult = null;
            readDst = null;
            reading.set(false);
            r.complete(-1);
        } else if (failure != null) {
            readResult = null;
            readDst = null;
            reading.set(false);
            r.completeExceptionally(failure);
        }
    }

    /** Sends what the TLS handler produced, after what was queued before. */
    private CompletableFuture<Void> flushOut() {
        int total = 0;
        ArrayDeque<ByteBuf> out = new ArrayDeque<>();
        for (Object o = channel.readOutbound(); o != null; o = channel.readOutbound()) {
            ByteBuf b = (ByteBuf) o;
            total += b.readableBytes();
            out.add(b);
        }
        if (total == 0) {
            out.forEach(ByteBuf::release);
            return writeTail;
        }
        ByteBuffer cipher = ByteBuffer.allocate(total);
        for (ByteBuf b : out) {
            cipher.put(b.nioBuffer());
            b.release();
        }
        cipher.flip();
        writeTail = writeTail.thenCompose(v -> inner.write(cipher)).toCompletableFuture();
        return writeTail;
    }

    private void fail(TransportException e) {
        if (failure != null) {
            return;
        }
        failure = e;
        if (!handshake.isDone()) {
            handshake.completeExceptionally(e);
        }
        deliver();
        releasePlain();
        inner.close();
        closed.completeExceptionally(e);
    }

    /**
     * The spliced stream closed. What it delivered before closing may still be
     * unread (the peer's last bytes and close_notify): drain it, and let the end
     * of that input tell an orderly end from a cut one.
     */
    private void innerClosed(Throwable e) {
        if (failure != null || closed.isDone()) {
            return;
        }
        if (!handshake.isDone()) {
            handshakeFailed(e);
            return;
        }
        innerGone = true;
        readInner();
        maybeFinish();
    }

    private void maybeFinish() {
        if (inputEnded && outputShut && failure == null && plain.isEmpty()) {
            finish();
        }
    }

    private void finish() {
        if (closed.isDone()) {
            return;
        }
        releasePlain();
        writeTail.handle((v, e) -> null).thenCompose(v -> inner.close()).whenComplete((v, e) -> closed.complete(null));
    }

    private void releasePlain() {
        plain.forEach(ByteBuf::release);
        plain.clear();
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        if (!dst.hasRemaining()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read into a full buffer"));
        }
        if (!reading.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a read is already pending"));
        }
        CompletableFuture<Integer> r = new CompletableFuture<>();
        serial.execute(() -> {
            readDst = dst;
            readResult = r;
            deliver();
            if (readResult != null) {
                readInner();
            }
            maybeFinish();
        });
        return r;
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        if (!writing.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a write is already pending"));
        }
        CompletableFuture<Void> w = new CompletableFuture<>();
        serial.execute(() -> writeChunk(src, w));
        return w.whenComplete((v, e) -> writing.set(false));
    }

    private void writeChunk(ByteBuffer src, CompletableFuture<Void> w) {
        if (failure != null) {
            w.completeExceptionally(failure);
            return;
        }
        if (outputShut || closed.isDone()) {
            w.completeExceptionally(new TransportException.Io("write after the circuit to " + expected
                    + " was shut for output", null));
            return;
        }
        int n = Math.min(src.remaining(), WRITE_CHUNK);
        ByteBuffer piece = src.duplicate();
        piece.limit(piece.position() + n);
        channel.writeOneOutbound(Unpooled.copiedBuffer(piece));
        channel.flushOutbound();
        flushOut().whenCompleteAsync((v, e) -> {
            if (e != null) {
                w.completeExceptionally(TransportException.unwrap(e));
                fail(TransportException.unwrap(e));
                return;
            }
            src.position(src.position() + n);
            sent.addAndGet(n);
            if (src.hasRemaining()) {
                writeChunk(src, w);
            } else {
                w.complete(null);
            }
        }, serial);
    }

    @Override
    public CompletionStage<Void> flush() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        serial.execute(() -> writeTail.thenCompose(v -> inner.flush()).whenComplete((v, e) -> {
            if (e != null) {
                f.completeExceptionally(TransportException.unwrap(e));
            } else {
                f.complete(null);
            }
        }));
        return f;
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        serial.execute(() -> {
            if (failure != null) {
                f.completeExceptionally(failure);
                return;
            }
            if (outputShut) {
                f.complete(null);
                return;
            }
            outputShut = true;
            tls.closeOutbound();
            flushOut().thenCompose(v -> inner.shutdownOutput()).whenCompleteAsync((v, e) -> {
                if (e != null) {
                    f.completeExceptionally(TransportException.unwrap(e));
                } else {
                    f.complete(null);
                }
                maybeFinish();
            }, serial);
        });
        return f;
    }

    /** Closes gracefully (TLS close_notify, then the hop); again, or once the transport stopped, it returns. */
    @Override
    public CompletionStage<Void> close() {
        if (closed.isDone()) {
            return closed.handle((v, e) -> null);
        }
        try {
            serial.execute(() -> {
                if (closed.isDone()) {
                    return;
                }
                if (!outputShut && failure == null) {
                    outputShut = true;
                    tls.closeOutbound();
                    flushOut();
                }
                inputEnded = true;
                deliver();
                finish();
            });
        } catch (RejectedExecutionException stopped) {
            // The relay transport stopped, and its executor with it: end the hop without the TLS goodbye.
            try {
                inner.close().whenComplete((v, e) -> closed.complete(null));
            } catch (RuntimeException e) {
                closed.complete(null);
            }
        }
        return closed.handle((v, e) -> null);
    }

    @Override
    public boolean isConnected() {
        return !closed.isDone() && failure == null && !(inputEnded && outputShut);
    }

    @Override
    public ConnectionInfo info() {
        Instant at = establishedAt;
        return new ConnectionInfo(id, peer == null ? expected : peer, RelayTransport.PROTOCOL_NAME, direction, local,
                remote, at == null ? Instant.now() : at, sent.get(), received.get(), Optional.empty(),
                Optional.empty(), Optional.of(hop));
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }
}
