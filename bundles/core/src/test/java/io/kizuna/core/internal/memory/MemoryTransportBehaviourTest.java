package io.kizuna.core.internal.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The test controls of the memory transport, and what the contract test does not cover. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class MemoryTransportBehaviourTest {

    private final MemoryHub hub = new MemoryHub();
    private final MemoryTransport server = new MemoryTransport(TestIds.newPeerId(), "mem", 10, 1024, 4, hub);
    private final MemoryTransport client = new MemoryTransport(TestIds.newPeerId(), "mem", 10, 1024, 4, hub);

    @AfterEach
    void stop() {
        client.shutdown();
        server.shutdown();
    }

    private Listener listen(BlockingQueue<Connection> accepted) throws Exception {
        return server.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture().get();
    }

    private static Throwable failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected a failure, got " + f.get());
    }

    @Test
    void delayedDialConnectsAfterTheDelay() throws Exception {
        Listener l = listen(new LinkedBlockingQueue<>());
        client.delayDials(Duration.ofMillis(300));
        long start = System.nanoTime();
        Connection c = client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofSeconds(5))
                .toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(290);
        assertThat(c.isConnected()).isTrue();
        assertThat(client.dialCount()).isEqualTo(1);
        assertThat(client.dialTimeouts()).containsExactly(Duration.ofSeconds(5));
    }

    @Test
    void delayLongerThanTheTimeoutTimesOut() throws Exception {
        Listener l = listen(new LinkedBlockingQueue<>());
        client.blackholeDials();
        Throwable t = failure(client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofMillis(200))
                .toCompletableFuture());
        assertThat(t).isInstanceOf(TransportException.ConnectionTimeout.class).hasMessageContaining("200 ms");
    }

    @Test
    void failingDialsFailWithTheReason() throws Exception {
        Listener l = listen(new LinkedBlockingQueue<>());
        client.failDials("switched off by the test");
        Throwable t = failure(client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofSeconds(1))
                .toCompletableFuture());
        assertThat(t).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining("switched off by the test");
        client.normalDials();
        assertThat(client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofSeconds(1))
                .toCompletableFuture().get().isConnected()).isTrue();
    }

    @Test
    void connectionLimitIsAnErrorOnBothSides() throws Exception {
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listen(accepted);
        PeerAddress at = PeerAddress.of(server.localPeer(), l.endpoint());
        for (int i = 0; i < 4; i++) {
            client.connect(at, Duration.ofSeconds(1)).toCompletableFuture().get();
        }
        assertThat(failure(client.connect(at, Duration.ofSeconds(1)).toCompletableFuture()))
                .isInstanceOf(TransportException.LimitExceeded.class).hasMessageContaining("maxConnections=4");
        client.openConnections().get(0).close().toCompletableFuture().get();
        // The server side still holds 4 (its end of the closed one ends when it reads the end of stream).
        MemoryTransport other = new MemoryTransport(TestIds.newPeerId(), "mem", 10, 1024, 4, hub);
        try {
            assertThat(failure(other.connect(at, Duration.ofSeconds(1)).toCompletableFuture()))
                    .isInstanceOf(TransportException.ConnectionFailed.class).hasMessageContaining("refused");
        } finally {
            other.shutdown();
        }
    }

    @Test
    void shutdownClosesConnectionsInOrderAndStopsListening() throws Exception {
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listen(accepted);
        Connection c = client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofSeconds(1))
                .toCompletableFuture().get();
        Connection s = accepted.poll(5, TimeUnit.SECONDS);
        server.shutdown();
        assertThat(c.read(ByteBuffer.allocate(4)).toCompletableFuture().get(5, TimeUnit.SECONDS))
                .as("the dialer reads an orderly end of stream").isEqualTo(-1);
        s.closeFuture().toCompletableFuture().get(5, TimeUnit.SECONDS);
        assertThat(server.isAvailable()).isFalse();
        assertThat(server.unavailableReason()).isPresent();
        assertThat(failure(client.connect(PeerAddress.of(server.localPeer(), l.endpoint()), Duration.ofSeconds(1))
                .toCompletableFuture())).isInstanceOf(TransportException.ConnectionFailed.class);
    }

    @Test
    void aTakenPortCannotBeBoundTwice() throws Exception {
        Listener l = listen(new LinkedBlockingQueue<>());
        Throwable t = failure(server.listen(l.localAddress(), c -> { }).toCompletableFuture());
        assertThat(t).isInstanceOf(TransportException.Io.class).hasMessageContaining("in use");
    }
}
