package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.openmbean.TabularData;

import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.ProtocolNegotiation;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The manager over memory transports: selection, racing, fallback, pool, control protocol, streams, metrics. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ConnectionManagerTest extends ManagerTestSupport {

    // ------------------------------------------------------------------ selection

    @Test
    void negotiationOffersAvailableTransportsTheAddressNamesByPriority() throws Exception {
        Node a = node("mem-a:100", "mem-b:300", "mem-c:200", "mem-d:400");
        a.transport("mem-d").unavailable("native library missing");
        PeerAddress b = PeerAddress.parse(TestIds.randomPeerId() + "@mem-a://127.0.0.1:1,mem-x://127.0.0.1:2,"
                + "mem-c://127.0.0.1:3,mem-b://127.0.0.1:4,mem-d://127.0.0.1:5");

        ProtocolNegotiation n = a.manager.negotiateProtocol(b);

        assertThat(n.offered()).containsExactly("mem-a", "mem-x", "mem-c", "mem-b", "mem-d");
        assertThat(n.candidates()).as("available here, named there, best priority first")
                .containsExactly("mem-b", "mem-c", "mem-a");
        assertThat(n.selectBestProtocol()).contains("mem-b");
        assertThat(n.timeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(a.manager.negotiateProtocol(b.only("mem-x")).candidates()).isEmpty();
    }

    @Test
    void priorityAndProtocolComeFromTheServicePropertiesFirst() throws Exception {
        Node a = node("mem-a:100");
        MemoryTransport low = new MemoryTransport(a.id, "mem-b", 1, 1024, 16, hub);
        try {
            // The service says 500 although the object says 1: the service property wins.
            a.manager.bindTransport(low, Map.of(io.kizuna.transport.Transport.PRIORITY, 500));
            PeerAddress b = PeerAddress.parse(TestIds.randomPeerId() + "@mem-a://127.0.0.1:1,mem-b://127.0.0.1:2");
            assertThat(a.manager.negotiateProtocol(b).candidates()).containsExactly("mem-b", "mem-a");
            a.manager.updatedTransport(low, Map.of(io.kizuna.transport.Transport.PRIORITY, "50"));
            assertThat(a.manager.negotiateProtocol(b).candidates()).containsExactly("mem-a", "mem-b");
            // Without properties, the transport's own values.
            a.manager.updatedTransport(low, Map.of());
            assertThat(a.manager.transportSummaries()).contains("mem-b priority 1 available");
        } finally {
            a.manager.unbindTransport(low, Map.of());
            low.shutdown();
        }
    }

    @Test
    void aTransportThatFailedForAPeerSinksBelowOneThatWorked() throws Exception {
        Node a = node("mem-a:200", "mem-b:100");
        Node b = node("mem-a:10", "mem-b:10");
        Node c = node("mem-a:10", "mem-b:10");
        a.transport("mem-a").failDials("link down for the test");

        ConnectionInfo info = get(a.manager.connectToPeer(b.address()));

        assertThat(info.protocol()).isEqualTo("mem-b");
        assertThat(a.manager.negotiateProtocol(b.address()).candidates()).as("for the peer it failed for")
                .containsExactly("mem-b", "mem-a");
        assertThat(a.manager.negotiateProtocol(c.address()).candidates()).as("for another peer")
                .containsExactly("mem-a", "mem-b");
        assertThat(a.manager.history(b.id).get("mem-a").failures).isEqualTo(1);

        // Once it works again for that peer, priority decides again.
        a.transport("mem-a").normalDials();
        get(a.manager.disconnect(b.id));
        assertThat(get(a.manager.connectToPeer(b.address("mem-a"))).protocol()).isEqualTo("mem-a");
        assertThat(a.manager.negotiateProtocol(b.address()).candidates()).containsExactly("mem-a", "mem-b");
    }

    @Test
    void atEqualPriorityATransportThatWorkedForThePeerComesFirst() throws Exception {
        Node a = node("mem-a:100", "mem-b:100");
        Node b = node("mem-a:10", "mem-b:10");
        assertThat(a.manager.negotiateProtocol(b.address()).candidates()).as("by name when nothing is known")
                .containsExactly("mem-a", "mem-b");
        get(a.manager.connectToPeer(b.address("mem-b")));
        assertThat(a.manager.negotiateProtocol(b.address()).candidates()).containsExactly("mem-b", "mem-a");
    }

    // ------------------------------------------------------------------ racing and fallback

    @Test
    void aSlowTransportIsOvertakenAfterTheStaggerDelayAndClosedWhenItArrives() throws Exception {
        Duration stagger = Duration.ofMillis(300);
        Node a = node(Node.settings().staggerDelay(stagger), "mem-slow:200", "mem-fast:100");
        Node b = node("mem-slow:10", "mem-fast:10");
        MemoryTransport slow = a.transport("mem-slow");
        slow.delayDials(Duration.ofMillis(2500));

        long start = System.nanoTime();
        ConnectionInfo info = get(a.manager.connectToPeer(b.address()));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(info.protocol()).isEqualTo("mem-fast");
        assertThat(millis).as("ms until connected: the second candidate starts after the stagger delay")
                .isGreaterThanOrEqualTo(stagger.toMillis() - 20).isLessThan(2500);
        assertThat(slow.dialCount()).as("the slow one was started first").isEqualTo(1);
        assertThat(a.transport("mem-fast").dialCount()).isEqualTo(1);

        // The slow dial completes later; the manager closes it at once.
        await().atMost(Duration.ofSeconds(10)).until(() -> slow.dialed().size() == 1
                && !slow.dialed().get(0).isConnected());
        assertThat(a.manager.connections(b.id)).extracting(ConnectionInfo::protocol).containsExactly("mem-fast");
        await().atMost(Duration.ofSeconds(5)).until(() -> b.transport("mem-slow").openConnections().isEmpty());
        assertThat(b.manager.connections(a.id)).extracting(ConnectionInfo::protocol).containsExactly("mem-fast");
    }

    @Test
    void fallbackTriesEveryCandidateWithShrinkingTimeoutsUntilOneWorks() throws Exception {
        Node a = node(Node.settings().connectTimeout(Duration.ofSeconds(8)).staggerDelay(Duration.ofSeconds(5)),
                "mem-a:300", "mem-b:200", "mem-c:100");
        Node b = node("mem-a:10", "mem-b:10", "mem-c:10");
        a.transport("mem-a").failDials("refused for the test");
        a.transport("mem-b").failDials("refused for the test");

        long start = System.nanoTime();
        ConnectionInfo info = get(a.manager.connectToPeer(b.address()));

        assertThat(info.protocol()).isEqualTo("mem-c");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
                .as("a failure starts the next candidate at once, without waiting for the stagger delay")
                .isLessThan(4000);
        assertThat(a.transport("mem-a").dialTimeouts()).containsExactly(Duration.ofSeconds(8));
        assertThat(a.transport("mem-b").dialTimeouts()).containsExactly(Duration.ofSeconds(4));
        assertThat(a.transport("mem-c").dialTimeouts()).containsExactly(Duration.ofSeconds(2));
        assertThat(a.manager.attemptTimeout(5)).as("never below the floor").isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void whenEveryCandidateFailsTheErrorListsEachTransportAndItsError() throws Exception {
        Node a = node("mem-a:300", "mem-b:200", "mem-c:100");
        Node b = node("mem-a:10", "mem-b:10", "mem-c:10");
        a.transport("mem-a").failDials("cable cut");
        a.transport("mem-b").failDials("no route");
        a.transport("mem-c").blackholeDials();
        PeerAddress target = b.address();

        Throwable t = failure(a.manager.connectToPeer(target));

        assertThat(t).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining(b.id.toString())
                .hasMessageContaining("mem-a:").hasMessageContaining("cable cut")
                .hasMessageContaining("mem-b:").hasMessageContaining("no route")
                .hasMessageContaining("mem-c:").hasMessageContaining("timed out after 2500 ms");
        assertThat(a.manager.metrics().failed()).isEqualTo(3);
        assertThat(a.manager.metrics(b.id).failed()).isEqualTo(3);
        assertThat(a.manager.connections()).isEmpty();
    }

    @Test
    void aListenerWithAnotherKeyGivesPeerAuthenticationFailed() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        Node impostor = node("mem-a:10");
        PeerAddress wrong = new PeerAddress(b.id, impostor.address().endpoints());

        Throwable t = failure(a.manager.connectToPeer(wrong));

        assertThat(t).isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining(b.id.toString()).hasMessageContaining(impostor.id.toString());
    }

    @Test
    void noCommonTransportIsUnsupportedProtocol() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-b:10");
        assertThat(failure(a.manager.connectToPeer(b.address()))).isInstanceOf(
                TransportException.UnsupportedProtocol.class).hasMessageContaining("mem-b").hasMessageContaining("mem-a");
    }

    // ------------------------------------------------------------------ pool

    @Test
    void aPooledConnectionIsReusedAndConcurrentCallsShareOneDial() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        a.transport("mem-a").delayDials(Duration.ofMillis(200));

        List<CompletableFuture<ConnectionInfo>> calls = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            calls.add(a.manager.connectToPeer(b.address()).toCompletableFuture());
        }
        List<String> ids = new ArrayList<>();
        for (CompletableFuture<ConnectionInfo> c : calls) {
            ids.add(get(c).id());
        }
        assertThat(ids).as("one connection for all five calls").containsOnly(ids.get(0));
        assertThat(a.dials()).isEqualTo(1);

        ConnectionInfo again = get(a.manager.connectToPeer(b.address()));
        ConnectionInfo byId = get(a.manager.connectToPeer(PeerAddress.of(b.id)));
        assertThat(again.id()).isEqualTo(ids.get(0));
        assertThat(byId.id()).as("a bare PeerId reuses the pool").isEqualTo(ids.get(0));
        assertThat(a.dials()).as("no second dial").isEqualTo(1);
        assertThat(a.manager.connections()).hasSize(1);
        // The acceptor pools it once the dialer's hello arrived there.
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().size() == 1);
        assertThat(b.manager.connections()).allSatisfy(i -> assertThat(i.direction())
                .isEqualTo(ConnectionInfo.Direction.INBOUND));
    }

    @Test
    void thePerPeerLimitIsAnError() throws Exception {
        Node a = node(Node.settings().maxConnectionsPerPeer(1), "mem-a:100", "mem-b:50");
        Node b = node("mem-a:10", "mem-b:10");
        get(a.manager.connectToPeer(b.address("mem-a")));

        Throwable t = failure(a.manager.connectToPeer(b.address("mem-b")));

        assertThat(t).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxConnectionsPerPeer=1");
        assertThat(((TransportException.LimitExceeded) t).limit()).isEqualTo("maxConnectionsPerPeer");
        assertThat(a.dials()).as("refused before dialing").isEqualTo(1);
    }

    @Test
    void theTotalLimitIsAnErrorOnTheDialerAndOnTheAcceptor() throws Exception {
        Node a = node(Node.settings().maxConnections(1), "mem-a:100");
        Node b = node("mem-a:10");
        Node c = node("mem-a:10");
        get(a.manager.connectToPeer(b.address()));

        Throwable t = failure(a.manager.connectToPeer(c.address()));
        assertThat(t).isInstanceOf(TransportException.LimitExceeded.class).hasMessageContaining("maxConnections=1");

        // c dials a, which is full: a refuses with OPEN_REFUSED naming its limit.
        Throwable refused = failure(c.manager.connectToPeer(a.address()));
        assertThat(refused).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining("maxConnections=1");
        assertThat(refused.getCause()).isInstanceOf(TransportException.LimitExceeded.class);
        assertThat(a.manager.connections()).hasSize(1);
    }

    @Test
    void anIdleConnectionIsClosedAndTheNextCallDialsAgain() throws Exception {
        Node a = node(Node.settings().idleTimeout(Duration.ofSeconds(1)), "mem-a:100");
        Node b = node("mem-a:10");
        get(a.manager.connectToPeer(b.address()));
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().size() == 1);

        await().atMost(Duration.ofSeconds(10)).until(() -> a.manager.connections().isEmpty()
                && b.manager.connections().isEmpty());
        assertThat(a.manager.metrics().active()).isZero();

        get(a.manager.connectToPeer(b.address()));
        assertThat(a.dials()).isEqualTo(2);
    }

    @Test
    void pingsKeepAConnectionFromBeingIdle() throws Exception {
        Node a = node(Node.settings().idleTimeout(Duration.ofSeconds(1)), "mem-a:100");
        Node b = node(Node.settings().idleTimeout(Duration.ofSeconds(60)), "mem-a:10");
        String id = get(a.manager.connectToPeer(b.address())).id();
        // For 2.5 idle timeouts, a ping every 100 ms keeps the same connection in the pool.
        await().during(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .until(() -> get(a.manager.ping(PeerAddress.of(b.id))).rtt().toNanos() > 0
                        && a.manager.connections().stream().map(ConnectionInfo::id).toList().equals(List.of(id)));
    }

    // ------------------------------------------------------------------ hello, ping

    @Test
    void helloTellsEachSideWhereTheOtherListensSoABarePeerIdCanBeDialedLater() throws Exception {
        Node a = node("mem-a:100", "mem-b:50");
        Node b = node("mem-a:10", "mem-b:10");
        get(a.manager.connectToPeer(b.address("mem-a")));

        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections(a.id).size() == 1);
        assertThat(a.manager.knownPeerCount()).isEqualTo(1);
        assertThat(b.manager.knownPeerCount()).isEqualTo(1);

        get(a.manager.disconnect(b.id));
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().isEmpty());

        // From the PeerId alone: the endpoints b announced in its hello.
        PingResult r = get(a.manager.ping(PeerAddress.of(b.id)));
        assertThat(r.peer()).isEqualTo(b.id);
        assertThat(r.protocol()).as("the best of b's announced transports").isEqualTo("mem-a");
        assertThat(b.address().endpoints()).contains(r.remote());
        // And b reaches a by PeerId over the connection a made.
        assertThat(get(b.manager.ping(PeerAddress.of(a.id))).protocol()).isEqualTo("mem-a");
    }

    @Test
    void aBarePeerIdOfAnUnknownPeerIsAClearError() throws Exception {
        Node a = node("mem-a:100");
        assertThat(failure(a.manager.connectToPeer(PeerAddress.of(TestIds.randomPeerId()))))
                .isInstanceOf(TransportException.ConnectionFailed.class).hasMessageContaining("no address is known");
        assertThat(failure(a.manager.connectToPeer(PeerAddress.of(a.id))))
                .hasMessageContaining("this node's own PeerId");
    }

    @Test
    void pingMeasuresTheRoundTripAndRecordsIt() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        PingResult first = get(a.manager.ping(b.address()));
        PingResult second = get(a.manager.ping(b.address()));

        assertThat(first.rtt()).isPositive();
        assertThat(second.rtt()).isPositive().isLessThan(Duration.ofSeconds(5));
        assertThat(second.protocol()).isEqualTo("mem-a");
        assertThat(second.remote()).isEqualTo(b.address().endpoints().get(0));
        ConnectionInfo info = a.manager.connections(b.id).get(0);
        assertThat(info.rtt()).contains(second.rtt());
        assertThat(a.manager.metrics().averageLatency()).isPresent();
        assertThat(a.manager.metrics(b.id).averageLatency()).isPresent();
        assertThat(a.manager.metricsByProtocol().get("mem-a").averageLatency()).isPresent();
        assertThat(a.manager.history(b.id).get("mem-a").rttNanos).isPositive();
    }

    @Test
    void aPingWithoutPongTimesOut() throws Exception {
        Node a = node(Node.settings().pingTimeout(Duration.ofMillis(300)), "mem-a:100");
        RawPeer mute = RawPeer.listen(hub, "mem-a");
        mute.answerOpenAndHello();
        get(a.manager.connectToPeer(mute.address()));

        Throwable t = failure(a.manager.ping(mute.address()));

        assertThat(t).isInstanceOf(TransportException.ConnectionTimeout.class).hasMessageContaining("300 ms");
        mute.close();
    }

    // ------------------------------------------------------------------ perf

    @Test
    void perfMovesTheBytesAskedForBothWaysAndReportsProgress() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        List<PerfResult.Progress> progress = new CopyOnWriteArrayList<>();
        long up = 3L * 1024 * 1024 + 17;
        long down = 5L * 1024 * 1024 + 3;

        PerfResult r = get(a.manager.perf(b.address(), up, down, progress::add));

        assertThat(r.peer()).isEqualTo(b.id);
        assertThat(r.protocol()).isEqualTo("mem-a");
        assertThat(r.uploadBytes()).isEqualTo(up);
        assertThat(r.downloadBytes()).isEqualTo(down);
        assertThat(r.uploadTime()).isPositive();
        assertThat(r.downloadTime()).isPositive();
        assertThat(progress).extracting(PerfResult.Progress::phase).contains("upload", "download");
        assertThat(progress.stream().filter(p -> p.phase().equals("upload")).reduce((x, y) -> y).get().done())
                .isEqualTo(up);
        assertThat(progress.get(progress.size() - 1)).satisfies(p -> {
            assertThat(p.phase()).isEqualTo("download");
            assertThat(p.done()).isEqualTo(down);
            assertThat(p.total()).isEqualTo(down);
        });
        assertThat(a.dials()).as("one pooled connection, the perf stream multiplexed on it").isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            ConnectionMetrics m = a.manager.metrics();
            assertThat(m.bytesSent()).isGreaterThanOrEqualTo(up);
            assertThat(m.bytesReceived()).isGreaterThanOrEqualTo(down);
            assertThat(b.manager.metrics().bytesReceived()).isGreaterThanOrEqualTo(up);
            assertThat(b.manager.metrics().bytesSent()).isGreaterThanOrEqualTo(down);
        });
        assertThat(a.manager.connections()).as("the perf stream is not pooled").hasSize(1);
    }

    @Test
    void perfWorksFromTheAcceptingSideAndWithZeroBytes() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        get(a.manager.connectToPeer(b.address()));
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections(a.id).size() == 1);
        PerfResult r = get(b.manager.perf(PeerAddress.of(a.id), 0, 1000, null));
        assertThat(r.uploadBytes()).isZero();
        assertThat(r.downloadBytes()).isEqualTo(1000);
    }

    @Test
    void perfAskingForMoreThanThePeerServesIsRefusedClearly() throws Exception {
        Node a = node("mem-a:100");
        Node b = node(Node.settings().maxPerfBytes(1024 * 1024), "mem-a:10");

        Throwable t = failure(a.manager.perf(b.address(), 10, 2L * 1024 * 1024, null));

        assertThat(t).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxPerfBytes=1048576").hasMessageContaining("2097152");
        assertThat(get(a.manager.ping(b.address())).rtt()).as("the pooled connection is unharmed").isPositive();
    }

    // ------------------------------------------------------------------ application streams

    @Test
    void openStreamReachesTheRegisteredHandler() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        List<String> calls = new CopyOnWriteArrayList<>();
        StreamHandler echo = (stream, protocol) -> {
            calls.add(protocol + " from " + stream.info().peerId());
            echo(stream);
        };
        b.manager.bindStreamHandler(echo, Map.of(StreamHandler.PROTOCOL, new String[] {"test/echo/1",
                "kizuna/perf/1"}, "service.id", 7L));

        Connection s = get(a.manager.openStream(b.address(), "test/echo/1"));
        get(s.write(ByteBuffer.wrap("hello, stream".getBytes(StandardCharsets.UTF_8))));
        get(s.shutdownOutput());
        assertThat(new String(readToEnd(s), StandardCharsets.UTF_8)).isEqualTo("hello, stream");
        assertThat(calls).containsExactly("test/echo/1 from " + a.id);
        assertThat(s.info().peerId()).isEqualTo(b.id);

        // The reserved name in the same registration was ignored: perf still works.
        assertThat(get(a.manager.perf(b.address(), 10, 10, null)).downloadBytes()).isEqualTo(10);
        b.manager.unbindStreamHandler(echo, Map.of());
        assertThat(failure(a.manager.openStream(b.address(), "test/echo/1")))
                .isInstanceOf(TransportException.UnsupportedProtocol.class);
    }

    @Test
    void openStreamForAProtocolNobodyServesIsUnsupportedProtocol() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        b.manager.bindStreamHandler((s, p) -> s.close(), Map.of(StreamHandler.PROTOCOL, "test/other/1"));

        Throwable t = failure(a.manager.openStream(b.address(), "test/unknown/1"));

        assertThat(t).isInstanceOf(TransportException.UnsupportedProtocol.class)
                .hasMessageContaining("test/unknown/1").hasMessageContaining("test/other/1");
        assertThat(failure(a.manager.openStream(b.address(), "kizuna/control/1")))
                .isInstanceOf(TransportException.UnsupportedProtocol.class).hasMessageContaining("reserved");
        assertThat(get(a.manager.ping(b.address())).rtt()).isPositive();
    }

    @Test
    void theHighestRankedHandlerWins() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        List<String> calls = new CopyOnWriteArrayList<>();
        b.manager.bindStreamHandler((s, p) -> {
            calls.add("low");
            s.close();
        }, Map.of(StreamHandler.PROTOCOL, "test/x/1", "service.ranking", 1, "service.id", 1L));
        b.manager.bindStreamHandler((s, p) -> {
            calls.add("high");
            s.close();
        }, Map.of(StreamHandler.PROTOCOL, List.of("test/x/1"), "service.ranking", 5, "service.id", 2L));
        Connection s = get(a.manager.openStream(b.address(), "test/x/1"));
        assertThat(readToEnd(s)).isEmpty();
        assertThat(calls).containsExactly("high");
    }

    @Test
    void onAMultiplexedConnectionStreamsOpenWithoutDialing() throws Exception {
        List<ConnectionManagerImpl> managers = new ArrayList<>();
        List<MuxTransport> muxes = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                var id = TestIds.newPeerId();
                ConnectionManagerImpl m = new ConnectionManagerImpl(Node.settings().listen("mux://127.0.0.1:0")
                        .idleTimeout(Duration.ofSeconds(1)).build(), id);
                MuxTransport t = new MuxTransport(new MemoryTransport(id, "mux", 100, 64 * 1024, 64, hub));
                m.bindTransport(t, Map.of());
                m.bindStreamHandler((s, p) -> echo(s), Map.of(StreamHandler.PROTOCOL, "test/echo/1"));
                managers.add(m);
                muxes.add(t);
            }
            ConnectionManagerImpl a = managers.get(0);
            ConnectionManagerImpl b = managers.get(1);
            get(a.connectToPeer(b.localAddress()));

            Connection s = get(a.openStream(b.localAddress(), "test/echo/1"));
            get(s.write(ByteBuffer.wrap("over a stream of the pooled connection".getBytes(StandardCharsets.UTF_8))));
            get(s.shutdownOutput());
            assertThat(new String(readToEnd(s), StandardCharsets.UTF_8))
                    .isEqualTo("over a stream of the pooled connection");
            assertThat(get(a.perf(b.localAddress(), 100_000, 200_000, null)).downloadBytes()).isEqualTo(200_000);
            await().atMost(Duration.ofSeconds(5)).until(() -> b.connections().size() == 1);
            // The acceptor opens streams on the connection it accepted, towards the dialer.
            Connection back = get(b.openStream(PeerAddress.of(a.localPeerId()), "test/echo/1"));
            assertThat(muxes.get(0).inner.dialCount() + muxes.get(1).inner.dialCount())
                    .as("only the pooled connection was dialed").isEqualTo(1);

            // A stream open on it keeps the pooled connection from idling out.
            String id = a.connections().get(0).id();
            await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5))
                    .until(() -> b.connections().size() == 1 && a.connections().get(0).id().equals(id));
            get(back.close());
            await().atMost(Duration.ofSeconds(5)).until(() -> a.connections().isEmpty());
        } finally {
            managers.forEach(ConnectionManagerImpl::deactivate);
            muxes.forEach(t -> t.inner.shutdown());
        }
    }

    // ------------------------------------------------------------------ transports coming and going

    @Test
    void aTransportThatLeavesClosesItsListenersAndConnectionsAndTheFarSideSeesAnOrderlyEnd() throws Exception {
        Node a = node("mem-a:100", "mem-b:50");
        Node b = node("mem-a:10", "mem-b:10");
        get(a.manager.connectToPeer(b.address("mem-a")));
        get(b.manager.connectToPeer(a.address("mem-b")));
        Connection farEnd = b.transport("mem-a").openConnections().get(0);
        PeerAddress oldEndpoint = a.address("mem-a");
        // A far side without a manager, to see exactly what arrives.
        RawPeer raw = RawPeer.dialer(hub, "mem-a");
        Connection rawEnd = raw.dial(oldEndpoint);
        RawPeer.write(rawEnd, RawPeer.frame(new ControlMessage.Open(ConnectionManagerImpl.CONTROL)));
        assertThat(RawPeer.read(rawEnd)).isInstanceOf(ControlMessage.OpenOk.class);
        RawPeer.write(rawEnd, RawPeer.frame(raw.hello(rawEnd)));
        assertThat(RawPeer.read(rawEnd)).isInstanceOf(ControlMessage.Hello.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> a.manager.connections(raw.id).size() == 1);

        a.remove("mem-a");

        assertThat(RawPeer.read(rawEnd)).isInstanceOfSatisfying(ControlMessage.GoAway.class,
                g -> assertThat(g.reason()).contains("mem-a"));
        assertThat(RawPeer.read(rawEnd)).as("then the end of stream").isNull();
        raw.close();

        assertThat(a.manager.connections()).extracting(ConnectionInfo::protocol).containsExactly("mem-b");
        assertThat(a.address().transportHints()).containsExactly("mem-b");
        get(farEnd.closeFuture()); // completes normally: an orderly end, not a failure
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().size() == 1);
        assertThat(failure(b.manager.connectToPeer(oldEndpoint))).isInstanceOf(
                TransportException.ConnectionFailed.class);
        assertThat(a.manager.negotiateProtocol(b.address()).candidates()).containsExactly("mem-b");

        // A new instance of the transport is used from the next dial on, and listens again.
        a.add("mem-a", 100);
        assertThat(a.address().transportHints()).contains("mem-a");
        assertThat(get(a.manager.connectToPeer(b.address("mem-a"))).protocol()).isEqualTo("mem-a");
        assertThat(get(b.manager.ping(a.address("mem-a"))).protocol()).isEqualTo("mem-a");
    }

    @Test
    void deactivationClosesEverythingGracefully() throws Exception {
        Node a = node("mem-a:100");
        Node b = node("mem-a:10");
        get(a.manager.connectToPeer(b.address()));
        Connection farEnd = b.transport("mem-a").openConnections().get(0);

        a.manager.deactivate();

        get(farEnd.closeFuture());
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.connections().isEmpty());
        assertThat(failure(a.manager.connectToPeer(b.address()))).hasMessageContaining("stopped");
    }

    @Test
    void aWildcardListenAddressIsAnnouncedAsLoopbackAndHostAddresses() throws Exception {
        Node a = node(Node.settings(), "mem-a:100");
        a.manager.unbindTransport(a.transport("mem-a"), Map.of());
        ConnectionManagerImpl m = new ConnectionManagerImpl(Node.settings().listen("mem-w://0.0.0.0:0").build(),
                a.id);
        try {
            MemoryTransport t = new MemoryTransport(a.id, "mem-w", 10, 1024, 16, hub);
            m.bindTransport(t, Map.of());
            long hostV4 = Addresses.hostAddresses().stream().filter(ip -> ip instanceof java.net.Inet4Address)
                    .count();
            // The host's addresses are listed in the background; then they are announced too.
            await().atMost(Duration.ofSeconds(5)).until(() -> m.localAddress().endpoints().size()
                    == 1 + Math.min(hostV4, 15));
            List<Endpoint> eps = m.localAddress().endpoints();
            assertThat(eps).isNotEmpty();
            assertThat(eps.get(0).address().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
            assertThat(eps).allSatisfy(e -> {
                assertThat(e.address().getAddress().isAnyLocalAddress()).isFalse();
                assertThat(e.address().getAddress().isLinkLocalAddress()).isFalse();
                assertThat(e.address().getPort()).isEqualTo(eps.get(0).address().getPort()).isPositive();
            });
            assertThat(get(m.startListening())).hasSize(1);
            t.shutdown();
        } finally {
            m.deactivate();
        }
    }

    @Test
    void startListeningReportsAnEndpointThatCannotBeBound() throws Exception {
        Node taken = node("mem-a:10");
        int port = taken.address().endpoints().get(0).address().getPort();
        ConnectionManagerImpl m = new ConnectionManagerImpl(Node.settings().listen("mem-a://127.0.0.1:" + port,
                "mem-b://127.0.0.1:0").build(), TestIds.newPeerId());
        MemoryTransport ta = new MemoryTransport(m.localPeerId(), "mem-a", 10, 1024, 16, hub);
        MemoryTransport tb = new MemoryTransport(m.localPeerId(), "mem-b", 10, 1024, 16, hub);
        try {
            m.bindTransport(ta, Map.of());
            m.bindTransport(tb, Map.of());
            Throwable t = failure(m.startListening());
            assertThat(t).isInstanceOf(TransportException.Io.class)
                    .hasMessageContaining("mem-a://127.0.0.1:" + port).hasMessageContaining("in use")
                    .hasMessageContaining("mem-b://127.0.0.1:");
            assertThat(m.localAddress().transportHints()).containsExactly("mem-b");
        } finally {
            m.deactivate();
            ta.shutdown();
            tb.shutdown();
        }
    }

    // ------------------------------------------------------------------ metrics and JMX

    @Test
    void metricsCountConnectionsFailuresAndBytesPerPeerAndPerProtocol() throws Exception {
        Node a = node("mem-a:200", "mem-b:100");
        Node b = node("mem-a:10", "mem-b:10");
        a.transport("mem-a").failDials("down for the test");
        get(a.manager.connectToPeer(b.address()));
        get(a.manager.ping(b.address()));

        ConnectionMetrics all = a.manager.metrics();
        assertThat(all.established()).isEqualTo(1);
        assertThat(all.failed()).isEqualTo(1);
        assertThat(all.active()).isEqualTo(1);
        assertThat(all.bytesSent()).isPositive();
        assertThat(all.bytesReceived()).isPositive();
        assertThat(all.protocolUsage()).isEqualTo(Map.of("mem-b", 1L));
        assertThat(a.manager.metrics(b.id)).isEqualTo(all);
        Map<String, ConnectionMetrics> byProtocol = a.manager.metricsByProtocol();
        assertThat(byProtocol.get("mem-a").failed()).isEqualTo(1);
        assertThat(byProtocol.get("mem-a").established()).isZero();
        assertThat(byProtocol.get("mem-b").established()).isEqualTo(1);
        assertThat(byProtocol.get("mem-b").active()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> b.manager.metrics().established() == 1);
        assertThat(a.manager.metrics(TestIds.randomPeerId()).established()).isZero();

        get(a.manager.disconnect(b.id));
        await().atMost(Duration.ofSeconds(5)).until(() -> a.manager.metrics().active() == 0);
        ConnectionMetrics after = a.manager.metrics();
        assertThat(after.established()).isEqualTo(1);
        assertThat(after.bytesSent()).as("bytes of closed connections are kept")
                .isGreaterThanOrEqualTo(all.bytesSent());
    }

    @Test
    void theMBeanShowsTheMetricsAndLeavesWithTheManager() throws Exception {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = new ObjectName(ManagerSettings.DEFAULT_JMX_NAME);
        Node a = node(Node.settings().jmxName(ManagerSettings.DEFAULT_JMX_NAME), "mem-a:100");
        Node b = node("mem-a:10");
        assertThat(a.manager.mbeanName()).isEqualTo(name);
        get(a.manager.connectToPeer(b.address()));
        get(a.manager.ping(b.address()));

        assertThat(server.getAttribute(name, "Established")).isEqualTo(1L);
        assertThat(server.getAttribute(name, "Failed")).isEqualTo(0L);
        assertThat(server.getAttribute(name, "Active")).isEqualTo(1L);
        assertThat((Long) server.getAttribute(name, "BytesSent")).isPositive();
        assertThat((Long) server.getAttribute(name, "BytesReceived")).isPositive();
        assertThat((Double) server.getAttribute(name, "AverageLatencyMillis")).isPositive();
        assertThat(server.getAttribute(name, "PeerId")).isEqualTo(a.id.toString());
        assertThat(server.getAttribute(name, "ProtocolViolations")).isEqualTo(0L);
        TabularData usage = (TabularData) server.getAttribute(name, "ProtocolUsage");
        assertThat(usage.get(new Object[] {"mem-a"}).get("value")).isEqualTo(1L);
        assertThat((String[]) server.getAttribute(name, "ListenEndpoints")).hasSize(1);
        assertThat((String[]) server.getAttribute(name, "Transports")).hasSize(1);

        a.manager.deactivate();
        assertThat(server.isRegistered(name)).isFalse();
    }

    // ------------------------------------------------------------------ helpers

    /** Echoes what the stream brings until its end, then half-closes. */
    static void echo(Connection s) {
        ByteBuffer buf = ByteBuffer.allocate(1024);
        Async.loop(() -> {
            buf.clear();
            return s.read(buf).thenCompose(n -> {
                if (n < 0) {
                    return s.shutdownOutput().thenApply(v -> false);
                }
                buf.flip();
                return s.write(buf).thenApply(v -> true);
            });
        });
    }

    static byte[] readToEnd(Connection c) throws Exception {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(4096);
        while (true) {
            buf.clear();
            int n = get(c.read(buf));
            if (n < 0) {
                return out.toByteArray();
            }
            out.write(buf.array(), 0, n);
        }
    }
}
