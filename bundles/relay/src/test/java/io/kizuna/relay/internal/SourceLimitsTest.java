package io.kizuna.relay.internal;

import static io.kizuna.relay.internal.ServerHarness.ask;
import static io.kizuna.relay.internal.ServerHarness.get;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

import io.kizuna.core.internal.memory.RelayTestPipes;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The relay's limits that count by source address, on a server fed in-memory
 * streams from addresses the test picks: keys are free, addresses are not.
 */
class SourceLimitsTest {

    private static final byte[] NO_TOKEN = new byte[0];

    private static RelaySettings.Builder publicRelay() {
        RelaySettings.Builder b = RelaySettings.builder();
        b.streamsPerSource = 0;
        return b;
    }

    private static PeerId key() {
        return Identities.generate().peerId();
    }

    /**
     * A node that serves as a relay and is itself reached through an upstream
     * relay: the upstream relay claims a public source in INCOMING, but the
     * stream came from a private address, and that is what this node's checks see.
     */
    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aSourceAnUpstreamRelayClaimsIsNotTrusted() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        NodeIdentity node = Identities.generate();
        NodeIdentity upstream = Identities.generate();
        NodeIdentity dialer = Identities.generate();
        Endpoint.Hop hop = new Endpoint.Hop(upstream.peerId(), "tcp");
        try (ServerHarness h = new ServerHarness(publicRelay().build())) {
            // The spliced stream reaches this node from the upstream relay at 10.0.0.7 (in memory).
            Connection[] spliced = RelayTestPipes.pair(upstream.peerId(), new InetSocketAddress("10.0.0.7", 7400),
                    node.peerId(), new InetSocketAddress("10.0.0.1", 40000));
            CompletableFuture<CircuitConnection> out = CircuitConnection.dial(spliced[0], dialer, RelayTestTls.openssl(), node.peerId(),
                    hop, pool).toCompletableFuture();
            CircuitConnection in = get(CircuitConnection.accept(spliced[1], node, RelayTestTls.openssl(), dialer.peerId(),
                    new InetSocketAddress("203.0.113.9", 4000), hop, pool, timer, Duration.ofSeconds(10)));
            h.server.handle(in);
            RelayMessage answer = get(RelayCodec.read(get(out)));
            assertThat(answer).isInstanceOf(RelayMessage.Refused.class);
            assertThat(((RelayMessage.Refused) answer).reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
            assertThat(((RelayMessage.Refused) answer).message()).contains("10.0.0.7");
        } finally {
            pool.shutdownNow();
            timer.shutdownNow();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void oneDialerCannotTakeAllOfATargetsCircuits() throws Exception {
        RelaySettings.Builder s = publicRelay();
        s.maxCircuitsPerPeer = 4;
        s.maxCircuitsPerDialer = 2;
        try (ServerHarness h = new ServerHarness(s.build())) {
            PeerId b = key();
            Connection reservation = h.reserve(b, "198.51.100.2");
            // Two dialers with fresh keys from one address: both circuits are announced to B.
            for (int i = 0; i < 2; i++) {
                RelayCodec.write(h.stream(key(), "203.0.113.5"), new RelayMessage.Connect(b, NO_TOKEN));
                assertThat(get(RelayCodec.read(reservation))).isInstanceOf(RelayMessage.Incoming.class);
            }
            // A third key from the same address is refused, though B has room for more circuits.
            RelayMessage third = ask(h.stream(key(), "203.0.113.5"), new RelayMessage.Connect(b, NO_TOKEN));
            assertThat(third).isInstanceOf(RelayMessage.Refused.class);
            assertThat(((RelayMessage.Refused) third).reason()).isEqualTo(Reason.CIRCUITS_PER_PEER);
            assertThat(((RelayMessage.Refused) third).message()).contains("203.0.113.5")
                    .contains("maxCircuitsPerDialer=2");
            // Another address still reaches B.
            RelayCodec.write(h.stream(key(), "203.0.113.6"), new RelayMessage.Connect(b, NO_TOKEN));
            assertThat(get(RelayCodec.read(reservation))).isInstanceOf(RelayMessage.Incoming.class);
            assertThat(h.server.counters().refusals()).containsEntry(Reason.CIRCUITS_PER_PEER, 1L);
        }
    }
    private static Reason refusal(RelayMessage m) {
        assertThat(m).isInstanceOf(RelayMessage.Refused.class);
        return ((RelayMessage.Refused) m).reason();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void sixtyFourKeysFromOneAddressCannotTakeTheRelaysReservations() throws Exception {
        try (ServerHarness h = new ServerHarness(publicRelay().build())) {
            int granted = 0;
            for (int i = 0; i < 64; i++) {
                if (ask(h.stream(key(), "203.0.113.5"), new RelayMessage.Reserve(NO_TOKEN))
                        instanceof RelayMessage.Reserved) {
                    granted++;
                }
            }
            assertThat(granted).as("reservations one address got with the defaults")
                    .isEqualTo(RelaySettings.DEFAULT_RESERVATIONS_PER_SOURCE);
            assertThat(h.server.counters().refusals()).containsEntry(Reason.SOURCE_LIMIT, 64L - granted);
            // Everyone else still finds room.
            h.reserve(key(), "203.0.113.6");
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void reservationsPerSourceAddressAndIpv6Per64() throws Exception {
        RelaySettings.Builder s = publicRelay();
        s.maxReservationsPerSource = 2;
        s.reservationsPerSourcePerMinute = 0;
        try (ServerHarness h = new ServerHarness(s.build())) {
            Connection first = h.reserve(key(), "203.0.113.5");
            h.reserve(key(), "203.0.113.5");
            RelayMessage third = ask(h.stream(key(), "203.0.113.5"), new RelayMessage.Reserve(NO_TOKEN));
            assertThat(refusal(third)).isEqualTo(Reason.SOURCE_LIMIT);
            assertThat(((RelayMessage.Refused) third).message()).contains("203.0.113.5")
                    .contains("maxReservationsPerSource=2");
            // A reservation that ends frees its place.
            first.close();
            await().atMost(Duration.ofSeconds(10)).until(() -> h.server.reservations().size() == 1);
            h.reserve(key(), "203.0.113.5");
            // Two addresses of one IPv6 /64 count as one source; the next /64 is another.
            h.reserve(key(), "2001:db8::1");
            h.reserve(key(), "2001:db8::2");
            assertThat(refusal(ask(h.stream(key(), "2001:db8::3"), new RelayMessage.Reserve(NO_TOKEN))))
                    .isEqualTo(Reason.SOURCE_LIMIT);
            h.reserve(key(), "2001:db8:0:1::1");
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void newReservationsPerSourceAddressAndMinute() throws Exception {
        RelaySettings.Builder s = publicRelay();
        s.reservationsPerSourcePerMinute = 2;
        try (ServerHarness h = new ServerHarness(s.build())) {
            h.reserve(key(), "203.0.113.5").close();
            h.reserve(key(), "203.0.113.5").close();
            RelayMessage third = ask(h.stream(key(), "203.0.113.5"), new RelayMessage.Reserve(NO_TOKEN));
            assertThat(refusal(third)).isEqualTo(Reason.RATE_LIMITED);
            assertThat(((RelayMessage.Refused) third).message()).contains("in one minute");
            h.reserve(key(), "203.0.113.6");
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void circuitsPerSourceAddress() throws Exception {
        RelaySettings.Builder s = publicRelay();
        s.maxCircuitsPerSource = 2;
        try (ServerHarness h = new ServerHarness(s.build())) {
            PeerId b1 = key();
            PeerId b2 = key();
            Connection r1 = h.reserve(b1, "198.51.100.2");
            Connection r2 = h.reserve(b2, "198.51.100.3");
            RelayCodec.write(h.stream(key(), "203.0.113.5"), new RelayMessage.Connect(b1, NO_TOKEN));
            assertThat(get(RelayCodec.read(r1))).isInstanceOf(RelayMessage.Incoming.class);
            RelayCodec.write(h.stream(key(), "203.0.113.5"), new RelayMessage.Connect(b2, NO_TOKEN));
            assertThat(get(RelayCodec.read(r2))).isInstanceOf(RelayMessage.Incoming.class);
            RelayMessage third = ask(h.stream(key(), "203.0.113.5"), new RelayMessage.Connect(b1, NO_TOKEN));
            assertThat(refusal(third)).isEqualTo(Reason.SOURCE_LIMIT);
            assertThat(((RelayMessage.Refused) third).message()).contains("maxCircuitsPerSource=2");
        }
    }

    /** The defaults a relay gets from its configuration with no key set. */
    @Test
    void theDefaultsBoundBandwidthAndSources() {
        RelayConfig none = (RelayConfig) Proxy.newProxyInstance(RelayConfig.class.getClassLoader(),
                new Class<?>[] {RelayConfig.class}, (proxy, method, args) -> method.getDefaultValue());
        RelaySettings d = RelaySettings.from(none);
        assertThat(d.circuitQuota().rate()).as("bytes/s per circuit").isPositive();
        assertThat(d.totalBytesPerSecond()).as("bytes/s in total").isPositive();
        assertThat(d.maxReservationsPerSource()).isLessThan(d.maxReservations() / 4);
        assertThat(d.reservationsPerSourcePerMinute()).isPositive();
        assertThat(d.maxCircuitsPerSource()).isLessThan(d.maxCircuits() / 4);
        assertThat(d.maxCircuitsPerDialer()).isLessThan(d.maxCircuitsPerPeer());
        assertThat(d.circuitIdle()).isPositive();
        assertThat(d).as("the tests' defaults are the real ones").usingRecursiveComparison()
                .isEqualTo(RelaySettings.builder().build());
    }
}
