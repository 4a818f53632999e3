package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Three real nodes on 127.0.0.1: a relay R, a reserved peer B and a dialer A. */
class RelayEndToEndTest {

    private static final Duration STEP = Duration.ofSeconds(20);

    private static <T> T get(java.util.concurrent.CompletionStage<T> s) throws Exception {
        return s.toCompletableFuture().get(STEP.toSeconds(), SECONDS);
    }

    private static Throwable failure(java.util.concurrent.CompletionStage<?> s) throws Exception {
        try {
            s.toCompletableFuture().get(STEP.toSeconds(), SECONDS);
        } catch (ExecutionException e) {
            return TransportException.unwrap(e);
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void theRelaySeesNoPlaintext() throws Exception {
        ByteArrayOutputStream tapped = new ByteArrayOutputStream();
        Splice.Tap tap = b -> {
            byte[] copy = new byte[b.remaining()];
            b.get(copy);
            synchronized (tapped) {
                tapped.write(copy, 0, copy.length);
            }
        };
        try (TestNode r = TestNode.relay(TestNode.loopbackRelay().build(), tap);
                TestNode b = TestNode.peer(); TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            Connection c = get(a.relayTransport.connect(PeerAddress.of(b.id(), r.relayEndpoint()), STEP));
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            assertThat(in).isNotNull();

            String marker = "PLAINTEXT-MARKER-kizuna-relay-tap-";
            byte[] data = (marker.repeat(2000)).getBytes(StandardCharsets.US_ASCII);
            get(c.write(ByteBuffer.wrap(data)));
            get(c.shutdownOutput());
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
            for (int n = get(in.read(buf)); n >= 0; n = get(in.read(buf.clear()))) {
                got.write(buf.array(), 0, n);
            }
            assertThat(got.toByteArray()).isEqualTo(data);

            byte[] seen;
            synchronized (tapped) {
                seen = tapped.toByteArray();
            }
            assertThat(seen.length).as("bytes the relay forwarded").isGreaterThan(data.length);
            String asText = new String(seen, StandardCharsets.ISO_8859_1);
            assertThat(asText).as("the relay's view").doesNotContain("PLAINTEXT-MARKER").doesNotContain("kizuna-relay-tap");
            assertThat(r.server.counters().bytesForwarded()).isEqualTo(seen.length);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aRelayWithAnotherKeyIsRefusedNamingBoth() throws Exception {
        try (TestNode r = TestNode.relay(TestNode.loopbackRelay().build(), Splice.Tap.NONE);
                TestNode b = TestNode.peer(); TestNode a = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), c -> { }));
            PeerId impostor = Identities.generate().peerId();
            Endpoint wrongRelay = Endpoint.via("relay", PeerAddress.of(impostor, r.tcpAddress().endpoints().get(0)));

            Throwable dial = failure(a.relayTransport.connect(PeerAddress.of(b.id(), wrongRelay), STEP));
            assertThat(dial).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
            TransportException.PeerAuthenticationFailed f = (TransportException.PeerAuthenticationFailed) dial;
            assertThat(f.expected()).isEqualTo(impostor);
            assertThat(f.presented()).isEqualTo(r.id());
            assertThat(f.getMessage()).contains(impostor.toString()).contains(r.id().toString());

            Throwable listen = failure(a.relayTransport.listen(wrongRelay, c -> { }));
            assertThat(listen).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
            assertThat(r.server.reservations()).extracting(RelayServer.ReservationView::peer).containsExactly(b.id());
        }
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void theManagerFallsBackToTheRelayAndPingSaysSo() throws Exception {
        try (TestNode r = TestNode.relay(TestNode.loopbackRelay().build(), Splice.Tap.NONE)) {
            try (TestNode b = TestNode.peer(r.relayEndpoint()); TestNode a = TestNode.peer()) {
                assertThat(b.manager.localAddress().endpoints()).contains(r.relayEndpoint());
                int closed;
                try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                    closed = s.getLocalPort();
                }
                // B as a peer behind NAT would look: a direct endpoint nobody can reach, and its relay.
                PeerAddress bAddress = PeerAddress.of(b.id(), new Endpoint("tcp",
                        new InetSocketAddress("127.0.0.1", closed)), r.relayEndpoint());

                ConnectionInfo info = get(a.manager.connectToPeer(bAddress));
                assertThat(info.protocol()).isEqualTo("relay");
                assertThat(info.via()).contains(new Endpoint.Hop(r.id(), "tcp"));
                PingResult ping = get(a.manager.ping(bAddress));
                assertThat(ping.protocol()).isEqualTo("relay");
                assertThat(ping.remote().via().map(Endpoint.Hop::peer)).contains(r.id());
                assertThat(b.manager.connections(a.id())).extracting(ConnectionInfo::via)
                        .containsExactly(java.util.Optional.of(new Endpoint.Hop(r.id(), "tcp")));
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aFirstReservationWaitsForARelayThatIsNotReachableYet() throws Exception {
        // as at a node's start, when the relay transport registers before the one that reaches the relay
        NodeIdentity relayKey = Identities.generate();
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort(); // free again once closed: nothing listens there for now
        }
        Endpoint relayEndpoint = Endpoint.parse("relay://" + relayKey.peerId() + "@tcp://127.0.0.1:" + port);
        TestNode r = null;
        try (TestNode b = TestNode.peer(ClientSettings.defaults().withMaxRetryDelay(Duration.ofSeconds(1)))) {
            CompletableFuture<Listener> listening = b.relayTransport
                    .listen(relayEndpoint, c -> { }).toCompletableFuture();
            SECONDS.sleep(2); // a few refused attempts
            assertThat(listening).as("still trying, not failed").isNotDone();
            r = TestNode.relay(relayKey, port, TestNode.loopbackRelay().build(), Splice.Tap.NONE);
            RelayListener l = (RelayListener) listening.get(STEP.toSeconds(), SECONDS);
            assertThat(l.reserved()).isTrue();
            assertThat(r.server.reservations()).extracting(RelayServer.ReservationView::peer).containsExactly(b.id());
        } finally {
            if (r != null) {
                r.close();
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aRelayThatRefusesFailsTheFirstReservationAtOnce() throws Exception {
        TestNode r = TestNode.relay(Identities.generate(), 0, TestNode.loopbackRelay().build(), Splice.Tap.NONE);
        try (TestNode b = TestNode.peer()) {
            // another key than the relay's: the relay answers (TLS proves another PeerId), no retrying
            Endpoint wrong = Endpoint.parse("relay://" + Identities.generate().peerId() + "@tcp://127.0.0.1:"
                    + r.tcpSocket().getPort());
            long start = System.nanoTime();
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(
                    () -> b.relayTransport.listen(wrong, c -> { }).toCompletableFuture().get(STEP.toSeconds(), SECONDS));
            assertThat(t).isNotNull();
            assertThat(Duration.ofNanos(System.nanoTime() - start))
                    .isLessThan(RelayListener.FIRST_WINDOW);
        } finally {
            r.close();
        }
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void theListenerReservesAgainWhenTheRelayRestarts() throws Exception {
        NodeIdentity relayKey = Identities.generate();
        TestNode r = TestNode.relay(relayKey, 0, TestNode.loopbackRelay().build(), Splice.Tap.NONE);
        int port = r.tcpSocket().getPort();
        Endpoint relayEndpoint = r.relayEndpoint();
        try (TestNode b = TestNode.peer(ClientSettings.defaults().withMaxRetryDelay(Duration.ofSeconds(1)));
                TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            RelayListener l = (RelayListener) get(b.relayTransport.listen(relayEndpoint, accepted::add));
            assertThat(l.reserved()).isTrue();

            r.close();
            await().atMost(STEP).until(() -> !l.reserved());
            r = TestNode.relay(relayKey, port, TestNode.loopbackRelay().build(), Splice.Tap.NONE);
            TestNode restarted = r;
            await().atMost(STEP).until(() -> l.reserved() && l.reservationCount() == 2);
            assertThat(restarted.server.reservations()).extracting(RelayServer.ReservationView::peer)
                    .containsExactly(b.id());

            Connection c = get(a.relayTransport.connect(PeerAddress.of(b.id(), relayEndpoint), STEP));
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            get(c.write(ByteBuffer.wrap(new byte[] {42})));
            ByteBuffer one = ByteBuffer.allocate(1);
            assertThat(get(in.read(one))).isEqualTo(1);
            assertThat(one.get(0)).isEqualTo((byte) 42);
        } finally {
            r.close();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void theReservationIsRenewedBeforeItExpires() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.reservationTtl = Duration.ofSeconds(2);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer()) {
            RelayListener l = (RelayListener) get(b.relayTransport.listen(r.relayEndpoint(), c -> { }));
            java.time.Instant first = r.server.reservations().get(0).expires();
            // Three lifetimes later the one reservation is still held, its expiry pushed on by renewals.
            await().pollDelay(Duration.ofSeconds(6)).atMost(STEP).until(() -> true);
            List<RelayServer.ReservationView> now = r.server.reservations();
            assertThat(now).hasSize(1);
            assertThat(now.get(0).expires()).isAfter(first.plusSeconds(3));
            assertThat(l.reserved()).isTrue();
            assertThat(l.reservationCount()).as("renewed, never lost").isEqualTo(1);
            assertThat(r.server.counters().reservationsGranted()).isEqualTo(1);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void findBestRelayPicksTheFastestWithRoom() throws Exception {
        RelaySettings.Builder full = TestNode.loopbackRelay();
        full.maxReservations = 1;
        try (TestNode r1 = TestNode.relay(full.build(), Splice.Tap.NONE);
                TestNode r2 = TestNode.relay(TestNode.loopbackRelay().build(), Splice.Tap.NONE);
                TestNode filler = TestNode.peer()) {
            get(filler.relayTransport.listen(r1.relayEndpoint(), c -> { }));
            int closed;
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                closed = s.getLocalPort();
            }
            PeerAddress gone = PeerAddress.of(Identities.generate().peerId(),
                    new Endpoint("tcp", new InetSocketAddress("127.0.0.1", closed)));
            try (TestNode a = TestNode.peer(ClientSettings.defaults().withRelays(
                    List.of(r1.tcpAddress(), gone, r2.tcpAddress()), Duration.ofSeconds(60)))) {
                var nodes = get(a.relayTransport.selector().measure());
                assertThat(nodes).hasSize(3);
                assertThat(nodes.get(0).address()).isEqualTo(r2.tcpAddress());
                assertThat(nodes.get(0).available()).isTrue();
                assertThat(nodes.get(0).latency()).isPresent();
                assertThat(nodes.stream().filter(n -> n.address().equals(r1.tcpAddress())).findFirst().orElseThrow()
                        .available()).as("the full relay").isFalse();
                assertThat(nodes.stream().filter(n -> n.address().equals(gone)).findFirst().orElseThrow()
                        .latency()).as("the relay that is not there").isEmpty();
                assertThat(a.relayTransport.selector().best().map(n -> n.address())).contains(r2.tcpAddress());
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void findBestRelayMeasuresAgainOverTime() throws Exception {
        RelaySettings.Builder small = TestNode.loopbackRelay();
        small.maxReservations = 1;
        try (TestNode r1 = TestNode.relay(small.build(), Splice.Tap.NONE);
                TestNode filler = TestNode.peer();
                TestNode a = TestNode.peer(ClientSettings.defaults().withRelays(List.of(r1.tcpAddress()),
                        Duration.ofSeconds(1)))) {
            await().atMost(STEP).until(() -> a.relayTransport.selector().best().isPresent());
            // The relay fills up: the next measurement, a second later, finds no room.
            get(filler.relayTransport.listen(r1.relayEndpoint(), c -> { }));
            await().atMost(STEP).until(() -> a.relayTransport.selector().best().isEmpty());
            assertThat(a.relayTransport.selector().last()).hasSize(1);
            assertThat(a.relayTransport.selector().last().get(0).latency()).isPresent();
        }
    }
}
