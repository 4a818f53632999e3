package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import javax.net.ssl.SSLSession;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicConnectionCloseEvent;
import io.netty.handler.codec.quic.QuicConnectionPathStats;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * One authenticated QUIC connection: the handler of its {@link QuicChannel}, and
 * the {@link MultiplexedConnection} the application holds. As a
 * {@link Connection} it is its first stream (the dialer opens it; the listener
 * hands the connection to its acceptor when that stream arrives); further
 * streams come from {@link #openStream()} and {@link #onStream}.
 *
 * <p>Closing: the connection ends with its first stream. The side that reads the
 * last FIN of the first stream closes the connection at once (it has everything,
 * and the peer has read its FIN before sending its own); a side whose own FIN
 * was the last waits up to the close timeout for the peer to do so, so no stream
 * data in flight is cut off by CONNECTION_CLOSE.
 */
final class QuicConnection extends ChannelInboundHandlerAdapter implements MultiplexedConnection {

    private static final System.Logger LOG = System.getLogger(QuicConnection.class.getName());
    /** Whether the unreadable connection ID was reported: once per process is enough to be seen. */
    private static final AtomicBoolean UNREADABLE_ID_WARNED = new AtomicBoolean();

    /**
     * The first byte each side sends on the first stream. QUIC makes a stream
     * known to the peer only when bytes flow on it: the listener hands the
     * connection over when the dialer's preamble arrives, and answers with its
     * own, which tells the dialer that the listener accepted it (a TLS 1.3 client
     * finishes its handshake before the server has checked the client's
     * certificate or decided to take the connection). It also versions the stream
     * layout.
     */
    static final byte PREAMBLE = 1;
    /*
     * DATAGRAM frames (RFC 9221), by their first byte: a dialer's keep-alive; the
     * same from a dialer that has no reset token yet (the listener answers with
     * it); the listener's stateless reset token for the connection ID the dialer
     * sends to, which the listener sends once the handshake completes.
     */
    private static final byte KEEP_ALIVE = 0;
    private static final byte KEEP_ALIVE_WANTS_TOKEN = 1;
    private static final byte RESET_TOKEN = 2;

    /** Application error code of CONNECTION_CLOSE after an orderly end. */
    static final int NO_ERROR = 0;
    /** Application error code of CONNECTION_CLOSE when the transport or listener refuses or stops. */
    static final int REFUSED = 0x101;

    private final QuicTransport transport;
    private final QuicSettings settings;
    private final Direction direction;
    private final String target;
    private final PeerId expected;
    private final CompletableFuture<QuicConnection> established;
    private final String id;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> closedQuietly = closeFuture.exceptionally(e -> null);

    private volatile QuicChannel channel;
    private volatile PeerId peerId;
    private volatile Instant establishedAt;
    private volatile InetSocketAddress localAddress;
    private volatile InetSocketAddress remoteAddress;
    private volatile QuicStream first;
    private volatile boolean early;
    private volatile boolean statelessReset;
    /** The latest path figures from quiche; null until the first sample with an RTT. */
    private volatile PathFigures path;
    private final AtomicBoolean sampling = new AtomicBoolean();

    // Event-loop state.
    private Consumer<Connection> streamAcceptor;
    private final ArrayDeque<QuicStream> waitingStreams = new ArrayDeque<>();
    private boolean authenticated;
    private boolean handedOver;
    private boolean closing;
    private boolean closedByUs;
    private int peerErrorCode = -1;
    private ScheduledFuture<?> closeTimer;
    private ScheduledFuture<?> keepAlive;
    private ScheduledFuture<?> handshakeTimer;

    /**
     * @param transport   the transport that owns it
     * @param direction   who dialed
     * @param target      the peer's endpoint, for messages
     * @param expected    for a dial: the PeerId that must answer; null when accepted
     * @param established completed once the connection is authenticated and its first stream is there
     */
    QuicConnection(QuicTransport transport, Direction direction, String target, PeerId expected,
            CompletableFuture<QuicConnection> established) {
        this.transport = transport;
        this.settings = transport.settings();
        this.direction = direction;
        this.target = target;
        this.expected = expected;
        this.established = established;
        this.id = HexFormat.of().formatHex(QuicTransport.randomBytes(8));
    }

    QuicSettings settings() {
        return settings;
    }

    QuicChannel channel() {
        return channel;
    }


    // ------------------------------------------------------------------ Connection: the first stream

    /** The first stream is there before the connection is handed out, on both sides. */
    private QuicStream first() {
        return first;
    }

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        return first().read(dst);
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        return first().write(src);
    }

    @Override
    public CompletionStage<Void> flush() {
        return first().flush();
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        return first().shutdownOutput();
    }

    @Override
    public CompletionStage<Void> close() {
        QuicStream s = first;
        if (s != null) {
            s.close();
        }
        QuicChannel ch = channel;
        if (ch == null || !onLoop(this::closeAfterTimeout)) {
            closeFuture.complete(null); // never connected, or the transport stopped and closed it
        }
        return closedQuietly.minimalCompletionStage();
    }

    @Override
    public boolean isConnected() {
        QuicStream s = first;
        return s != null && s.isConnected() && channel.isActive();
    }

    @Override
    public ConnectionInfo info() {
        QuicStream s = first;
        return s != null ? s.info() : info(null, 0, 0);
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    // ------------------------------------------------------------------ MultiplexedConnection

    @Override
    public CompletionStage<Connection> openStream() {
        QuicChannel ch = channel;
        if (ch == null || !ch.isActive() || closing) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot open a stream on " + this
                    + ": the connection is closed", null));
        }
        CompletableFuture<Connection> result = new CompletableFuture<>();
        ch.createStream(QuicStreamType.BIDIRECTIONAL, transport.streamInitializer()).addListener(f -> {
            if (f.isSuccess()) {
                QuicStreamChannel sc = (QuicStreamChannel) f.getNow();
                result.complete(sc.pipeline().get(QuicStream.class));
            } else {
                result.completeExceptionally(new TransportException.Io("opening a stream to " + peerName()
                        + " failed: " + QuicTransport.describe(f.cause()) + " (the peer allows "
                        + ch.peerAllowedStreams(QuicStreamType.BIDIRECTIONAL) + " more streams now)", f.cause()));
            }
        });
        return result;
    }

    @Override
    public void onStream(Consumer<Connection> acceptor) {
        QuicChannel ch = channel;
        if (ch == null) {
            return;
        }
        onLoop(() -> {
            streamAcceptor = acceptor;
            QuicStream s;
            while ((s = waitingStreams.poll()) != null) {
                handOver(s);
            }
        });
    }

    private boolean onLoop(Runnable task) {
        try {
            channel.eventLoop().execute(task);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            return false;
        }
    }

    // ------------------------------------------------------------------ streams

    void streamOpened(QuicStream s) {
        if (s.channel().isLocalCreated()) {
            return;
        }
        if (first == null && direction == Direction.INBOUND) {
            first = s;
            ByteBuffer preamble = ByteBuffer.allocate(1);
            readPreamble(s, () -> {
                s.channel().writeAndFlush(Unpooled.wrappedBuffer(new byte[] {PREAMBLE}));
                maybeEstablished();
            });
            return;
        }
        if (streamAcceptor != null) {
            handOver(s);
        } else if (waitingStreams.size() < settings.maxStreamsPerConnection()) {
            waitingStreams.add(s);
        } else {
            LOG.log(System.Logger.Level.WARNING, "quic: reset a stream from {0}: {1} streams wait for the "
                    + "application already", peerName(), waitingStreams.size());
            s.close();
        }
    }

    /**
     * Reads the other side's preamble from the first stream, then runs
     * {@code next}; anything else refuses the connection.
     */
    private void readPreamble(QuicStream s, Runnable next) {
        ByteBuffer preamble = ByteBuffer.allocate(1);
        s.read(preamble).whenComplete((n, e) -> onLoop(() -> {
            if (e == null && n == 1 && preamble.get(0) == PREAMBLE) {
                s.discountReceived(1);
                next.run();
            } else if (e != null || n < 0) {
                refuse(transport.handshakeError(this, target, expected, e));
            } else {
                refuse(new TransportException.ProtocolViolation(peerName() + " did not start the first stream "
                        + "with the kizuna preamble " + PREAMBLE + " but with byte " + preamble.get(0)));
            }
        }));
    }

    private void handOver(QuicStream s) {
        try {
            streamAcceptor.accept(s);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "quic: the stream acceptor failed on " + s + "; closing it", e);
            s.close();
        }
    }

    boolean isFirst(QuicStream s) {
        return s == first;
    }


    void streamClosed(QuicStream s) {
        if (s != first || closing) {
            return;
        }
        if (s.peerEndedLast()) {
            closeNow(NO_ERROR, "done"); // the peer ended after reading this side's FIN: everything is in
        } else {
            closeAfterTimeout();
        }
    }

    /**
     * A dialer sends a 1-byte DATAGRAM frame every {@code keepAliveMillis}: it is
     * ack-eliciting, so it keeps NAT mappings open, and after a NAT rebinding it
     * shows the listener the dialer's new address even when the dialer only
     * receives (otherwise the listener sends into the old mapping and nobody
     * hears from anybody until the idle timeout).
     */
    private void startKeepAlive() {
        int every = settings.keepAliveMillis();
        if (every > 0 && keepAlive == null) {
            keepAlive = channel.eventLoop().scheduleAtFixedRate(() -> {
                if (channel.isActive() && !closing) {
                    StatelessResetDetector d = channel.parent().pipeline().get(StatelessResetDetector.class);
                    byte kind = d == null || d.armed() ? KEEP_ALIVE : KEEP_ALIVE_WANTS_TOKEN;
                    channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {kind}));
                }
            }, every, every, TimeUnit.MILLISECONDS);
        }
    }

    /** DATAGRAM frames end here; anything else (new streams) goes on. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf datagram)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            byte kind = datagram.isReadable() ? datagram.getByte(datagram.readerIndex()) : -1;
            if (direction == Direction.INBOUND && (kind == KEEP_ALIVE || kind == KEEP_ALIVE_WANTS_TOKEN)) {
                transport.keepAliveReceived();
                if (kind == KEEP_ALIVE_WANTS_TOKEN) {
                    sendResetToken();
                }
            } else if (direction == Direction.OUTBOUND && kind == RESET_TOKEN
                    && datagram.readableBytes() == 1 + StatelessResets.TOKEN_LENGTH) {
                StatelessResetDetector d = channel.parent().pipeline().get(StatelessResetDetector.class);
                if (d != null) {
                    d.expect(this, ByteBufUtil.getBytes(datagram, datagram.readerIndex() + 1,
                            StatelessResets.TOKEN_LENGTH));
                }
            } else {
                LOG.log(System.Logger.Level.DEBUG, "{0}: ignored a DATAGRAM frame of {1} bytes starting with {2}",
                        this, datagram.readableBytes(), kind);
            }
        } finally {
            datagram.release();
        }
    }

    /**
     * Tells the dialer the stateless reset token of this connection's ID, so that
     * it knows a reset from this node, even from after a restart, when it sees one.
     */
    private void sendResetToken() {
        ByteBuffer id;
        try {
            id = StatelessResets.connectionId(channel.localAddress());
        } catch (IllegalStateException e) {
            if (UNREADABLE_ID_WARNED.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "quic: stateless resets are off: {0}", e.getMessage());
            }
            return;
        }
        if (id == null || id.remaining() != StatelessResets.CONNECTION_ID_LENGTH) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: no connection ID to send a reset token for", this);
            return;
        }
        ByteBuf frame = channel.alloc().buffer(1 + StatelessResets.TOKEN_LENGTH);
        frame.writeByte(RESET_TOKEN).writeBytes(transport.statelessResets().token(id));
        channel.writeAndFlush(frame);
    }

    /** The listener sent a stateless reset: it has no state for this connection any more. */
    void statelessReset() {
        statelessReset = true;
        LOG.log(System.Logger.Level.INFO, "quic: {0} ended by a stateless reset from {1}", this, target);
    }

    /** Waits for the peer to close, at most the close timeout, then closes. */
    private void closeAfterTimeout() {
        if (closing || closeTimer != null || channel == null) {
            return;
        }
        if (!channel.isActive()) {
            closeNow(NO_ERROR, "done");
            return;
        }
        closeTimer = channel.eventLoop().schedule(() -> closeNow(NO_ERROR, "closed"),
                settings.closeTimeoutMillis(), TimeUnit.MILLISECONDS);
    }

    void closeNow(int code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        closedByUs = true;
        if (closeTimer != null) {
            closeTimer.cancel(false);
        }
        QuicChannel ch = channel;
        if (ch != null && ch.isOpen()) {
            ch.close(true, code, Unpooled.copiedBuffer(reason, java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    ConnectionInfo info(QuicStream s, long sent, long received) {
        String streamId = s == null || s == first ? id : id + "/" + s.channel().streamId();
        samplePath();
        PathFigures p = path;
        return new ConnectionInfo(streamId, peerId, QuicTransport.PROTOCOL_NAME, direction, localAddress,
                remoteAddress, s == null || s == first ? establishedAt : s.openedAt(), sent, received,
                Optional.ofNullable(p).map(PathFigures::rtt), Optional.ofNullable(p).map(PathFigures::bandwidth));
    }

    /**
     * What quiche measured on the connection's path.
     *
     * @param rtt       the smoothed round-trip time
     * @param bandwidth quiche's delivery rate estimate in bytes per second, or the congestion window per RTT
     *                  before it has one
     */
    record PathFigures(Duration rtt, long bandwidth) {

        /**
         * @param stats quiche's path statistics
         * @return the figures, or null before the first RTT sample
         */
        static PathFigures of(QuicConnectionPathStats stats) {
            long rttNanos = stats.rtt();
            if (rttNanos <= 0) {
                return null;
            }
            long rate = stats.deliveryRate() > 0 ? stats.deliveryRate()
                    : (long) (stats.cwnd() * 1e9 / rttNanos);
            return new PathFigures(Duration.ofNanos(rttNanos), rate);
        }
    }

    /**
     * Asks quiche for the path statistics, one request at a time, without waiting:
     * {@link #info} reports the latest sample (taken at its previous call, or when the
     * connection was established), because quiche is read on the event loop only.
     */
    private void samplePath() {
        QuicChannel ch = channel;
        if (ch == null || !ch.isActive() || !sampling.compareAndSet(false, true)) {
            return;
        }
        try {
            ch.collectPathStats(0).addListener(f -> {
                sampling.set(false);
                if (f.isSuccess()) {
                    PathFigures figures = PathFigures.of((QuicConnectionPathStats) f.getNow());
                    if (figures != null) {
                        path = figures;
                    }
                }
            });
        } catch (RuntimeException e) {
            sampling.set(false); // the event loop has stopped: no more samples
        }
    }

    TransportException lostReason(QuicStream s) {
        if (statelessReset) {
            return new TransportException.Io(peerName() + " sent a stateless reset: it has no state for the "
                    + "QUIC connection any more (it restarted or lost it)" + (s != null ? " while " + s
                    + " was open" : ""), null);
        }
        if (peerErrorCode > 0) {
            return new TransportException.Io(peerName() + " closed the QUIC connection with error "
                    + peerErrorCode + " while " + s + " was open", null);
        }
        if (channel != null && channel.isTimedOut()) {
            return new TransportException.Io("the QUIC connection to " + peerName() + " timed out (no packets "
                    + "for " + settings.idleTimeoutMillis() + " ms)", null);
        }
        return new TransportException.Io("the QUIC connection to " + peerName() + " closed"
                + (s != null ? " while " + s + " was open" : " before its first stream opened"), null);
    }

    String peerName() {
        PeerId p = peerId != null ? peerId : expected;
        return p != null ? p + " at " + target : "the dialer at " + target;
    }

    @Override
    public String toString() {
        return "quic connection " + id + " " + direction.name().toLowerCase(java.util.Locale.ROOT) + " "
                + peerName();
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        channel = (QuicChannel) ctx.channel();
        channel.attr(QuicTransport.CONNECTION).set(this);
        if (direction == Direction.INBOUND) {
            // The slot is taken from the first Initial on, and a dialer's keep-alives would hold it past any
            // idle timeout: it has the handshake timeout to prove its key and send its preamble.
            handshakeTimer = ctx.executor().schedule(() -> {
                if (!established.isDone()) {
                    refuse(new TransportException.ConnectionTimeout("waiting for the handshake and preamble of "
                            + peerName(), java.time.Duration.ofMillis(settings.handshakeTimeoutMillis())));
                }
            }, settings.handshakeTimeoutMillis(), TimeUnit.MILLISECONDS);
            established.whenComplete((c, e) -> handshakeTimer.cancel(false));
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        // The handshake is complete.
        SSLSession session = channel.sslEngine().getSession();
        try {
            peerId = expected != null ? PeerCertificates.expect(session, expected)
                    : PeerCertificates.peerId(session);
        } catch (TransportException.PeerAuthenticationFailed e) {
            if (early) {
                LOG.log(System.Logger.Level.WARNING, "quic: {0} sent 0-RTT data to {1}, whose handshake then "
                        + "failed: {2}", this, target, e.getMessage());
                closeNow(REFUSED, "authentication failed");
            } else {
                refuse(e);
            }
            ctx.fireChannelActive();
            return;
        }
        localAddress = (InetSocketAddress) channel.localSocketAddress();
        remoteAddress = (InetSocketAddress) channel.remoteSocketAddress();
        addressValidated(remoteAddress);
        if (establishedAt == null) {
            establishedAt = Instant.now();
        }
        authenticated = true;
        samplePath(); // the handshake's RTT, so that the first info() has figures
        if (direction == Direction.OUTBOUND) {
            startKeepAlive();
            transport.rememberPeer(target, peerId);
            if (!early) {
                openFirstStream(() -> readPreamble(first, this::maybeEstablished));
            }
        } else {
            sendResetToken();
            maybeEstablished();
        }
        ctx.fireChannelActive();
    }

    /**
     * 0-RTT: the TLS session is resumed from a ticket of the peer this dial
     * expects, so the first flight can carry application bytes. Only the peer
     * that issued the ticket can read them. The dial completes now; the first
     * stream skips the listener's preamble when it comes, and the connection is
     * closed if the handshake then fails to prove the expected key.
     */
    private void startEarly() {
        if (direction != Direction.OUTBOUND || authenticated || early || !expected.equals(transport.knownPeer(target))) {
            return;
        }
        early = true;
        peerId = expected;
        establishedAt = Instant.now();
        localAddress = (InetSocketAddress) channel.localSocketAddress();
        remoteAddress = (InetSocketAddress) channel.remoteSocketAddress();
        samplePath(); // the handshake's RTT, so that the first info() has figures
        openFirstStream(() -> {
            first.expectPreamble(PREAMBLE);
            handedOver = true;
            transport.opened(this);
            if (!established.complete(this)) {
                closeNow(REFUSED, "dial abandoned");
            }
        });
    }

    private void openFirstStream(Runnable then) {
        channel.createStream(QuicStreamType.BIDIRECTIONAL, transport.streamInitializer()).addListener(f -> {
            if (f.isSuccess()) {
                QuicStreamChannel sc = (QuicStreamChannel) f.getNow();
                first = sc.pipeline().get(QuicStream.class);
                sc.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {PREAMBLE}));
                then.run();
            } else {
                refuse(new TransportException.ConnectionFailed("opening the first stream to " + peerName()
                        + " failed: " + QuicTransport.describe(f.cause()), f.cause()));
            }
        });
    }

    /** @return whether this dial sent application bytes in its first flight (0-RTT) */
    boolean early() {
        return early;
    }

    private void maybeEstablished() {
        if (!authenticated || first == null || handedOver) {
            return;
        }
        handedOver = true;
        transport.opened(this);
        if (!established.complete(this)) {
            closeNow(REFUSED, "dial abandoned");
        }
    }

    private void refuse(TransportException why) {
        if (direction == Direction.INBOUND) {
            LOG.log(System.Logger.Level.DEBUG, "refused inbound quic connection from {0}: {1}", target,
                    why.getMessage());
            transport.refusedHandshake();
        }
        established.completeExceptionally(why);
        closeNow(REFUSED, "refused");
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.handler.codec.quic.SslEarlyDataReadyEvent && settings.earlyData()) {
            startEarly();
        }
        if (evt instanceof QuicConnectionCloseEvent e && !e.isTlsError()) {
            peerErrorCode = e.error();
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** A listener's socket may now send to the address without the anti-amplification limit. */
    private void addressValidated(InetSocketAddress address) {
        AmplificationGuard guard = direction == Direction.INBOUND && channel.parent() != null
                ? channel.parent().pipeline().get(AmplificationGuard.class) : null;
        if (guard != null && address != null) {
            guard.validated(address);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", this, QuicTransport.describe(cause));
        if (!established.isDone()) {
            established.completeExceptionally(transport.handshakeError(this, target, expected, cause));
        }
        closeNow(REFUSED, "error");
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (closeTimer != null) {
            closeTimer.cancel(false);
        }
        if (keepAlive != null) {
            keepAlive.cancel(false);
        }
        if (!established.isDone()) {
            established.completeExceptionally(transport.handshakeError(this, target, expected, null));
        }
        QuicStream s;
        while ((s = waitingStreams.poll()) != null) {
            s.close();
        }
        transport.closed(this);
        boolean orderly = !statelessReset && (closedByUs || peerErrorCode == NO_ERROR);
        if (orderly) {
            closeFuture.complete(null);
        } else {
            closeFuture.completeExceptionally(lostReason(first));
        }
        ctx.fireChannelInactive();
    }
}
