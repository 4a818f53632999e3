package io.kizuna.core.internal.memory;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * One end of an in-memory connection: two {@link MemoryPipe}s, one each way.
 *
 * <p>States: open; output shut (this side wrote its end of stream); input ended
 * (this side read the peer's end of stream); closed. Once both the output is
 * shut and the input has ended, or after {@link #close()}, the connection is
 * closed and {@link #closeFuture()} completes. It completes exceptionally when
 * the connection was aborted, or when a write found that the peer had closed.
 */
public final class MemoryConnection implements Connection {

    private final MemoryTransport transport;
    private final String id;
    private final PeerId peerId;
    private final Direction direction;
    private final InetSocketAddress localAddress;
    private final InetSocketAddress remoteAddress;
    private final Instant establishedAt = Instant.now();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final AtomicBoolean reading = new AtomicBoolean();
    private final AtomicBoolean writing = new AtomicBoolean();
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> closedQuietly = new CompletableFuture<>();
    private MemoryPipe in;
    private MemoryPipe out;
    private boolean outputShut;
    private boolean inputEnded;
    private boolean closed;
    /** Closed because the peer stopped reading, yet what the peer wrote before its close is still read. */
    private boolean inputAfterClose;

    private MemoryConnection(MemoryTransport transport, PeerId peerId, Direction direction,
            InetSocketAddress localAddress, InetSocketAddress remoteAddress) {
        this.transport = transport;
        this.id = newId();
        this.peerId = peerId;
        this.direction = direction;
        this.localAddress = localAddress;
        this.remoteAddress = remoteAddress;
        closeFuture.whenComplete((v, e) -> {
            closedQuietly.complete(null);
            transport.closed(this);
        });
    }

    /**
     * Makes both ends of a new connection.
     *
     * @return the dialer's end at [0] and the listener's end at [1]
     */
    static MemoryConnection[] pair(MemoryTransport dialer, PeerId dialerId, InetSocketAddress dialerAddress,
            MemoryTransport listener, PeerId listenerId, InetSocketAddress listenerAddress, int capacity) {
        MemoryConnection d = new MemoryConnection(dialer, listenerId, Direction.OUTBOUND, dialerAddress,
                listenerAddress);
        MemoryConnection l = new MemoryConnection(listener, dialerId, Direction.INBOUND, listenerAddress,
                dialerAddress);
        MemoryPipe toListener = new MemoryPipe(capacity, d.bytesSent, l.bytesReceived);
        MemoryPipe toDialer = new MemoryPipe(capacity, l.bytesSent, d.bytesReceived);
        toListener.ends(d, l);
        toDialer.ends(l, d);
        d.out = toListener;
        d.in = toDialer;
        l.out = toDialer;
        l.in = toListener;
        return new MemoryConnection[] {d, l};
    }

    private static String newId() {
        byte[] b = new byte[8];
        MemoryTransport.RANDOM.nextBytes(b);
        return "mem-" + HexFormat.of().formatHex(b);
    }

    String id() {
        return id;
    }

    /** Runs a completion for this side on its transport's executor. */
    void dispatch(Runnable r) {
        transport.dispatch(r);
    }

    // ------------------------------------------------------------------ Connection

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        Objects.requireNonNull(dst, "dst");
        if (!dst.hasRemaining() || dst.isReadOnly()) {
            return CompletableFuture.failedFuture(new IllegalArgumentException("read needs a writable buffer with "
                    + "space remaining (position " + dst.position() + ", limit " + dst.limit() + ")"));
        }
        synchronized (this) {
            if (closed && !inputAfterClose) {
                return CompletableFuture.failedFuture(new TransportException.Io("connection " + id
                        + " is closed; open a new one to read", null));
            }
            if (inputEnded) {
                return CompletableFuture.completedFuture(-1);
            }
        }
        if (!reading.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a read is already in progress on "
                    + "connection " + id + "; wait for its stage to complete before reading again"));
        }
        CompletableFuture<Integer> result = new CompletableFuture<>();
        in.read(dst).whenComplete((n, e) -> {
            reading.set(false);
            if (e != null) {
                result.completeExceptionally(e);
                return;
            }
            if (n < 0) {
                inputEnded();
            }
            result.complete(n);
        });
        return result;
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        Objects.requireNonNull(src, "src");
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new TransportException.Io("connection " + id
                        + " is closed; open a new one to write", null));
            }
        }
        if (!writing.compareAndSet(false, true)) {
            return CompletableFuture.failedFuture(new IllegalStateException("a write is already in progress on "
                    + "connection " + id + "; wait for its stage to complete before writing again"));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        out.write(src).whenComplete((v, e) -> {
            writing.set(false);
            if (e != null) {
                result.completeExceptionally(e);
            } else {
                result.complete(null);
            }
        });
        return result;
    }

    @Override
    public CompletionStage<Void> flush() {
        // Bytes in the pipe are already visible to the peer.
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new TransportException.Io("connection " + id + " is closed",
                        null));
            }
            if (writing.get()) {
                return CompletableFuture.failedFuture(new IllegalStateException("a write is in progress on "
                        + "connection " + id + "; shut down output after it completed"));
            }
            if (outputShut) {
                return CompletableFuture.completedFuture(null);
            }
            outputShut = true;
        }
        out.closeWriter(new TransportException.Io("output shut down", null));
        finishIfBothEnded();
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> close() {
        synchronized (this) {
            if (closed) {
                if (inputAfterClose) {
                    inputAfterClose = false;
                    in.closeReader();
                }
                return closedQuietly;
            }
            closed = true;
            outputShut = true;
        }
        // What is in the pipe still reaches the peer, then its end of stream.
        out.closeWriter(new TransportException.Io("connection " + id + " was closed while writing", null));
        in.closeReader();
        closeFuture.complete(null);
        return closedQuietly;
    }

    @Override
    public synchronized boolean isConnected() {
        return !closed;
    }

    @Override
    public ConnectionInfo info() {
        return new ConnectionInfo(id, peerId, transport.protocolName(), direction, localAddress, remoteAddress,
                establishedAt, bytesSent.get(), bytesReceived.get(), Optional.empty(), Optional.empty());
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    @Override
    public String toString() {
        return transport.protocolName() + " connection " + id + " " + direction.name().toLowerCase(java.util.Locale.ROOT)
                + " " + (direction == Direction.OUTBOUND ? "to " : "from ") + peerId.shortForm();
    }

    // ------------------------------------------------------------------ state changes

    private void inputEnded() {
        synchronized (this) {
            inputEnded = true;
            inputAfterClose = false;
        }
        finishIfBothEnded();
    }

    private void finishIfBothEnded() {
        synchronized (this) {
            if (closed || !(outputShut && inputEnded)) {
                return;
            }
            closed = true;
        }
        in.closeReader();
        closeFuture.complete(null);
    }

    /**
     * A write found the peer gone: this side closes too, as a failure. What the
     * peer wrote before it closed stays readable up to its end of stream, as TCP
     * delivers a closing peer's last bytes.
     */
    void peerStoppedReading() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            outputShut = true;
            inputAfterClose = !inputEnded;
        }
        TransportException cause = new TransportException.Io("connection " + id + ": the peer closed it", null);
        out.closeWriter(cause);
        closeFuture.completeExceptionally(cause);
    }

    /** Aborts both directions: waiting and later operations fail on both sides. */
    void abort(String why) {
        TransportException cause = new TransportException.Io("connection " + id + " was aborted: " + why, null);
        synchronized (this) {
            closed = true;
            outputShut = true;
        }
        in.reset(cause);
        out.reset(cause);
        closeFuture.completeExceptionally(cause);
    }
}
