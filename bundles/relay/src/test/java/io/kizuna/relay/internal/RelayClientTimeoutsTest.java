package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.identity.Identities;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The relay client against a relay that stops answering: every wait for an
 * answer is timed, and the hop stream it waited on is closed.
 */
class RelayClientTimeoutsTest {

    private static final Duration SHORT = Duration.ofMillis(500);

    /** Streams the scripted relay left unanswered, in order. */
    private final LinkedBlockingQueue<Connection> unanswered = new LinkedBlockingQueue<>();

    /**
     * A relay that answers the first RESERVE (lifetime 2 s) and announces one
     * circuit on it, and answers nothing else: no renewal, no CONNECT, no ACCEPT.
     */
    private void script(Connection stream, boolean reserve) {
        unanswered.add(stream);
        RelayCodec.read(stream).thenAccept(m -> {
            if (m instanceof RelayMessage.Reserve && reserve) {
                RelayCodec.write(stream, new RelayMessage.Reserved(2, 0, 0, 0))
                        .thenCompose(v -> RelayCodec.write(stream, new RelayMessage.Incoming(new byte[16],
                                Identities.generate().peerId(), new InetSocketAddress("127.0.0.1", 1))));
            }
        });
    }

    /** Waits until the peer closed this stream: a read ends or fails. */
    private static void closedByPeer(Connection s) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(1024);
        int n = 0;
        while (n >= 0) {
            n = s.read(b.clear()).toCompletableFuture().handle((r, e) -> e != null ? -1 : r).get(10, SECONDS);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aTimedOutDialClosesItsHopStream() throws Exception {
        try (TestNode r = TestNode.scripted((s, p) -> script(s, false)); TestNode a = TestNode.peer()) {
            CompletableFuture<Connection> dial = a.relayTransport.connect(PeerAddress.of(Identities.generate()
                    .peerId(), r.relayEndpoint()), Duration.ofSeconds(3)).toCompletableFuture();
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                    () -> dial.get(10, SECONDS));
            assertThat(TransportException.unwrap(e)).isInstanceOf(TransportException.ConnectionTimeout.class)
                    .hasMessageContaining("timed out");
            closedByPeer(unanswered.poll(10, SECONDS));
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aReservationTheRelayDoesNotAnswerIsTimedAndItsStreamClosed() throws Exception {
        try (TestNode r = TestNode.scripted((s, p) -> script(s, false));
                TestNode b = TestNode.peer(ClientSettings.defaults().withHandshakeTimeout(SHORT))) {
            b.relayTransport.listen(r.relayEndpoint(), c -> { });
            long start = System.nanoTime();
            closedByPeer(unanswered.poll(10, SECONDS));
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void anAcceptTheRelayDoesNotAnswerAndAnUnansweredRenewalCloseTheirStreams() throws Exception {
        try (TestNode r = TestNode.scripted((s, p) -> script(s, true));
                TestNode b = TestNode.peer(ClientSettings.defaults().withHandshakeTimeout(SHORT))) {
            b.relayTransport.listen(r.relayEndpoint(), c -> { }).toCompletableFuture().get(10, SECONDS);
            Connection reservation = unanswered.poll(10, SECONDS);
            // B answers the INCOMING with an ACCEPT stream, which the relay leaves unanswered.
            closedByPeer(unanswered.poll(10, SECONDS));
            // The renewal at half of the 2 s lifetime is not answered either: B gives the stream up.
            closedByPeer(reservation);
        }
    }
}
