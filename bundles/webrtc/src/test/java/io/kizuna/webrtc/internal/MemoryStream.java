package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;

/**
 * One end of an in-memory stream pair, standing in for a stream of the manager's
 * connection (here one through a relay) that carries signaling.
 */
final class MemoryStream implements Connection {

    private final ConnectionInfo info;
    private final ArrayDeque<ByteBuffer> inbound = new ArrayDeque<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private MemoryStream other;
    private CompletableFuture<Integer> pendingRead;
    private ByteBuffer pendingDst;
    private boolean ended;
    private volatile RuntimeException closeFailure;

    private MemoryStream(PeerId remote, ConnectionInfo.Direction direction, Endpoint.Hop via) {
        InetSocketAddress relay = new InetSocketAddress("127.0.0.1", 7400);
        this.info = new ConnectionInfo("mem-" + System.nanoTime(), remote, "relay", direction, relay, relay,
                Instant.now(), 0, 0, Optional.empty(), Optional.empty(), Optional.of(via));
    }

    /**
     * @param dialer   the side that opens the stream
     * @param acceptor the side it reaches
     * @param relay    the relay both sides name
     * @return the dialer's end, then the acceptor's
     */
    static MemoryStream[] pair(PeerId dialer, PeerId acceptor, PeerId relay) {
        Endpoint.Hop via = new Endpoint.Hop(relay, "tcp");
        MemoryStream d = new MemoryStream(acceptor, ConnectionInfo.Direction.OUTBOUND, via);
        MemoryStream a = new MemoryStream(dialer, ConnectionInfo.Direction.INBOUND, via);
        d.other = a;
        a.other = d;
        return new MemoryStream[] {d, a};
    }

    /**
     * A connection manager that knows one relayed connection, to {@code connected},
     * and whose signaling streams on it reach {@code peer}'s handler.
     *
     * @param dialer    the node the manager belongs to
     * @param connected the peer it is connected to
     * @param relay     the relay the connection passes through
     * @param peer      the transport that answers the signaling
     * @param opened    is given each stream pair opened (dialer's end, then the peer's)
     * @return the manager
     */
    static io.kizuna.transport.ConnectionManager managerReaching(PeerId dialer, PeerId connected, PeerId relay,
            WebRtcTransport peer, java.util.function.Consumer<MemoryStream[]> opened) {
        return (io.kizuna.transport.ConnectionManager) java.lang.reflect.Proxy.newProxyInstance(
                MemoryStream.class.getClassLoader(), new Class<?>[] {io.kizuna.transport.ConnectionManager.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "connections" -> args != null && args[0].equals(connected)
                            ? java.util.List.of(pair(dialer, connected, relay)[0].info()) : java.util.List.of();
                    case "openStream" -> {
                        MemoryStream[] p = pair(dialer, connected, relay);
                        opened.accept(p);
                        peer.handle(p[1], StreamSignaling.PROTOCOL);
                        yield CompletableFuture.completedFuture(p[0]);
                    }
                    case "toString" -> "test manager";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        synchronized (this) {
            if (!inbound.isEmpty()) {
                return CompletableFuture.completedFuture(take(dst));
            }
            if (ended || closed.isDone()) {
                return CompletableFuture.completedFuture(-1);
            }
            pendingRead = new CompletableFuture<>();
            pendingDst = dst;
            return pendingRead;
        }
    }

    private int take(ByteBuffer dst) {
        ByteBuffer head = inbound.peek();
        int n = Math.min(head.remaining(), dst.remaining());
        ByteBuffer slice = head.slice();
        slice.limit(n);
        dst.put(slice);
        head.position(head.position() + n);
        if (!head.hasRemaining()) {
            inbound.poll();
        }
        return n;
    }

    private void deliver(ByteBuffer data, boolean end) {
        CompletableFuture<Integer> r = null;
        int n = 0;
        synchronized (this) {
            if (data != null) {
                inbound.add(data);
            }
            ended |= end;
            if (pendingRead != null && (!inbound.isEmpty() || ended)) {
                r = pendingRead;
                n = inbound.isEmpty() ? -1 : take(pendingDst);
                pendingRead = null;
                pendingDst = null;
            }
        }
        if (r != null) {
            r.complete(n);
        }
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        if (closed.isDone()) {
            return CompletableFuture.failedFuture(new java.io.IOException("closed"));
        }
        ByteBuffer copy = ByteBuffer.allocate(src.remaining()).put(src).flip();
        other.deliver(copy, false);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> flush() {
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        other.deliver(null, true);
        return CompletableFuture.completedFuture(null);
    }

    /**
     * From now on {@link #close()} throws, as the relay transport's streams did once
     * it had stopped (its executor rejected the task).
     *
     * @param e what close throws
     */
    void failClose(RuntimeException e) {
        closeFailure = e;
    }

    @Override
    public CompletionStage<Void> close() {
        RuntimeException e = closeFailure;
        if (e != null) {
            throw e;
        }
        if (closed.complete(null)) {
            deliver(null, true);
            other.close();
        }
        return closed;
    }

    @Override
    public boolean isConnected() {
        return !closed.isDone();
    }

    @Override
    public ConnectionInfo info() {
        return info;
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }
}
