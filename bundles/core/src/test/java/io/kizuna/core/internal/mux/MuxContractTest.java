package io.kizuna.core.internal.mux;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.testing.TransportContractTest;

import org.junit.jupiter.api.AfterAll;

/**
 * A stream of the multiplexer meets the contract of every transport's
 * connections: each dial makes a memory connection, multiplexes it and hands out
 * its second stream (not the first, which stands for the connection); the
 * listener hands out the streams the dialer opens.
 */
class MuxContractTest extends TransportContractTest {

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "mux-contract-timer");
        t.setDaemon(true);
        return t;
    });

    static final MuxSettings SETTINGS = new MuxSettings(MuxFrame.INITIAL_WINDOW, 0, 64, Duration.ofSeconds(30),
            Duration.ofSeconds(5));

    @AfterAll
    static void stopTimer() {
        TIMER.shutdownNow();
    }

    @Override
    protected Transport newNode() {
        return new Muxed(new MemoryTransport(TestIds.newPeerId(), MemoryTransport.PROTOCOL_NAME, 10));
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((Muxed) transport).inner.localPeer();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((Muxed) transport).inner.shutdown();
    }

    @Override
    protected long writerBufferBound() {
        // A writer gets no more accepted than the peer's window for the stream (margin: twice that).
        return 2L * MuxFrame.INITIAL_WINDOW;
    }

    /** Memory connections, multiplexed; connections handed out are streams. */
    private static final class Muxed implements Transport {
        final MemoryTransport inner;

        Muxed(MemoryTransport inner) {
            this.inner = inner;
        }

        @Override
        public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
            return inner.connect(peer, timeout).thenCompose(c -> MuxSession.dialer(c, SETTINGS, TIMER,
                    (x, v) -> { }).openStream());
        }

        @Override
        public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
            return inner.listen(local, c -> MuxSession.acceptor(c, SETTINGS, TIMER, (x, v) -> { })
                    .onStream(acceptor));
        }

        @Override
        public String protocolName() {
            return inner.protocolName();
        }

        @Override
        public int priority() {
            return inner.priority();
        }

        @Override
        public TransportCapabilities capabilities() {
            return inner.capabilities();
        }

        @Override
        public boolean isAvailable() {
            return true;
        }

        @Override
        public Optional<String> unavailableReason() {
            return Optional.empty();
        }
    }
}
