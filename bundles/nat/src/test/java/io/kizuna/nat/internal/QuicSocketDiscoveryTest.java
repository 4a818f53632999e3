package io.kizuna.nat.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.command.NetcheckCommand;
import io.kizuna.quic.internal.NatTestQuic;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.Transport;
import io.kizuna.transport.udp.DatagramReceiver;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * Discovery on the QUIC listener's socket, against the project's own STUN
 * server on loopback: the server sees the requests come from the listener's
 * port, netcheck says which socket it used, discovery falls back to a socket of
 * its own without QUIC, and QUIC connections on that listener carry data while
 * STUN flows on the same socket.
 */
@Timeout(60)
class QuicSocketDiscoveryTest {

    /** Slack for a cold JVM on a loaded machine: the very first answer took 195 ms here (later ones 1-7 ms). */
    private static final StunClient.Timing PATIENT = new StunClient.Timing(Duration.ofMillis(100), 5, 16);

    private Transport quic;
    private Transport dialer;
    private StunServer server;
    private NatService service;

    @AfterEach
    void stop() {
        if (service != null) {
            service.deactivate();
        }
        for (Transport t : new Transport[] {dialer, quic}) {
            if (t != null) {
                NatTestQuic.stop(t);
            }
        }
        if (server != null) {
            server.close();
        }
    }

    private Listener listen(NodeIdentity identity) throws Exception {
        quic = NatTestQuic.start(identity);
        return NatTestQuic.listen(quic, new InetSocketAddress("127.0.0.1", 0), QuicSocketDiscoveryTest::echo)
                .toCompletableFuture().get(10, SECONDS);
    }

    private void stunServer() throws Exception {
        InetAddress b = InetAddress.getByName("127.0.0.2");
        server = new StunServer(new InetSocketAddress("127.0.0.1", 0), b, StunClientServerTest.freePort(b));
    }

    @Test
    void theStunServerSeesTheQuicListenersPortAndNetcheckSaysSo() throws Exception {
        Listener listener = listen(Identities.generate());
        SharedUdpSocket shared = NatTestQuic.sharedSocket(listener);
        stunServer();
        service = NatServices.create(List.of(server.primary()), PATIENT);
        service.addSocket(shared);

        NatDiscovery.Report report = service.check(List.of()).get(30, SECONDS).get(0);
        assertThat(report.reflexive()).as("the source the STUN server saw; " + report)
                .contains(listener.localAddress());
        assertThat(report.quicSocket()).isTrue();
        assertThat(report.type()).as("every RFC 5780 test ran over the QUIC socket").isEqualTo(NatType.OPEN);
        assertThat(report.failures()).isEmpty();
        assertThat(shared.counters().sent()).isPositive();
        assertThat(shared.counters().delivered()).isPositive();
        String out = new NetcheckCommand(service).netcheck();
        assertThat(out).contains("socket: the QUIC listener's",
                "from the QUIC listener's socket 127.0.0.1:" + listener.localAddress().getPort());
        assertThat(service.reflexiveAddress().toCompletableFuture().get(30, SECONDS)).contains(listener.localAddress());
        assertThat(service.knownReflexive()).as("kept for the punch engine's candidates")
                .contains(listener.localAddress());

        service.removeSocket(shared); // the quic transport stopped listening
        NatDiscovery.Report own = service.check(List.of()).get(30, SECONDS).get(0);
        assertThat(service.knownReflexive()).as("gone with the QUIC socket").isEmpty();
        assertThat(own.quicSocket()).isFalse();
        assertThat(own.socket()).startsWith("its own socket").contains("no QUIC listener here");
        assertThat(own.reflexive()).isPresent();
        assertThat(own.reflexive().get().getPort()).isNotEqualTo(listener.localAddress().getPort());
        assertThat(new NetcheckCommand(service).netcheck()).contains("socket: discovery's own",
                "from its own socket 0.0.0.0:");
    }

    @Test
    void aQuicConnectionOnTheListenerCarriesDataWhileStunFlows() throws Exception {
        NodeIdentity identity = Identities.generate();
        Listener listener = listen(identity);
        SharedUdpSocket shared = NatTestQuic.sharedSocket(listener);
        stunServer();

        // one binding after another, 2 ms apart: well under the socket's send rate bound
        AtomicInteger answered = new AtomicInteger();
        AtomicBoolean transferring = new AtomicBoolean(true);
        List<Throwable> failed = new java.util.concurrent.CopyOnWriteArrayList<>();
        StunClient client = new StunClient(shared, PATIENT);
        ScheduledExecutorService pace = Executors.newSingleThreadScheduledExecutor();
        Runnable[] next = new Runnable[1];
        next[0] = () -> client.binding(server.primary(), List.of()).whenComplete((r, e) -> {
            if (!transferring.get()) {
                return; // closing the client at the end fails the one still waiting
            }
            if (e != null) {
                failed.add(e);
            } else if (!r.mapped().equals(listener.localAddress())) {
                failed.add(new AssertionError("mapped " + r.mapped()));
            } else {
                answered.incrementAndGet();
            }
            pace.schedule(next[0], 2, TimeUnit.MILLISECONDS);
        });
        pace.execute(next[0]);

        dialer = NatTestQuic.start(Identities.generate());
        Connection c = dialer.connect(PeerAddress.of(identity.peerId(), new Endpoint("quic", listener.localAddress())),
                Duration.ofSeconds(10)).toCompletableFuture().get(15, SECONDS);
        byte[] data = new byte[8 * 1024 * 1024];
        new Random(7).nextBytes(data);
        CompletableFuture<byte[]> back = CompletableFuture.supplyAsync(() -> readAll(c, data.length));
        for (int at = 0; at < data.length; at += 64 * 1024) {
            await(c.write(ByteBuffer.wrap(data, at, 64 * 1024)));
        }
        await(c.shutdownOutput());
        byte[] echoed;
        java.util.Map<StunClient.Drop, Long> drops;
        try {
            echoed = back.get(30, SECONDS);
            drops = client.drops();
        } finally {
            transferring.set(false);
            pace.shutdownNow();
            client.close();
        }

        assertThat(MessageDigest.getInstance("SHA-256").digest(echoed))
                .isEqualTo(MessageDigest.getInstance("SHA-256").digest(data));
        assertThat(answered.get()).as("STUN transactions answered on the same socket meanwhile").isGreaterThan(5);
        System.out.println("STUN transactions answered during the 8 MiB echo: " + answered.get());
        assertThat(failed).as("STUN transactions that failed").isEmpty();
        // a QUIC packet handed to the STUN client would be dropped there for its length or cookie: none was
        assertThat(drops.get(StunClient.Drop.BAD_LENGTH) + drops.get(StunClient.Drop.BAD_COOKIE)).isZero();
        assertThat(shared.counters().overRate()).isZero();
    }

