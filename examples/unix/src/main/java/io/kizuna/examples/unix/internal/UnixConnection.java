package io.kizuna.examples.unix.internal;

import static io.kizuna.transport.support.Causes.describe;
import static io.kizuna.transport.support.Causes.hasCause;

import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLSession;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.ByteBufStream;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;

/**
 * One TLS connection over a Unix domain socket: the last handler of its channel's pipeline, after
 * the {@link SslHandler}, and the {@link Connection} the application holds.
 *
 * <p>Copied from the tcp transport, as a third-party transport would: a Unix
 * domain socket is a stream socket too, with half-close. Its addresses in
 * {@link ConnectionInfo} are the endpoints' (loopback and the socket number)
 * rather than file names.
 *
 * <p>The reads, writes, flushes and their limits are {@link ChannelStream}'s:
 * demand-driven reads bounded by the read queue, writes handed to the TLS layer
 * in chunks while the channel is writable. This class adds the TLS handshake
 * and the peer's authentication, and ends its direction with close_notify and
 * FIN. All mutable state is touched on the channel's event loop only.
 */
final class UnixConnection extends ByteBufStream {

    /** The address of the loopback interface, which unix endpoints name. */
    static final java.net.InetAddress LOOPBACK = new InetSocketAddress("127.0.0.1", 0).getAddress();

    /**
     * The address a dialing socket has in {@link ConnectionInfo}: it has no name
     * in the file system, so loopback with port 0.
     */
    static final InetSocketAddress UNNAMED = new InetSocketAddress(LOOPBACK, 0);

    private static final System.Logger LOG = System.getLogger(UnixConnection.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    private enum State { HANDSHAKING, OPEN, CLOSED }

    private final UnixTransport transport;
    private final UnixSettings settings;
    private final Channel channel;
    private final SslHandler tls;
    private final Direction direction;
    private final String target;
    private final DialTrustManager expectation;
    private final CompletableFuture<UnixConnection> established;
    private final String id;

    private volatile State state = State.HANDSHAKING;
    private volatile PeerId peerId;
    private volatile Instant establishedAt;
    private final InetSocketAddress localAddress;
    private final InetSocketAddress remoteAddress;

    // Event-loop state.
    private boolean outputShutdownDone;
    private boolean lingering;

    /**
     * @param transport   the transport that owns it
     * @param channel     its channel
     * @param tls         the channel's TLS handler
     * @param direction   who dialed
     * @param target      the endpoint, for messages (e.g. {@code tcp://127.0.0.1:7400})
     * @param expectation for a dial: the trust manager that knows the expected PeerId; null when accepted
     * @param established completed with this connection once authenticated, or with the reason it was not
     * @param local       this side's address: the listener's endpoint address when accepted, else
     *                    {@link #UNNAMED} (a dialing socket has no name)
     * @param remote      the other side's, likewise
     */
    UnixConnection(UnixTransport transport, Channel channel, SslHandler tls, Direction direction, String target,
            DialTrustManager expectation, CompletableFuture<UnixConnection> established, InetSocketAddress local,
            InetSocketAddress remote) {
        super(channel, UnixTransport.PROTOCOL_NAME);
        this.transport = transport;
        this.settings = transport.settings();
        this.channel = channel;
        this.tls = tls;
        this.direction = direction;
        this.target = target;
        this.expectation = expectation;
        this.established = established;
        this.localAddress = local;
        this.remoteAddress = remote;
        byte[] random = new byte[8];
        RANDOM.nextBytes(random);
        this.id = HexFormat.of().formatHex(random);
    }

    Channel channel() {
        return channel;
    }

    // ------------------------------------------------------------------ Connection

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
        return new ConnectionInfo(id, peerId, UnixTransport.PROTOCOL_NAME, direction, localAddress, remoteAddress,
                establishedAt, bytesSent.get(), bytesReceived.get(), Optional.empty(), Optional.empty());
    }

    @Override
    public String toString() {
        return "unix connection " + id + " " + direction.name().toLowerCase(java.util.Locale.ROOT) + " " + who();
    }

    // ------------------------------------------------------------------ the stream's hooks, on the event loop

    @Override
    protected String name() {
        return "connection " + id;
    }

    @Override
    protected boolean isClosed() {
        return state == State.CLOSED;
    }

    /** Asks the channel for more bytes while the read queue is below its bound. */
    @Override
    protected boolean wantsInput() {
        if (state != State.OPEN || inputEnded) {
            return false;
        }
        return appClosed ? lingering : inbound.bytes() < settings.readQueueBytes();
    }

    @Override
    protected ByteBuf allocate(int bytes) {
        return ctx.alloc().heapBuffer(bytes);
    }

    @Override
    protected TransportException ioError(String doing, Throwable cause) {
        return new TransportException.Io(doing + " " + who() + " failed: " + describe(cause), cause);
    }

    @Override
    protected void endOutput(CompletableFuture<Void> result) {
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
                    result.completeExceptionally(new TransportException.Io("shutting down the socket output to "
                            + who() + " failed: " + describe(fin.cause()), fin.cause()));
                }
            });
        });
    }

    /** A failed write leaves an epoll socket open (the peer reset it): close it, as the tcp transport does. */
    @Override
    protected void writeFailed() {
        closeChannel();
    }

    /**
     * Lingers, as the tcp transport does: ends this side's direction (close_notify, FIN), then reads and drops
     * what the peer still sends until its end or {@code closeTimeoutMillis}, and only then closes the socket;
     * a socket closed with unread input would reset the connection and could destroy the tail written before.
     */
    private void closeByApplication() {
        if (!closedByApplication()) {
            return;
        }
        if (state != State.OPEN || !channel.isActive() || inputEnded || failure != null) {
            closeChannel();
            return;
        }
        lingering = true;
        ctx.executor().schedule(this::closeChannel, settings.closeTimeoutMillis(), TimeUnit.MILLISECONDS);
        if (!outputShutdown) {
            outputShutdown = true;
            CompletableFuture<Void> ended = new CompletableFuture<>();
            ended.whenComplete((v, e) -> {
                if (e != null) {
                    closeChannel();
                }
            });
            endOutput(ended);
        }
        requestInput();
    }

    /** Closes gracefully: through the TLS handler, so close_notify goes out before FIN. */
    @Override
    protected void closeChannel() {
        if (channel.isOpen()) {
            ctx.close();
        }
    }

    // ------------------------------------------------------------------ channel events

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
            } else if (appClosed) {
                closeChannel(); // lingering after the application's close: the peer's end, however it ended
            } else if (!inputEnded && !tls.engine().isInboundDone()) {
                fail(new TransportException.Io(who() + " ended the socket stream without a TLS close_notify; "
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
            LOG.log(System.Logger.Level.DEBUG, "refused inbound unix connection from {0}: {1}", target,
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

    /** The peer's close_notify (or, after it, its FIN) arrived: every byte it sent is in. */
    private void endOfInput() {
        if (inputEnded) {
            return;
        }
        endInput();
        if (outputShutdownDone) {
            closeChannel(); // both directions ended in order
        }
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
        settlePending();
        keepOrReleaseInbound();
        if (wasOpen) {
            transport.closed(this);
        }
        completeCloseFuture();
        ctx.fireChannelInactive();
    }

    // ------------------------------------------------------------------ helpers

    private String who() {
        PeerId p = peerId != null ? peerId : expectation != null ? expectation.expected() : null;
        return p != null ? p + " at " + target : "the dialer at " + target;
    }
}
