package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.kizuna.core.internal.memory.MemoryHub;
import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The background upgrade of a relayed connection tries again after a failure,
 * waiting longer each time, and stops at the limit, at a success, when the relayed
 * connection closes and when a direct connection is pooled meanwhile. The relayed
 * transport is memory connections that say they pass through a relay; the
 * signaled one pairs memory connections directly and fails as often as told.
 */
@Timeout(60)
class UpgradeRetryTest {

    private static final Duration RETRY = Duration.ofMillis(200);
    private static final Duration SLOW_RETRY = Duration.ofMillis(1500);

    private final MemoryHub hub = new MemoryHub();
    /** Each node's signaled transports, by protocol and then PeerId. */
    private final Map<String, Map<PeerId, SignaledTransport>> signaled = new ConcurrentHashMap<>();
    private final List<Runnable> cleanup = new ArrayList<>();

    /** One node: a relayed transport, a direct memory one and a signaled one, listening on the first two. */
    private final class Peer {
        final PeerId id = TestIds.newPeerId();
        final ConnectionManagerImpl manager;
        final MemoryTransport circuit = new MemoryTransport(id, "circuit", 10, 256 * 1024, 64, hub);
        final MemoryTransport direct = new MemoryTransport(id, "mem", 50, 256 * 1024, 64, hub);
        final SignaledTransport sig = new SignaledTransport(id, "sig", 90);
        /** A second signaled transport, ranked above sig, as the hole punch is above WebRTC; bound on request. */
        final SignaledTransport punch = new SignaledTransport(id, "punch", 95);

        Peer(int attempts) {
            this(attempts, RETRY);
        }

        Peer(int attempts, boolean withPunch) {
            this(attempts, RETRY);
            manager.bindTransport(punch, Map.of(Transport.PROTOCOL, "punch", Transport.PRIORITY, 95));
        }

        Peer(int attempts, Duration retry) {
            manager = new ConnectionManagerImpl(Node.settings().listen("circuit://127.0.0.1:0", "mem://127.0.0.1:0")
                    .upgradeAttempts(attempts).upgradeRetryDelay(retry).build(), id);
            manager.bindTransport(new Relayed(circuit), Map.of(Transport.PROTOCOL, "circuit",
                    Transport.PRIORITY, 10));
            manager.bindTransport(direct, Map.of(Transport.PROTOCOL, "mem", Transport.PRIORITY, 50));
            manager.bindTransport(sig, Map.of(Transport.PROTOCOL, "sig", Transport.PRIORITY, 90));
            cleanup.add(() -> {
                manager.deactivate();
                circuit.shutdown();
                direct.shutdown();
                sig.inner.shutdown();
                punch.inner.shutdown();
            });
        }

        List<String> protocolsTo(Peer other) {
            return manager.connections(other.id).stream().map(ConnectionInfo::protocol).sorted().toList();
        }
    }

    @AfterEach
    void stop() {
        cleanup.forEach(Runnable::run);
    }

    private static void relayedDial(Peer from, Peer to) throws Exception {
        ConnectionInfo i = ManagerTestSupport.get(from.manager.connectToPeer(to.manager.localAddress()
                .only("circuit")));
        assertThat(i.via()).as("the test's circuit transport is relayed").isPresent();
    }