    @Test
    void onlyASocketThatCanReachTheServerIsChosen() {
        SharedUdpSocket loopback = socket("127.0.0.1", 7400);
        SharedUdpSocket any = socket("0.0.0.0", 7401);
        SharedUdpSocket any6 = socket("::", 7402);
        SharedUdpSocket six = socket("2001:db8::5", 7403);
        // no datagram is sent: choosing only compares addresses
        InetSocketAddress publicServer = new InetSocketAddress("203.0.113.1", 3478);
        InetSocketAddress loopbackServer = new InetSocketAddress("127.0.0.1", 3478);

        assertThat(NatService.choose(List.of(), publicServer).whyOwn()).contains("no QUIC listener here");
        NatService.Choice none = NatService.choose(List.of(loopback, six), publicServer);
        assertThat(none.shared()).isNull();
        assertThat(none.whyOwn()).contains("127.0.0.1:7400", "[2001:db8:0:0:0:0:0:5]:7403",
                "cannot reach 203.0.113.1:3478");
        assertThat(NatService.choose(List.of(loopback, any6), publicServer).shared())
                .as("the IPv6 wildcard is dual-stack, as Netty's epoll binds 0.0.0.0").isSameAs(any6);
        assertThat(NatService.choose(List.of(loopback, any), publicServer).shared()).isSameAs(any);
        assertThat(NatService.choose(List.of(loopback, any), loopbackServer).shared()).as("wildcard first")
                .isSameAs(any);
        assertThat(NatService.choose(List.of(loopback), loopbackServer).shared()).isSameAs(loopback);
        assertThat(NatService.choose(List.of(any, any6), new InetSocketAddress("2001:db8::1", 3478)).shared())
                .isSameAs(any6);
    }

    @Test
    void aSocketThatTakesNoMoreReceiversFailsTheCheckWithTheReason() throws Exception {
        service = NatServices.create(List.of(new InetSocketAddress("127.0.0.1", 3478)), PATIENT);
        service.addSocket(socket("127.0.0.1", 7400));
        NatDiscovery.Report report = service.check(List.of()).get(10, SECONDS).get(0);
        assertThat(report.quicSocket()).isTrue();
        assertThat(report.reflexive()).isEmpty();
        assertThat(report.failures()).singleElement().asString().contains("cannot receive", "8 receivers");
    }

    /** A socket that is never sent through, and that has no room for another receiver. */
    private static SharedUdpSocket socket(String ip, int port) {
        InetSocketAddress a = new InetSocketAddress(ip, port);
        return new SharedUdpSocket() {
            @Override
            public InetSocketAddress localAddress() {
                return a;
            }

            @Override
            public Endpoint endpoint() {
                return new Endpoint("quic", a);
            }

            @Override
            public CompletionStage<Void> send(InetSocketAddress to, byte[] data) {
                throw new AssertionError("choosing a socket sends nothing");
            }

            @Override
            public Runnable receive(DatagramReceiver receiver) {
                throw new IllegalStateException("the socket has 8 receivers, as many as it takes");
            }

            @Override
            public Counters counters() {
                return new Counters(0, 0, 0, 0, 0, 0, 0, 0);
            }
        };
    }

    private static void echo(Connection c) {
        CompletableFuture.runAsync(() -> {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            try {
                while (true) {
                    buf.clear();
                    int r = await(c.read(buf));
                    if (r < 0) {
                        await(c.shutdownOutput());
                        return;
                    }
                    buf.flip();
                    await(c.write(buf));
                }
            } catch (Exception e) {
                c.close();
            }
        });
    }

    private static byte[] readAll(Connection c, int n) {
        ByteBuffer buf = ByteBuffer.allocate(n);
        try {
            while (buf.hasRemaining()) {
                if (await(c.read(buf)) < 0) {
                    break;
                }
            }
        } catch (Exception e) {
            throw new IllegalStateException("reading the echo after " + buf.position() + " bytes", e);
        }
        return java.util.Arrays.copyOf(buf.array(), buf.position());
    }

    private static <T> T await(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(20, SECONDS);
    }
}
