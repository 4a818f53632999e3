package io.kizuna.core.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiConsumer;
import java.util.function.IntFunction;

import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.protocol.FrameDecoder;
import io.kizuna.core.internal.protocol.FrameReader;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * The stream-open exchange and one-shot frames, with the manager's limits and
 * timer: the dialer sends OPEN(protocol) and waits for OPEN_OK or OPEN_REFUSED;
 * the acceptor reads the OPEN.
 */
final class Wire {

    /** Bytes read at most per call while reading the frames that open a stream. */
    private static final int OPEN_READ_BUFFER = 512;

    private final int maxFrameSize;
    private final IntFunction<ByteBuffer> allocator;
    private final ScheduledExecutorService timer;
    private final Duration openTimeout;
    private final Duration closeTimeout;
    private final BiConsumer<Connection, TransportException.ProtocolViolation> onViolation;

    /**
     * @param s           the settings
     * @param timer       runs the timeouts
     * @param onViolation told of every protocol violation seen while opening a stream
     */
    Wire(ManagerSettings s, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation) {
        this.onViolation = onViolation;
        this.maxFrameSize = s.maxFrameSize();
        this.allocator = s.frameAllocator();
        this.timer = timer;
        this.openTimeout = s.openTimeout();
        this.closeTimeout = s.closeTimeout();
    }

    FrameDecoder decoder() {
        return new FrameDecoder(maxFrameSize, allocator);
    }

    ByteBuffer encode(ControlMessage m) {
        return ControlCodec.encode(m, maxFrameSize);
    }

    ScheduledExecutorService timer() {
        return timer;
    }

    Duration openTimeout() {
        return openTimeout;
    }

    Duration closeTimeout() {
        return closeTimeout;
    }

    /** @return a reader that consumes no byte after the frames it returns */
    FrameReader exactReader(Connection c) {
        return new FrameReader(c, decoder(), OPEN_READ_BUFFER, true);
    }

    /**
     * Dialer side: asks the acceptor for {@code protocol} on a fresh stream.
     *
     * @param c        the fresh stream
     * @param protocol the protocol
     * @param extra    bytes sent right after the OPEN frame, before the answer (perf's request), or null
     * @param peer     the peer, for messages
     * @param timeout  time allowed for the answer
     * @return the stream once OPEN_OK arrived; on failure the stream is closed
     */
    CompletableFuture<Connection> open(Connection c, String protocol, byte[] extra, PeerId peer, Duration timeout) {
        ByteBuffer frame = encode(new ControlMessage.Open(protocol));
        ByteBuffer out = frame;
        if (extra != null) {
            out = ByteBuffer.allocate(frame.remaining() + extra.length).put(frame).put(extra).flip();
        }
        return c.write(out).toCompletableFuture().handle((v, e) -> e).thenCompose(e -> {
            if (e != null) {
                c.close();
                return CompletableFuture.failedFuture(Async.unwrap(e));
            }
            return answer(c, protocol, peer, timeout);
        });
    }

    /**
     * Dialer side, after the OPEN was written: reads the answer, consuming no byte after it.
     *
     * @return the stream once OPEN_OK arrived; on failure the stream is closed
     */
    CompletableFuture<Connection> answer(Connection c, String protocol, PeerId peer, Duration timeout) {
        CompletableFuture<Connection> result = new CompletableFuture<>();
        Async.within(exactReader(c).next(), timeout, timer,
                        () -> new TransportException.NegotiationTimeout("opening a " + protocol + " stream to "
                                + peer, timeout))
                .whenComplete((m, e) -> {
                    if (e != null) {
                        Throwable x = Async.unwrap(e);
                        if (x instanceof TransportException.ProtocolViolation v) {
                            violation(c, v);
                        } else {
                            c.close();
                        }
                        result.completeExceptionally(x);
                    } else if (m instanceof ControlMessage.OpenOk) {
                        result.complete(c);
                    } else {
                        TransportException t = notOpened(m, protocol, peer);
                        if (t instanceof TransportException.ProtocolViolation v) {
                            violation(c, v);
                        } else {
                            c.close();
                        }
                        result.completeExceptionally(t);
                    }
                });
        return result;
    }

    private static TransportException notOpened(ControlMessage m, String protocol, PeerId peer) {
        if (m == null) {
            return new TransportException.ConnectionFailed("peer " + peer + " closed the stream before answering "
                    + "the request for protocol '" + protocol + "'", null);
        }
        if (m instanceof ControlMessage.OpenRefused r) {
            return switch (r.code()) {
                case ControlMessage.Codes.UNSUPPORTED_PROTOCOL -> new TransportException.UnsupportedProtocol(
                        "peer " + peer + " does not serve protocol '" + protocol + "': " + r.reason());
                case ControlMessage.Codes.LIMIT -> new TransportException.LimitExceeded(
                        r.limit().isEmpty() ? "peer limit" : r.limit(), r.limitValue(), "peer " + peer
                                + " refused a '" + protocol + "' stream: " + r.reason());
                default -> new TransportException.ConnectionFailed("peer " + peer + " refused a '" + protocol
                        + "' stream: " + r.reason(), null);
            };
        }
        if (m instanceof ControlMessage.Error er) {
            return new TransportException.ConnectionFailed("peer " + peer + " answered the request for protocol '"
                    + protocol + "' with an error: " + er.reason(), null);
        }
        return new TransportException.ProtocolViolation("peer " + peer + " answered the request for protocol '"
                + protocol + "' with " + m.type() + ", expected OPEN_OK or OPEN_REFUSED");
    }

    /** Reports a violation, tells the peer with ERROR and closes the stream. */
    void violation(Connection c, TransportException.ProtocolViolation v) {
        onViolation.accept(c, v);
        sendAndClose(c, new ControlMessage.Error(ControlMessage.Codes.PROTOCOL_VIOLATION, v.getMessage()));
    }

    /** Writes one frame on a stream nobody else writes to, then closes it (after a bounded wait). */
    void sendAndClose(Connection c, ControlMessage m) {
        CompletableFuture<Void> w;
        try {
            w = c.write(encode(m)).toCompletableFuture();
        } catch (RuntimeException e) {
            w = CompletableFuture.failedFuture(e);
        }
        Async.closeAfter(w, c, closeTimeout, timer);
    }
}
