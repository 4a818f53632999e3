package io.kizuna.websocket.internal;

import static io.kizuna.transport.support.Causes.describe;
import static io.kizuna.transport.support.Causes.hasCause;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLSession;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.ChannelStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

import org.java_websocket.WebSocket;
import org.java_websocket.WebSocketAdapter;
import org.java_websocket.WebSocketImpl;
import org.java_websocket.drafts.Draft;
import org.java_websocket.enums.Opcode;
import org.java_websocket.exceptions.InvalidDataException;
import org.java_websocket.exceptions.InvalidHandshakeException;
import org.java_websocket.exceptions.WebsocketNotConnectedException;
import org.java_websocket.framing.CloseFrame;
import org.java_websocket.framing.Framedata;
import org.java_websocket.handshake.ClientHandshake;
import org.java_websocket.handshake.HandshakeImpl1Client;
import org.java_websocket.handshake.Handshakedata;
import org.java_websocket.handshake.ServerHandshakeBuilder;

/**
 * One wss connection: the last handler of its channel's pipeline, after the
 * {@link SslHandler}, and the {@link Connection} the application holds.
 *
 * <p>Netty owns the socket and TLS; Java-WebSocket's {@link WebSocketImpl} is
 * used as a protocol engine without I/O of its own: bytes read are handed to
 * {@link WebSocketImpl#decode}, and what it wants to send is taken from its out
 * queue when it signals write demand. Every call into the engine happens on the
 * channel's event loop.
 *
 * <p>The stream (subprotocol {@value KizunaDraft#SUBPROTOCOL}): written bytes
 * travel as binary messages of at most {@code sendMessageSize}; an empty binary
 * message (empty once inflated) ends the sender's direction (half-close); text messages are refused
 * with 1003. When both directions have ended, the side that saw the second end
 * sends Close 1000. A Close from the peer with 1000 or 1001 is an end of stream
 * (bytes before it stay readable); any other code fails the connection.
 *
 * <p>Reads are demand-driven (auto-read off): messages wait, as received
 * (compressed or not), while fewer than the read-queue bound of bytes wait for
 * the application. A compressed message is inflated only when the application
 * reads it, into at most {@code maxMessageSize} bytes. Writes, flushes and their
 * limits are {@link ChannelStream}'s, as in the TCP transport: a write completes
 * once the channel is writable again.
 */
final class WebSocketConnection extends ChannelStream {