    @Test
    void failedAttemptsAreRetriedWithGrowingWaitsUpToTheLimit() throws Exception {
        Peer a = new Peer(3);
        Peer b = new Peer(3);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);

        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 3);
        List<Long> t = a.sig.dials;
        assertThat(t.get(1) - t.get(0)).as("the first wait").isGreaterThanOrEqualTo(RETRY.toNanos());
        assertThat(t.get(2) - t.get(1)).as("the second wait, doubled").isGreaterThanOrEqualTo(2 * RETRY.toNanos());
        awaitUpgradeEnded(a, b);
        assertThat(a.sig.dials).as("no attempt after the limit").hasSize(3);
        assertThat(a.protocolsTo(b)).as("the relayed connection stays").containsExactly("circuit");
    }

    @Test
    void aSuccessfulRetryEndsTheRetries() throws Exception {
        Peer a = new Peer(3);
        Peer b = new Peer(3);
        a.sig.failures.set(1);

        relayedDial(a, b);

        await().atMost(Duration.ofSeconds(15)).until(() -> a.protocolsTo(b).contains("sig"));
        awaitUpgradeEnded(a, b);
        assertThat(a.sig.dials).hasSize(2);
        assertThat(a.protocolsTo(b)).containsExactly("circuit", "sig");
    }

    @Test
    void closingTheRelayedConnectionEndsTheRetries() throws Exception {
        // A wait long enough to close the relayed connection before the retry is due, on a loaded machine too.
        Peer a = new Peer(3, SLOW_RETRY);
        Peer b = new Peer(3, SLOW_RETRY);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 1);
        a.circuit.openConnections().forEach(Connection::close);
        await().atMost(Duration.ofSeconds(10)).until(() -> a.protocolsTo(b).isEmpty());

        awaitUpgradeEnded(a, b);
        assertThat(a.sig.dials).as("no retry after the relayed connection closed").hasSize(1);
    }

    @Test
    void aDirectConnectionPooledMeanwhileEndsTheRetries() throws Exception {
        Peer a = new Peer(3, SLOW_RETRY);
        Peer b = new Peer(3, SLOW_RETRY);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 1);
        ManagerTestSupport.get(a.manager.connectToPeer(b.manager.localAddress().only("mem")));

        awaitUpgradeEnded(a, b); // at the time of the retry, which finds the direct connection
        assertThat(a.sig.dials).as("no retry once a direct connection is pooled").hasSize(1);
        assertThat(a.protocolsTo(b)).containsExactly("circuit", "mem");
    }

    @Test
    void stoppingTheManagerEndsTheRetries() throws Exception {
        Peer a = new Peer(3, SLOW_RETRY);
        Peer b = new Peer(3, SLOW_RETRY);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 1);
        a.manager.deactivate();

        // Stopping drops the waiting retry with the manager's timer, so nothing ends that could be awaited:
        // only waiting past the time the retry was due shows that it never came.
        Thread.sleep(SLOW_RETRY.toMillis() + 700);
        assertThat(a.sig.dials).as("no retry once the manager stopped").hasSize(1);
    }

    @Test
    void oneAttemptMeansNoRetry() throws Exception {
        Peer a = new Peer(1);
        Peer b = new Peer(1);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 1);
        awaitUpgradeEnded(a, b);
        assertThat(a.sig.dials).hasSize(1);
    }

    @Test
    void aConnectionTheSignaledTransportGotFromAnotherStaysWhenTheSignaledOneLeaves() throws Exception {
        Peer a = new Peer(1);
        Peer b = new Peer(1);
        a.sig.dialsAs = "mem"; // as the hole punch returns the QUIC transport's connection

        relayedDial(a, b);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.protocolsTo(b).contains("mem"));
        awaitUpgradeEnded(a, b);

        a.manager.unbindTransport(a.sig, Map.of(Transport.PROTOCOL, "sig"));
        assertThat(a.protocolsTo(b)).as("the connection is the mem transport's").containsExactly("circuit", "mem");
        a.manager.unbindTransport(a.direct, Map.of(Transport.PROTOCOL, "mem"));
        await().atMost(Duration.ofSeconds(10)).until(() -> a.protocolsTo(b).equals(List.of("circuit")));
    }

    @Test
    void aFailedBestTransportHandsTheAttemptToTheNextAtOnce() throws Exception {
        Peer a = new Peer(3, true);
        Peer b = new Peer(3, true);
        a.punch.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);

        await().atMost(Duration.ofSeconds(15)).until(() -> a.protocolsTo(b).contains("sig"));
        awaitUpgradeEnded(a, b);
        assertThat(a.punch.dials).as("the best transport first, once").hasSize(1);
        assertThat(a.sig.dials).as("then the next, in the same attempt").hasSize(1);
        assertThat(a.sig.dials.get(0) - a.punch.dials.get(0)).as("without the retry's wait")
                .isLessThan(RETRY.toNanos());
        assertThat(a.protocolsTo(b)).containsExactly("circuit", "sig");
        ConnectionInfo up = a.manager.connections(b.id).stream().filter(c -> c.protocol().equals("sig")).findFirst()
                .orElseThrow();
        assertThat(up.path()).as("how the path was made").hasValueSatisfying(p -> assertThat(p)
                .matches("upgraded, \\d+ ms after relay"));
    }

    @Test
    void whenEveryTransportFailsTheAttemptCountsOnceAndTheRetryStartsFromTheBest() throws Exception {
        Peer a = new Peer(2, true);
        Peer b = new Peer(2, true);
        a.punch.failures.set(Integer.MAX_VALUE);
        a.sig.failures.set(Integer.MAX_VALUE);

        relayedDial(a, b);

        await().atMost(Duration.ofSeconds(15)).until(() -> a.sig.dials.size() == 2);
        awaitUpgradeEnded(a, b);
        assertThat(a.punch.dials).as("each of the two attempts starts with the best").hasSize(2);
        assertThat(a.punch.dials.get(1)).as("the retry's punch comes after the first attempt's sig")
                .isGreaterThan(a.sig.dials.get(0));
        assertThat(a.protocolsTo(b)).containsExactly("circuit");
    }

    @Test
    void aStreamOpenOverTheRelayLosesNoByteWhenTheUpgradeLands() throws Exception {
        Peer a = new Peer(3);
        Peer b = new Peer(3);
        CompletableFuture<Void> gate = new CompletableFuture<>();
        a.sig.gate = gate; // the upgrade waits until the stream is under way
        b.manager.bindStreamHandler((stream, protocol) -> ConnectionManagerTest.echo(stream),
                Map.of(StreamHandler.PROTOCOL, "test/echo/1"));

        relayedDial(a, b);
        Connection stream = ManagerTestSupport.get(a.manager.openStream(b.manager.localAddress().only("circuit"),
                "test/echo/1"));
        assertThat(stream.info().via()).as("the stream goes through the relay").isPresent();
        byte[] first = new byte[100_000];
        byte[] second = new byte[100_000];
        new java.util.Random(7).nextBytes(first);
        new java.util.Random(8).nextBytes(second);
        ManagerTestSupport.get(stream.write(ByteBuffer.wrap(first)));
        gate.complete(null);
        await().atMost(Duration.ofSeconds(15)).until(() -> a.protocolsTo(b).contains("sig"));
        ManagerTestSupport.get(stream.write(ByteBuffer.wrap(second)));
        ManagerTestSupport.get(stream.shutdownOutput());

        byte[] back = ConnectionManagerTest.readToEnd(stream);
        byte[] sent = new byte[first.length + second.length];
        System.arraycopy(first, 0, sent, 0, first.length);
        System.arraycopy(second, 0, sent, first.length, second.length);
        assertThat(back).as("every byte, in order, over the relay").isEqualTo(sent);
        Connection next = ManagerTestSupport.get(a.manager.openStream(b.manager.localAddress().only("circuit"),
                "test/echo/1"));
        assertThat(next.info().via()).as("a new stream goes direct").isEmpty();
        next.close();
    }

    /** Waits until {@code from}'s upgrade to {@code to} has ended: no attempt can follow. */
    private static void awaitUpgradeEnded(Peer from, Peer to) {
        await().atMost(Duration.ofSeconds(10)).until(() -> !from.manager.upgrading(to.id));
    }

    private static Connection as(Connection c, String protocol) {
        return new ForwardingConnection(c) {
            @Override
            public ConnectionInfo info() {
                ConnectionInfo i = c.info();
                return new ConnectionInfo(i.id(), i.peerId(), protocol, i.direction(), i.localAddress(),
                        i.remoteAddress(), i.establishedAt(), i.bytesSent(), i.bytesReceived(), i.rtt(),
                        i.bandwidth(), i.via());
            }
        };
    }

    /** Memory connections that say they pass through a relay. */
    private static final class Relayed extends OnMemory {
        private final Endpoint.Hop via = new Endpoint.Hop(TestIds.newPeerId(), "mem");

        Relayed(MemoryTransport inner) {
            super(inner);
        }

        @Override
        public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
            return inner.connect(peer, timeout).thenApply(this::relayed);
        }

        @Override
        public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
            return inner.listen(local, c -> acceptor.accept(relayed(c)));
        }

        private Connection relayed(Connection c) {
            return new ForwardingConnection(c) {
                @Override
                public ConnectionInfo info() {
                    ConnectionInfo i = c.info();
                    return new ConnectionInfo(i.id(), i.peerId(), i.protocol(), i.direction(), i.localAddress(),
                            i.remoteAddress(), i.establishedAt(), i.bytesSent(), i.bytesReceived(), i.rtt(),
                            i.bandwidth(), Optional.of(via));
                }
            };
        }
    }

    /**
     * A transport that accepts signaled connections and dials them without an
     * endpoint, as WebRTC does: a dial pairs memory connections with the peer's
     * signaled transport, after failing as many times as {@link #failures} says.
     */
    private final class SignaledTransport extends OnMemory {
        final AtomicInteger failures = new AtomicInteger();
        /** nanoTime of each dial */
        final List<Long> dials = new CopyOnWriteArrayList<>();
        /** When set, the connections it dials say they are of this transport. */
        volatile String dialsAs;
        /** When set, a dial waits for it. */
        volatile CompletableFuture<Void> gate;
        private volatile Consumer<Connection> acceptor;

        private final String protocol;

        SignaledTransport(PeerId id, String protocol, int priority) {
            super(new MemoryTransport(id, protocol, priority, 256 * 1024, 64, hub));
            this.protocol = protocol;
            signaled.computeIfAbsent(protocol, p -> new ConcurrentHashMap<>()).put(id, this);
        }

        @Override
        public Optional<Runnable> acceptSignaled(Consumer<Connection> a) {
            acceptor = a;
            return Optional.of(() -> acceptor = null);
        }

        @Override
        public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
            CompletableFuture<Void> g = gate;
            return g == null ? dial(peer) : g.thenCompose(v -> dial(peer));
        }

        private CompletionStage<Connection> dial(PeerAddress peer) {
            dials.add(System.nanoTime());
            if (failures.getAndDecrement() > 0) {
                return CompletableFuture.failedFuture(new TransportException.ConnectionFailed(
                        "ICE found no working candidate pair (test)", null));
            }
            SignaledTransport far = signaled.get(protocol).get(peer.peerId());
            Consumer<Connection> a = far == null ? null : far.acceptor;
            if (a == null) {
                return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(protocol, peer));
            }
            try {
                Connection[] p = inner.pairWith(far.inner);
                a.accept(p[1]);
                return CompletableFuture.completedFuture(dialsAs == null ? p[0] : as(p[0], dialsAs));
            } catch (TransportException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        @Override
        public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> a) {
            return CompletableFuture.failedFuture(new TransportException.Io("sig listens nowhere", null));
        }
    }
}
