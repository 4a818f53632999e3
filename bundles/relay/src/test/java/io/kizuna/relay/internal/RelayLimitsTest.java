package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Every limit of the relay service: enforced, reported to the peer with its reason, counted. */
class RelayLimitsTest {

    private static final Duration STEP = Duration.ofSeconds(20);

    private static <T> T get(CompletionStage<T> s) throws Exception {
        return s.toCompletableFuture().get(STEP.toSeconds(), SECONDS);
    }

    private static Throwable failure(CompletionStage<?> s) throws Exception {
        try {
            s.toCompletableFuture().get(STEP.toSeconds(), SECONDS);
        } catch (ExecutionException e) {
            return TransportException.unwrap(e);
        }
        throw new AssertionError("expected a failure");
    }

    /** Asserts a refusal with this reason, a message naming the limit, and one count in the relay's metrics. */
    private static void refused(Throwable t, Reason reason, String mentions, TestNode relay) {
        assertThat(t).isInstanceOf(TransportException.RelayFailed.class);
        assertThat(((TransportException.RelayFailed) t).reason()).isEqualTo(reason);
        assertThat(t.getMessage()).contains(mentions).contains(relay.id().toString());
        assertThat(relay.server.counters().refusals()).containsEntry(reason, 1L);
    }

    private static PeerAddress via(TestNode relay, TestNode peer) {
        return PeerAddress.of(peer.id(), relay.relayEndpoint());
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void reservationsPerPeer() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.maxReservationsPerPeer = 1;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), c -> { }));
            refused(failure(b.relayTransport.listen(r.relayEndpoint(), c -> { })), Reason.RESERVATIONS_PER_PEER,
                    "maxReservationsPerPeer=1", r);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void reservationsInTotal() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.maxReservations = 1;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode c = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
            refused(failure(c.relayTransport.listen(r.relayEndpoint(), x -> { })), Reason.RESERVATIONS_TOTAL,
                    "maxReservations=1", r);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void circuitsPerPeer() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.maxCircuitsPerPeer = 1;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
            get(a.relayTransport.connect(via(r, b), STEP));
            refused(failure(a.relayTransport.connect(via(r, b), STEP)), Reason.CIRCUITS_PER_PEER,
                    "maxCircuitsPerPeer=1", r);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void circuitsInTotal() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.maxCircuits = 1;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer(); TestNode c = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
            get(a.relayTransport.connect(via(r, b), STEP));
            refused(failure(c.relayTransport.connect(via(r, b), STEP)), Reason.CIRCUITS_TOTAL, "maxCircuits=1", r);
            assertThat(r.server.circuits()).hasSize(1);
        }
    }

    /** Sends {@code bytes} from a to b through the relay; returns the seconds it took. */
    private static double transfer(TestNode r, TestNode a, TestNode b, LinkedBlockingQueue<Connection> accepted,
            int bytes) throws Exception {
        Connection out = get(a.relayTransport.connect(via(r, b), STEP));
        Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
        long start = System.nanoTime();
        java.util.concurrent.CompletableFuture<Void> w = out.write(ByteBuffer.allocate(bytes))
                .thenCompose(v -> out.shutdownOutput()).toCompletableFuture();
        long got = 0;
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        for (int n = get(in.read(buf)); n >= 0; n = get(in.read(buf.clear()))) {
            got += n;
        }
        w.get(STEP.toSeconds(), SECONDS);
        assertThat(got).isEqualTo(bytes);
        return (System.nanoTime() - start) / 1e9;
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void bandwidthPerCircuit() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.circuitQuota = new Quota(0, 0, 1024 * 1024);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            double seconds = transfer(r, a, b, accepted, 3 * 1024 * 1024);
            // 3 MiB at 1 MiB/s after a burst of at most 64 KiB: well over two seconds, not far over three.
            assertThat(seconds).isBetween(2.5, 6.0);
        }
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void totalBandwidthIsSharedFairly() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.totalBytesPerSecond = 2 * 1024 * 1024;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a1 = TestNode.peer(); TestNode a2 = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                // One circuit at a time is set up, then both run at once.
                Connection o1 = get(a1.relayTransport.connect(via(r, b), STEP));
                Connection i1 = accepted.poll(STEP.toSeconds(), SECONDS);
                Connection o2 = get(a2.relayTransport.connect(via(r, b), STEP));
                Connection i2 = accepted.poll(STEP.toSeconds(), SECONDS);
                int size = 3 * 1024 * 1024;
                long start = System.nanoTime();
                Future<Double> f1 = pool.submit(() -> drain(o1, i1, size, start));
                Future<Double> f2 = pool.submit(() -> drain(o2, i2, size, start));
                double t1 = f1.get(60, SECONDS);
                double t2 = f2.get(60, SECONDS);
                // 6 MiB at 2 MiB/s in total: about three seconds, and each circuit gets about half.
                assertThat(Math.max(t1, t2)).isBetween(2.4, 6.0);
                assertThat(Math.min(t1, t2) / Math.max(t1, t2)).as("the slower circuit's share").isGreaterThan(0.7);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static double drain(Connection out, Connection in, int size, long start) throws Exception {
        out.write(ByteBuffer.allocate(size)).thenCompose(v -> out.shutdownOutput());
        long got = 0;
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        for (int n = get(in.read(buf)); n >= 0; n = get(in.read(buf.clear()))) {
            got += n;
        }
        assertThat(got).isEqualTo(size);
        return (System.nanoTime() - start) / 1e9;
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void bytesPerCircuit() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.circuitQuota = new Quota(1024 * 1024, 0, 0);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            Connection out = get(a.relayTransport.connect(via(r, b), STEP));
            Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
            out.write(ByteBuffer.allocate(4 * 1024 * 1024));
            long got = 0;
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            Throwable end = null;
            try {
                for (int n = get(in.read(buf)); n >= 0; n = get(in.read(buf.clear()))) {
                    got += n;
                }
            } catch (ExecutionException e) {
                end = TransportException.unwrap(e);
            }
            assertThat(got).as("bytes through before the cut").isLessThan(1024 * 1024);
            assertThat(end).as("a cut circuit is a failure, not an orderly end").isNotNull();
            await().atMost(STEP).until(() -> r.server.counters().refusals().getOrDefault(Reason.BYTES_LIMIT, 0L) == 1);
            assertThat(r.server.circuits()).isEmpty();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void durationPerCircuit() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.circuitQuota = new Quota(0, 1, 0);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            Instant start = Instant.now();
            Connection out = get(a.relayTransport.connect(via(r, b), STEP));
            // The relay cuts the circuit after a second: a pending read fails (no close_notify came).
            assertThat(failure(out.read(ByteBuffer.allocate(16)))).isInstanceOf(TransportException.Io.class);
            assertThat(Duration.between(start, Instant.now())).isBetween(Duration.ofMillis(900), Duration.ofSeconds(5));
            await().atMost(STEP).until(() -> r.server.counters().refusals().getOrDefault(Reason.DURATION_LIMIT, 0L) == 1);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void anIdleCircuitIsCut() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.circuitIdle = Duration.ofSeconds(1);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
            Connection out = get(a.relayTransport.connect(via(r, b), STEP));
            Instant start = Instant.now();
            // Nothing moves after the handshake: the relay cuts the circuit and counts why.
            assertThat(failure(out.read(ByteBuffer.allocate(16)))).isInstanceOf(TransportException.Io.class);
            assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
            await().atMost(STEP).until(() -> r.server.counters().refusals().getOrDefault(Reason.IDLE_LIMIT, 0L) == 1);
            assertThat(r.server.circuits()).isEmpty();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void newStreamsPerSourceAddressPerSecond() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.streamsPerSource = 2;
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode a = TestNode.peer()) {
            List<Throwable> failures = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                // Each dial is a new relay stream from 127.0.0.1 (to a peer that is not there).
                failures.add(failure(a.relayTransport.connect(PeerAddress.of(Identities.generate().peerId(),
                        r.relayEndpoint()), STEP)));
            }
            // Five streams within a second or two, two allowed per second: at least one was refused.
            List<Throwable> limited = failures.stream().filter(t -> t instanceof TransportException.RelayFailed f
                    && f.reason() == Reason.RATE_LIMITED).toList();
            assertThat(limited).isNotEmpty();
            assertThat(limited.get(0).getMessage()).contains("127.0.0.1").contains("in one second");
            assertThat(r.server.counters().refusals().get(Reason.RATE_LIMITED)).isEqualTo(limited.size());
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void loopbackAndPrivateSourcesAreRefusedByDefault() throws Exception {
        RelaySettings.Builder s = RelaySettings.builder(); // the defaults: allowPrivateAddresses=false
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            refused(failure(b.relayTransport.listen(r.relayEndpoint(), x -> { })), Reason.ADDRESS_NOT_ALLOWED,
                    "allowPrivateAddresses=false", r);
            Throwable dial = failure(a.relayTransport.connect(via(r, b), STEP));
            assertThat(((TransportException.RelayFailed) dial).reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
            assertThat(r.server.reservations()).isEmpty();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void allowlistAdmitsOnlyListedPeers() throws Exception {
        try (TestNode b = TestNode.peer(); TestNode a = TestNode.peer()) {
            RelaySettings.Builder s = TestNode.loopbackRelay();
            s.admission = new Admission(Admission.Policy.ALLOWLIST, Set.of(b.id()), Set.of());
            try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE)) {
                get(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
                refused(failure(a.relayTransport.connect(via(r, b), STEP)), Reason.NOT_ADMITTED, "allowlist", r);
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void signedTokensAdmitAndCarryTheirQuota() throws Exception {
        NodeIdentity issuer = Identities.generate();
        NodeIdentity stranger = Identities.generate();
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.admission = new Admission(Admission.Policy.TOKEN, Set.of(), Set.of(issuer.peerId()));
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode plain = TestNode.peer()) {
            // No token.
            refused(failure(plain.relayTransport.listen(r.relayEndpoint(), x -> { })), Reason.NOT_ADMITTED,
                    "token", r);
            // A token from an issuer the relay does not trust, then an expired one: BAD_TOKEN each.
            try (TestNode b = tokenPeer(stranger, Instant.now().plusSeconds(60), 0)) {
                Throwable t = failure(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
                assertThat(((TransportException.RelayFailed) t).reason()).isEqualTo(Reason.BAD_TOKEN);
                assertThat(t.getMessage()).contains("not trusted");
            }
            try (TestNode b = tokenPeer(issuer, Instant.now().minusSeconds(1), 0)) {
                Throwable t = failure(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
                assertThat(t.getMessage()).contains("expired");
            }
            // A valid token with a 64 KiB quota per circuit: admitted, and its circuits are cut at 64 KiB.
            try (TestNode b = tokenPeer(issuer, Instant.now().plusSeconds(60), 64 * 1024);
                    TestNode a = tokenPeer(issuer, Instant.now().plusSeconds(60), 0)) {
                LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
                get(b.relayTransport.listen(r.relayEndpoint(), accepted::add));
                Connection out = get(a.relayTransport.connect(via(r, b), STEP));
                Connection in = accepted.poll(STEP.toSeconds(), SECONDS);
                out.write(ByteBuffer.allocate(1024 * 1024));
                assertThat(failure(readAll(in))).isNotNull();
                await().atMost(STEP).until(() -> r.server.counters().refusals().getOrDefault(Reason.BYTES_LIMIT, 0L) == 1);
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aReservedPeerThatNeverTakesTheCircuitTimesOut() throws Exception {
        RelaySettings.Builder s = TestNode.loopbackRelay();
        s.acceptTimeout = Duration.ofMillis(500);
        try (TestNode r = TestNode.relay(s.build(), Splice.Tap.NONE); TestNode b = TestNode.peer();
                TestNode a = TestNode.peer()) {
            // B reserves by hand and then ignores the INCOMING notice.
            Connection reservation = get(b.relayTransport.openHop(r.tcpAddress()));
            get(io.kizuna.relay.internal.protocol.RelayCodec.write(reservation,
                    new io.kizuna.relay.internal.protocol.RelayMessage.Reserve(new byte[0])));
            assertThat(get(io.kizuna.relay.internal.protocol.RelayCodec.read(reservation)))
                    .isInstanceOf(io.kizuna.relay.internal.protocol.RelayMessage.Reserved.class);
            refused(failure(a.relayTransport.connect(via(r, b), STEP)), Reason.TARGET_TIMEOUT, "500 ms", r);
            assertThat(get(io.kizuna.relay.internal.protocol.RelayCodec.read(reservation)))
                    .as("B was told").isInstanceOf(io.kizuna.relay.internal.protocol.RelayMessage.Incoming.class);
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aMalformedMessageClosesThatStreamOnlyAndIsCounted() throws Exception {
        try (TestNode r = TestNode.relay(TestNode.loopbackRelay().build(), Splice.Tap.NONE);
                TestNode b = TestNode.peer(); TestNode a = TestNode.peer()) {
            get(b.relayTransport.listen(r.relayEndpoint(), x -> { }));
            Connection bad = get(a.relayTransport.openHop(r.tcpAddress()));
            get(bad.write(ByteBuffer.wrap(new byte[] {(byte) 0x7f, 0, 0})));
            ByteBuffer end = ByteBuffer.allocate(1);
            int closedWith = get(bad.read(end).handle((n, e) -> e != null ? -1 : n));
            assertThat(closedWith).as("the relay closed it").isEqualTo(-1);
            assertThat(r.server.counters().protocolViolations()).isEqualTo(1);
            // Everyone else is still served.
            get(a.relayTransport.connect(via(r, b), STEP)).close();
            assertThat(r.server.reservations()).hasSize(1);
        }
    }

    private static CompletionStage<Long> readAll(Connection in) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        return in.read(buf).thenCompose(n -> n < 0 ? java.util.concurrent.CompletableFuture.completedFuture(0L)
                : readAll(in).thenApply(rest -> rest + n));
    }

    /** A peer whose relay transport presents a token from {@code issuer}. */
    private static TestNode tokenPeer(NodeIdentity issuer, Instant notAfter, long maxBytes) {
        // The token names the peer, whose key is made first.
        NodeIdentity me = Identities.generate();
        RelayToken t = RelayToken.issue(issuer, me.peerId(), notAfter, maxBytes, 0, 0);
        return TestNode.peer(me, ClientSettings.defaults().withToken(t.encode()));
    }
}