    private static final System.Logger LOG = System.getLogger(WebSocketConnection.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Compressed messages of at most this many bytes are inflated on arrival, to see an end of stream. */
    private static final int SMALL_COMPRESSED = 16;

    private enum State { HANDSHAKING, OPEN, CLOSED }

    /** A message as received: its payload and whether it is still compressed. */
    private record Message(ByteBuffer payload, boolean compressed) {
    }

    private final WebSocketTransport transport;
    private final WebSocketSettings settings;
    private final Channel channel;
    private final SslHandler tls;
    private final Direction direction;
    private final String target;
    private final PeerId expected;
    private final boolean anonymousAllowed;
    private final CompletableFuture<WebSocketConnection> established;
    private final String id;
    private final WebSocketImpl engine;
    /**
     * The negotiated permessage-deflate, kept from the first compressed message on: when the engine closes it
     * resets its draft, which forgets the extension, while compressed messages may still wait for the reader.
     */
    private PerMessageDeflate inflater;

    private volatile State state = State.HANDSHAKING;
    private volatile PeerId peerId;
    private volatile Instant establishedAt;
    private volatile InetSocketAddress localAddress;
    private volatile InetSocketAddress remoteAddress;

    // Event-loop state.
    private final ArrayDeque<Message> inbound = new ArrayDeque<>();
    private ByteBuffer current;
    private long queuedBytes;
    private long handshakeBytes;
    private long lastReceived = System.nanoTime();
    private boolean eofReceived;
    private boolean outputShutdownDone;
    private boolean closing;
    private boolean closedByPeer;
    private ScheduledFuture<?> handshakeTimer;
    private ScheduledFuture<?> keepAlive;
    private ScheduledFuture<?> closeTimer;

    /**
     * @param transport        the transport that owns it
     * @param channel          its channel
     * @param tls              the channel's TLS handler
     * @param direction        who dialed
     * @param target           the endpoint, for messages (e.g. {@code websocket://127.0.0.1:7443})
     * @param expected         for a dial: the PeerId the listener must prove; null when accepted
     * @param anonymousAllowed when accepted: whether a dialer without an identity certificate may upgrade
     * @param established      completed with this connection once authenticated and upgraded
     */
    WebSocketConnection(WebSocketTransport transport, Channel channel, SslHandler tls, Direction direction,
            String target, PeerId expected, boolean anonymousAllowed,
            CompletableFuture<WebSocketConnection> established) {
        super(channel, WebSocketTransport.PROTOCOL_NAME);
        this.transport = transport;
        this.settings = transport.settings();
        this.channel = channel;
        this.tls = tls;
        this.direction = direction;
        this.target = target;
        this.expected = expected;
        this.anonymousAllowed = anonymousAllowed;
        this.established = established;
        byte[] random = new byte[8];
        RANDOM.nextBytes(random);
        this.id = HexFormat.of().formatHex(random);
        KizunaDraft draft = new KizunaDraft(settings.maxFrameSize(), settings.maxMessageSize(), settings.deflate());
        this.engine = direction == Direction.OUTBOUND
                ? new WebSocketImpl(new Events(), draft)
                : new WebSocketImpl(new Events(), List.<Draft>of(draft));
    }

    /** @return whether the dialer proved no node key (only possible where anonymous dialers are allowed) */
    boolean anonymous() {
        return peerId == null;
    }

    /** @return the TLS engine of this connection */
    javax.net.ssl.SSLEngine sslEngine() {
        return tls.engine();
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public CompletionStage<Void> close() {
        onLoop(() -> closeByApplication(CloseFrame.NORMAL, "closed by the application"));
        return closedQuietly.minimalCompletionStage();
    }

    /**
     * Closes with a given code (the transport uses 1001 when it stops).
     *
     * @param code   the close code
     * @param reason the reason sent with it
     * @return completed when the channel has closed
     */
    CompletionStage<Void> close(int code, String reason) {
        onLoop(() -> closeByApplication(code, reason));
        return closedQuietly.minimalCompletionStage();
    }

    @Override
    public boolean isConnected() {
        return state == State.OPEN && channel.isActive();
    }

    @Override
    public ConnectionInfo info() {
        return new ConnectionInfo(id, peerId, WebSocketTransport.PROTOCOL_NAME, direction, localAddress,
                remoteAddress, establishedAt, bytesSent.get(), bytesReceived.get(), Optional.empty(),
                Optional.empty());
    }

    @Override
    public String toString() {
        return "websocket connection " + id + " " + direction.name().toLowerCase(Locale.ROOT) + " " + who();
    }

    // ------------------------------------------------------------------ reads, on the event loop

    @Override
    protected String name() {
        return "connection " + id;
    }

    @Override
    protected boolean isClosed() {
        return state == State.CLOSED;
    }

    /** As the stream's, except that a failure wins over the end of input, and inflating may fail the read. */
    @Override
    protected void startRead() {
        if (appClosed) {
            failRead(new TransportException.Io("connection " + id + " is closed; open a new one", null));
        } else if (hasData()) {
            deliver();
        } else if (readResult == null) {
            return; // inflating the next message failed the read
        } else if (failure != null) {
            failRead(failure); // after the bytes that came before it
        } else if (inputEnded && inbound.isEmpty()) {
            completeRead(-1);
        } else if (state == State.CLOSED) {
            failRead(new TransportException.Io("connection " + id + " is closed", null));
        } else {
            requestInput();
        }
    }

    /** @return whether bytes are ready for the reader, inflating the next message when needed */
    @Override
    protected boolean hasData() {
        while ((current == null || !current.hasRemaining()) && !inbound.isEmpty()) {
            Message m = inbound.poll();
            queuedBytes -= m.payload().remaining();
            if (m.compressed()) {
                try {
                    current = inflater.inflate(m.payload(), settings.maxMessageSize());
                } catch (InvalidDataException e) {
                    protocolFailure(e.getCloseCode(), e.getMessage());
                    return false;
                }
            } else {
                current = m.payload();
            }
            requestInput();
        }
        return current != null && current.hasRemaining();
    }

    @Override
    protected void deliver() {
        ByteBuffer dst = readDst;
        int n = Math.min(dst.remaining(), current.remaining());
        int limit = current.limit();
        current.limit(current.position() + n);
        dst.put(current);
        current.limit(limit);
        delivered(n);
        requestInput();
    }

    /** Asks the channel for more bytes while the read queue is below its bound (or to finish a close). */
    @Override
    protected boolean wantsInput() {
        return switch (state) {
            case HANDSHAKING -> true;
            case OPEN -> closing || (!appClosed && queuedBytes < settings.readQueueBytes());
            case CLOSED -> false;
        };
    }

    @Override
    protected void discardInbound() {
        inbound.clear();
        current = null;
        queuedBytes = 0;
    }

    // ------------------------------------------------------------------ writes, on the event loop

    @Override
    protected boolean refusesWrites() {
        return closing || state == State.CLOSED || !engine.isOpen();
    }

    @Override
    protected boolean closingHere() {
        return appClosed || closing;
    }

    @Override
    protected int chunkSize() {
        return settings.sendMessageSize();
    }

    /** One binary message per chunk. */
    @Override
    protected boolean writeChunk(ByteBuffer chunk) {
        ByteBuffer message = ByteBuffer.allocate(chunk.remaining());
        message.put(chunk);
        message.flip();
        try {
            engine.send(message);
        } catch (WebsocketNotConnectedException e) {
            failWrite(new TransportException.Io("connection " + id + " to " + who()
                    + " closed before the write completed", e));
            return false;
        }
        return true;
    }

    @Override
    protected TransportException ioError(String doing, Throwable cause) {
        return new TransportException.Io(doing + " " + who() + " failed: " + describe(cause), cause);
    }

    @Override
    protected void endOutput(CompletableFuture<Void> result) {
        // kizuna.v1: an empty binary message ends this direction; the peer may go on writing.
        engine.send(ByteBuffer.allocate(0));
        ctx.flush();
        lastWrite.addListener(sent -> {
            if (!sent.isSuccess()) {
                result.completeExceptionally(new TransportException.Io("sending the end of stream to " + who()
                        + " failed: " + describe(sent.cause()), sent.cause()));
                return;
            }
            outputShutdownDone = true;
            result.complete(null);
            if (eofReceived) {
                startClose(CloseFrame.NORMAL, "both directions ended");
            }
        });
    }

    private void closeByApplication(int code, String reason) {
        if (closedByApplication()) {
            startClose(code, reason);
        }
    }

    /**
     * Sends Close when the WebSocket is open, then waits (at most
     * {@code closeTimeoutMillis}) for the peer's Close or end of stream; closes at
     * once otherwise.
     */
    private void startClose(int code, String reason) {
        if (engine.isOpen()) {
            engine.close(code, reason); // calls back closing(...)
        } else if (!closing) {
            closeChannel();
        }
    }

    /** Closes gracefully: through the TLS handler, so close_notify goes out before FIN. */
    @Override
    protected void closeChannel() {
        if (channel.isOpen()) {
            ctx.close();
        }
    }

    // ------------------------------------------------------------------ engine events

    /** Java-WebSocket's callbacks; all arrive on the event loop, inside calls this handler made. */
    private final class Events extends WebSocketAdapter {

        @Override
        public ServerHandshakeBuilder onWebsocketHandshakeReceivedAsServer(WebSocket conn, Draft draft,
                ClientHandshake request) throws InvalidDataException {
            String resource = request.getResourceDescriptor();
            int query = resource.indexOf('?');
            if (!(query < 0 ? resource : resource.substring(0, query)).equals(settings.path())) {
                throw new InvalidDataException(CloseFrame.POLICY_VALIDATION, "no kizuna endpoint at " + resource
                        + " (the path is " + settings.path() + ")");
            }
            if (peerId == null && !anonymousAllowed) {
                throw new InvalidDataException(CloseFrame.POLICY_VALIDATION, "the dialer presented no TLS client "
                        + "certificate bound to a node key");
            }
            return super.onWebsocketHandshakeReceivedAsServer(conn, draft, request);
        }

        @Override
        public void onWebsocketOpen(WebSocket conn, Handshakedata handshake) {
            opened();
        }

        @Override
        public void onWebsocketMessage(WebSocket conn, ByteBuffer message) {
            messageArrived(message);
        }

        @Override
        public void onWebsocketMessage(WebSocket conn, String message) {
            protocolFailure(CloseFrame.REFUSE, "kizuna.v1 carries binary messages only, a text message arrived");
        }

        @Override
        public void onWebsocketPong(WebSocket conn, Framedata f) {
            transport.pongReceived();
        }

        @Override
        public void onWebsocketClosing(WebSocket conn, int code, String reason, boolean remote) {
            closing(code, reason, remote);
        }

        @Override
        public void onWebsocketClose(WebSocket conn, int code, String reason, boolean remote) {
            // the channel's own close is what ends the connection
        }

        @Override
        public void onWebsocketCloseInitiated(WebSocket conn, int code, String reason) {
            // closing(...) follows
        }

        @Override
        public void onWebsocketError(WebSocket conn, Exception ex) {
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1}", WebSocketConnection.this, describe(ex));
        }

        @Override
        public void onWriteDemand(WebSocket conn) {
            ByteBuffer b;
            while ((b = engine.outQueue.poll()) != null) {
                send(Unpooled.wrappedBuffer(b));
            }
        }

        @Override
        public InetSocketAddress getLocalSocketAddress(WebSocket conn) {
            return (InetSocketAddress) channel.localAddress();
        }

        @Override
        public InetSocketAddress getRemoteSocketAddress(WebSocket conn) {
            return (InetSocketAddress) channel.remoteAddress();
        }
    }

    private void opened() {
        if (state != State.HANDSHAKING) {
            return;
        }
        cancel(handshakeTimer);
        localAddress = (InetSocketAddress) channel.localAddress();
        remoteAddress = (InetSocketAddress) channel.remoteAddress();
        establishedAt = Instant.now();
        lastReceived = System.nanoTime();
        state = State.OPEN;
        transport.opened(this);
        long period = Math.max(50, settings.pingIntervalMillis() / 2);
        keepAlive = channel.eventLoop().scheduleAtFixedRate(this::keepAlive, period, period, TimeUnit.MILLISECONDS);
        established.complete(this);
    }

    private void messageArrived(ByteBuffer message) {
        if (closing) {
            return; // after this side's Close, nothing more is delivered
        }
        if (eofReceived) {
            protocolFailure(CloseFrame.PROTOCOL_ERROR, "a message arrived after the end of the stream");
            return;
        }
        KizunaDraft draft = (KizunaDraft) engine.getDraft();
        boolean compressed = draft.lastMessageCompressed();
        if (compressed && inflater == null) {
            inflater = draft.deflate();
        }
        if (compressed && message.remaining() <= SMALL_COMPRESSED) {
            // Other stacks compress every message, the empty one that ends a stream too:
            // a few bytes inflate at once (to little: DEFLATE grows at most ~1000-fold).
            try {
                message = inflater.inflate(message, settings.maxMessageSize());
                compressed = false;
            } catch (InvalidDataException e) {
                protocolFailure(e.getCloseCode(), e.getMessage());
                return;
            }
        }
        if (!message.hasRemaining() && !compressed) {
            eofReceived = true;
            endOfInput();
            if (outputShutdownDone) {
                startClose(CloseFrame.NORMAL, "both directions ended");
            }
            return;
        }
        if (appClosed) {
            return;
        }
        inbound.add(new Message(message, compressed));
        queuedBytes += message.remaining();
        if (readResult != null && hasData()) {
            deliver();
        }
    }

    /** The engine sends or echoed Close (or refused the upgrade); the channel closes after it. */
    private void closing(int code, String reason, boolean remote) {
        closing = true;
        if (engine.getDraft() instanceof KizunaDraft draft) {
            draft.keepFramingOnReset(); // awaitPeerClose parses on where decode stopped
        }
        ctx.flush();
        if (state == State.HANDSHAKING) {
            refuse(new TransportException.ConnectionFailed("the WebSocket upgrade with " + who() + " failed: "
                    + reason + " (" + code + ")", null));
            return;
        }
        if (remote) {
            closedByPeer = true;
            if (code == CloseFrame.NORMAL || code == CloseFrame.GOING_AWAY || code == CloseFrame.NOCODE) {
                endOfInput();
            } else if (failure == null && !appClosed) {
                failure = new TransportException.Io(who() + " closed the connection with code " + code
                        + (reason == null || reason.isEmpty() ? "" : ": " + reason), null);
            }
            failPending();
            // Both Close frames are out: the connection is done once ours is sent.
            lastWrite.addListener(f -> closeChannel());
            return;
        }
        if (code != CloseFrame.NORMAL && code != CloseFrame.GOING_AWAY) {
            transport.limitOrViolation(code); // bad input from the peer: counted, whoever found it
        }
        if (code != CloseFrame.NORMAL && code != CloseFrame.GOING_AWAY && failure == null && !appClosed) {
            failure = code == CloseFrame.TOOBIG
                    ? new TransportException.LimitExceeded("maxMessageSize", settings.maxMessageSize(), who()
                            + " sent more than this side accepts: " + reason + "; closed with code 1009")
                    : new TransportException.ProtocolViolation(who() + " broke the WebSocket protocol: " + reason
                            + "; closed with code " + code);
        }
        failPending();
        // Our Close is on its way: wait for the peer's Close or end of stream, not forever.
        closeTimer = channel.eventLoop().schedule(this::closeChannel, settings.closeTimeoutMillis(),
                TimeUnit.MILLISECONDS);
        requestInput();
    }

    private void failPending() {
        if (writeResult != null) {
            failWrite(failure != null ? failure
                    : new TransportException.Io("connection " + id + " to " + who() + " is closing", null));
        }
        if (readResult != null && failure != null) {
            failRead(failure);
        }
    }

    /** Closes with a code after bad input, reporting it to the application. */
    private void protocolFailure(int code, String reason) {
        LOG.log(System.Logger.Level.DEBUG, "{0}: closing with {1}: {2}", this, code, reason);
        engine.close(code, reason);
        ctx.flush();
    }

    /** Every byte the peer will send is in: the end of its stream, or its Close 1000/1001. */
    private void endOfInput() {
        if (inputEnded) {
            return;
        }
        inputEnded = true;
        if (readResult != null && !hasData() && readResult != null && inbound.isEmpty()) {
            completeRead(-1);
        }
    }

    private void keepAlive() {
        if (state != State.OPEN || closing) {
            return;
        }
        long now = System.nanoTime();
        if (queuedBytes >= settings.readQueueBytes()) {
            lastReceived = now; // not reading is this side's choice, not the peer's silence
            return;
        }
        long silentMillis = TimeUnit.NANOSECONDS.toMillis(now - lastReceived);
        if (silentMillis >= settings.deadPeerTimeoutMillis()) {
            transport.deadPeer();
            if (failure == null) {
                failure = new TransportException.ConnectionTimeout("waiting for any frame (a pong at least) from "
                        + who(), Duration.ofMillis(settings.deadPeerTimeoutMillis()));
            }
            failPending();
            channel.close(); // the peer is gone: no Close handshake to wait for
        } else if (silentMillis >= settings.pingIntervalMillis()) {
            engine.sendPing();
            ctx.flush();
        }
    }

    // ------------------------------------------------------------------ channel events

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        handshakeTimer = ctx.executor().schedule(() -> handshakeFailed(new SslHandshakeTimeoutException(
                "no WebSocket upgrade within " + settings.handshakeTimeoutMillis() + " ms")),
                settings.handshakeTimeoutMillis(), TimeUnit.MILLISECONDS);
        // Auto-read is off: the TLS handshake needs a first read; the TLS handler asks for the rest.
        ctx.read();
        ctx.fireChannelActive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            if (e.isSuccess()) {
                tlsSucceeded();
            } else {
                handshakeFailed(e.cause());
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void tlsSucceeded() {
        if (state != State.HANDSHAKING) {
            return;
        }
        SSLSession session = tls.engine().getSession();
        try {
            if (expected != null) {
                // The dial trust manager checked this inside the handshake; checked again, as tcp does.
                peerId = PeerCertificates.expect(session, expected);
            } else {
                peerId = PeerCertificates.peerId(session);
            }
        } catch (TransportException.PeerAuthenticationFailed e) {
            if (expected != null) {
                refuse(e);
                return;
            }
            peerId = null; // no client certificate: the upgrade decides (refused unless anonymous is allowed)
        }
        if (direction == Direction.OUTBOUND) {
            HandshakeImpl1Client request = new HandshakeImpl1Client();
            InetSocketAddress remote = (InetSocketAddress) channel.remoteAddress();
            request.setResourceDescriptor(settings.path());
            request.put("Host", hostHeader(remote));
            try {
                engine.startHandshake(request);
            } catch (InvalidHandshakeException e) {
                refuse(new TransportException.ConnectionFailed("cannot start the WebSocket upgrade with "
                        + who() + ": " + e.getMessage(), e));
                return;
            }
            ctx.flush();
        }
        requestInput();
    }

    private static String hostHeader(InetSocketAddress remote) {
        String host = remote.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + remote.getPort();
    }

    private void handshakeFailed(Throwable cause) {
        if (state != State.HANDSHAKING) {
            return;
        }
        refuse(handshakeError(cause));
    }

    private void refuse(TransportException why) {
        cancel(handshakeTimer);
        state = State.CLOSED;
        failure = why;
        if (direction == Direction.INBOUND) {
            LOG.log(System.Logger.Level.DEBUG, "refused inbound websocket connection from {0}: {1}", target,
                    why.getMessage());
            transport.refusedHandshake();
        }
        established.completeExceptionally(why);
        ctx.flush();
        if (lastWrite != null) {
            lastWrite.addListener(f -> closeChannel()); // the HTTP error response goes out first
        } else {
            closeChannel();
        }
    }

    private TransportException handshakeError(Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        PeerId presented = expected != null ? transport.mismatch(tls.engine()) : null;
        if (presented != null) {
            return new TransportException.PeerAuthenticationFailed(expected, presented,
                    "the listener at " + target + " proved another key in the TLS handshake");
        }
        if (c instanceof SslHandshakeTimeoutException) {
            return new TransportException.ConnectionTimeout("TLS handshake and WebSocket upgrade with " + who(),
                    Duration.ofMillis(settings.handshakeTimeoutMillis()));
        }
        if (c instanceof ClosedChannelException) {
            return new TransportException.ConnectionFailed(target + " closed the connection during the "
                    + "handshake; the peer may be at its connection limit, or may not be a kizuna node", c);
        }
        if (expected != null && hasCause(c, CertificateException.class)) {
            return new TransportException.PeerAuthenticationFailed(expected, null,
                    "the listener at " + target + " presented no valid identity certificate: " + describe(c));
        }
        return new TransportException.ConnectionFailed("TLS handshake with " + who() + " failed: " + describe(c)
                + "; check that the peer is a kizuna node speaking wss with TLS 1.3", c);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf) || state == State.CLOSED || !buf.isReadable()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        // Java-WebSocket reads payloads through ByteBuffer.array(): hand it a heap copy at offset 0.
        ByteBuffer bytes = ByteBuffer.allocate(buf.readableBytes());
        buf.readBytes(bytes);
        buf.release();
        bytes.flip();
        lastReceived = System.nanoTime();
        if (closing) {
            awaitPeerClose(bytes);
            return;
        }
        if (state == State.HANDSHAKING) {
            handshakeBytes += bytes.remaining();
        }
        engine.decode(bytes);
        ctx.flush(); // what the engine answered: the upgrade response, pongs, an echoed Close
        if (state == State.HANDSHAKING && !closing && handshakeBytes > settings.maxHandshakeBytes()) {
            refuse(new TransportException.LimitExceeded("maxHandshakeBytes", settings.maxHandshakeBytes(),
                    "the WebSocket upgrade from " + who() + " is larger than " + settings.maxHandshakeBytes()
                            + " bytes"));
        }
    }

    /** After our Close: data is dropped; the peer's Close ends the connection. */
    private void awaitPeerClose(ByteBuffer bytes) {
        if (!engine.isClosing() && !engine.isClosed()) {
            return;
        }
        try {
            for (Framedata f : engine.getDraft().translateFrame(bytes)) {
                if (f.getOpcode() == Opcode.CLOSING) {
                    closeChannel();
                    return;
                }
            }
        } catch (InvalidDataException | RuntimeException e) {
            closeChannel();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (state == State.HANDSHAKING) {
            handshakeFailed(cause);
            return;
        }
        if (failure == null && !appClosed && !closing) {
            LOG.log(System.Logger.Level.DEBUG, "{0} failed: {1}", this, describe(cause));
            failure = new TransportException.Io("connection " + id + " to " + who() + " failed: "
                    + describe(cause), cause);
            failPending();
        }
        channel.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (state == State.HANDSHAKING) {
            handshakeFailed(new ClosedChannelException());
        }
        cancel(handshakeTimer);
        cancel(keepAlive);
        cancel(closeTimer);
        boolean wasOpen = establishedAt != null;
        state = State.CLOSED;
        boolean orderly = failure == null && (appClosed || inputEnded || closing);
        if (!orderly && failure == null) {
            failure = new TransportException.Io("connection " + id + " to " + who()
                    + " was lost without a WebSocket Close", null);
        }
        settlePending();
        if (failure != null && !closedByPeer) {
            inbound.clear(); // lost with the connection; what came before a peer's Close stays readable
            current = null;
        }
        inputEnded = true;
        if (wasOpen) {
            transport.closed(this);
        }
        completeCloseFuture();
        ctx.fireChannelInactive();
    }

    // ------------------------------------------------------------------ helpers

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    private String who() {
        PeerId p = peerId != null ? peerId : expected;
        return p != null ? p + " at " + target : "the dialer at " + target;
    }
}
