package io.kizuna.core.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Listener;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;

/**
 * A multiplexed transport for tests, as QUIC would be: memory connections that
 * can open further streams to the same peer without dialing. Each connection
 * knows its far end through the dialer's local address, which the hub keeps unique.
 */
final class MuxTransport extends OnMemory {

    private static final Map<InetSocketAddress, MuxConnection[]> PAIRS = new ConcurrentHashMap<>();

    MuxTransport(MemoryTransport inner) {
        super(inner);
    }

    @Override
    public TransportCapabilities capabilities() {
        return new TransportCapabilities(true, true, true, false, false, 0);
    }

    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        return inner.connect(peer, timeout).thenApply(c -> {
            MuxConnection m = new MuxConnection(c, this);
            pairOf(c.info().localAddress())[0] = m;
            return m;
        });
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        return inner.listen(local, c -> {
            MuxConnection m = new MuxConnection(c, this);
            pairOf(c.info().remoteAddress())[1] = m;
            acceptor.accept(m);
        });
    }

    private static MuxConnection[] pairOf(InetSocketAddress dialerAddress) {
        return PAIRS.computeIfAbsent(dialerAddress, k -> new MuxConnection[2]);
    }

    /** A memory connection that opens more streams on the same "connection". */
    static final class MuxConnection extends ForwardingConnection implements MultiplexedConnection {
        private final MuxTransport transport;
        private volatile Consumer<Connection> onStream;
        int opened;

        MuxConnection(Connection first, MuxTransport transport) {
            super(first);
            this.transport = transport;
        }

        private MuxConnection twin() {
            ConnectionInfo i = first.info();
            boolean dialer = i.direction() == ConnectionInfo.Direction.OUTBOUND;
            MuxConnection[] pair = PAIRS.get(dialer ? i.localAddress() : i.remoteAddress());
            return pair == null ? null : pair[dialer ? 1 : 0];
        }

        @Override
        public CompletionStage<Connection> openStream() {
            MuxConnection twin = twin();
            if (twin == null || twin.onStream == null) {
                return CompletableFuture.failedFuture(new TransportException.Io("the far end takes no streams", null));
            }
            try {
                Connection[] p = transport.inner.pairWith(twin.transport.inner);
                opened++;
                twin.onStream.accept(p[1]);
                return CompletableFuture.completedFuture(p[0]);
            } catch (TransportException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public void onStream(Consumer<Connection> acceptor) {
            this.onStream = acceptor;
        }
    }
}
