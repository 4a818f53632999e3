package io.kizuna.nat.internal.punch;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.quic.internal.NatTestQuic;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.NatType;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * The engine with real QUIC transports on loopback: the punch stream is an
 * in-memory pipe (in a node it rides the relayed connection), the probes and
 * the QUIC connection are real datagrams, and the listener sees the dialer
 * come from its punch socket.
 */
@Timeout(60)
class PunchEngineQuicTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final NodeIdentity alice = Identities.generate();
    private final NodeIdentity bob = Identities.generate();
    private final List<Connection> accepted = new CopyOnWriteArrayList<>();
    private Transport aliceQuic;
    private Transport bobQuic;
    private PunchEngine aliceEngine;
    private PunchEngine bobEngine;

    @AfterEach
    void stop() {
        for (PunchEngine e : new PunchEngine[] {aliceEngine, bobEngine}) {
            if (e != null) {
                e.close();
            }
        }
        for (Transport t : new Transport[] {aliceQuic, bobQuic}) {
            if (t != null) {
                NatTestQuic.stop(t);
            }
        }
    }

    /** Loopback candidates need private addresses allowed; 3 rounds of 1 s. */
    private static PunchSettings settings(int perPeerPerMinute) {
        return PunchSettings.of(new String[0], true, 3, 1000, perPeerPerMinute, 16);
    }

    private SharedUdpSocket bobListens() throws Exception {
        bobQuic = NatTestQuic.start(bob);
        Listener listener = NatTestQuic.listen(bobQuic, new InetSocketAddress(LOOPBACK, 0), c -> {
            accepted.add(c);
            echo(c);
        }).toCompletableFuture().get(10, SECONDS);
        return NatTestQuic.sharedSocket(listener);
    }

    @Test
    void thePunchedQuicConnectionComesFromThePunchSocketAndCarriesData() throws Exception {
        SharedUdpSocket listenerSocket = bobListens();
        aliceQuic = NatTestQuic.start(alice);
        aliceEngine = new PunchEngine(alice, settings(6), () -> NatType.UNKNOWN, PunchEngine.Mapping.NONE,
                new PunchStats());
        bobEngine = new PunchEngine(bob, settings(6), () -> NatType.UNKNOWN, PunchEngine.Mapping.NONE,
                new PunchStats());
        PipeChannels pipe = new PipeChannels(bob.peerId(), alice.peerId());

        CompletableFuture<PunchSession.Outcome> answered = bobEngine.respond(pipe.b, listenerSocket, "");
        Connection c = aliceEngine.punch(pipe.a, NatTestQuic.punchSockets(aliceQuic), LOOPBACK,
                Duration.ofSeconds(20)).get(30, SECONDS);

        PunchSession.Outcome bobSide = answered.get(10, SECONDS);
        assertThat(c.info().peerId()).isEqualTo(bob.peerId());
        assertThat(c.info().remoteAddress()).isEqualTo(listenerSocket.localAddress());
        assertThat(c.info().protocol()).isEqualTo("quic");
        assertThat(c.info().path()).as("how the path was made").contains("punched, round 1");
        assertThat(c).isInstanceOf(io.kizuna.transport.MultiplexedConnection.class);
        assertThat(bobSide.local()).isEqualTo(listenerSocket.localAddress());
        assertThat(bobSide.remote()).as("bob saw the probes come from the punch socket")
                .isEqualTo(c.info().localAddress());
        // the dialer's handshake may complete before the listener's acceptor ran
        await().atMost(Duration.ofSeconds(10)).until(() -> !accepted.isEmpty());
        assertThat(accepted).singleElement().satisfies(in -> {
            assertThat(in.info().peerId()).isEqualTo(alice.peerId());
            assertThat(in.info().remoteAddress()).as("the listener sees the punch socket's port")
                    .isEqualTo(c.info().localAddress());
        });

        c.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII))).toCompletableFuture().get(10, SECONDS);
        c.shutdownOutput().toCompletableFuture().get(10, SECONDS);
        ByteBuffer back = ByteBuffer.allocate(4);
        while (back.hasRemaining() && c.read(back).toCompletableFuture().get(10, SECONDS) >= 0) {
            // until the echo is complete
        }
        assertThat(new String(back.array(), StandardCharsets.US_ASCII)).isEqualTo("ping");
        assertThat(aliceEngine.limiter().running()).isZero();
        assertThat(bobEngine.limiter().running()).isZero();
        assertThat(pipe.log).anyMatch(m -> m.startsWith("a RESULT"));
        assertThat(aliceEngine.stats().summary()).isEqualTo("1 started, 0 answered, 1 direct, 0 failed");
        assertThat(bobEngine.stats().summary()).isEqualTo("0 started, 1 answered, 1 direct, 0 failed");
    }

    @Test
    void aPeerOverItsRateIsRefusedWithTheReason() throws Exception {
        SharedUdpSocket listenerSocket = bobListens();
        aliceQuic = NatTestQuic.start(alice);
        aliceEngine = new PunchEngine(alice, settings(6), () -> NatType.UNKNOWN, PunchEngine.Mapping.NONE,
                new PunchStats());
        bobEngine = new PunchEngine(bob, settings(1), () -> NatType.UNKNOWN, PunchEngine.Mapping.NONE,
                new PunchStats());
        bobEngine.limiter().acquire(alice.peerId()).close(); // alice's one session of this minute

        PipeChannels pipe = new PipeChannels(bob.peerId(), alice.peerId());
        CompletableFuture<PunchSession.Outcome> answered = bobEngine.respond(pipe.b, listenerSocket, "");
        CompletableFuture<Connection> punched = aliceEngine.punch(pipe.a, NatTestQuic.punchSockets(aliceQuic),
                LOOPBACK, Duration.ofSeconds(20));

        assertThatThrownBy(() -> punched.get(30, SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(TransportException.NatTraversalFailed.class)
                .hasMessageContaining("LIMIT").hasMessageContaining("punchSessionsPerPeerPerMinute");
        assertThatThrownBy(() -> answered.get(10, SECONDS)).cause()
                .isInstanceOf(TransportException.NatTraversalFailed.class).hasMessageContaining("PEER_RATE");
        assertThat(bobEngine.limiter().refused(PunchLimiter.Refusal.PEER_RATE)).isEqualTo(1);
        assertThat(pipe.log).noneMatch(m -> m.startsWith("a SYNC"));
        assertThat(accepted).isEmpty();
        assertThat(aliceEngine.limiter().running()).as("alice's permit went back").isZero();
        PunchSockets.Counters sockets = NatTestQuic.punchSockets(aliceQuic).counters();
        assertThat(sockets.opened()).as("the refused punch had opened its socket").isEqualTo(1);
        assertThat(sockets.open()).as("no punch socket leaks from a failed punch").isZero();
        assertThat(aliceEngine.stats().getFailures()).as("the peer's ABORT LIMIT").containsExactly(
                java.util.Map.entry("limit", 1L));
        assertThat(bobEngine.stats().getFailures()).containsExactly(java.util.Map.entry("limit", 1L));
        assertThat(bobEngine.stats().getAnswered()).isEqualTo(1);
    }

    private static void echo(Connection c) {
        CompletableFuture.runAsync(() -> {
            ByteBuffer buf = ByteBuffer.allocate(1024);
            try {
                while (true) {
                    buf.clear();
                    int r = c.read(buf).toCompletableFuture().get(30, SECONDS);
                    if (r < 0) {
                        c.shutdownOutput().toCompletableFuture().get(30, SECONDS);
                        return;
                    }
                    buf.flip();
                    c.write(buf).toCompletableFuture().get(30, SECONDS);
                }
            } catch (Exception e) {
                c.close();
            }
        });
    }
}
