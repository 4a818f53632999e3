package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.tcp.internal.RelayTestTcp;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.tls.NettyTls;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The end-to-end TLS of a circuit, over a plain stream standing in for the
 * relay's splice (a TCP connection between two other identities). The circuits
 * run TLS on OpenSSL here, on the JDK's engine in {@link CircuitConnectionJdkTest}.
 */
class CircuitConnectionTest {

    /** @return the circuits' TLS engine */
    NettyTls engine() {
        return RelayTestTls.openssl();
    }

    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private Transport hopA;
    private Transport hopB;
    private Connection streamA;
    private Connection streamB;
    private final Endpoint.Hop hop = new Endpoint.Hop(Identities.generate().peerId(), "tcp");

    @BeforeEach
    void pair() throws Exception {
        NodeIdentity a = Identities.generate();
        NodeIdentity b = Identities.generate();
        hopA = RelayTestTcp.start(a);
        hopB = RelayTestTcp.start(b);
        LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = hopB.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        streamA = hopA.connect(PeerAddress.of(b.peerId(), l.endpoint()), Duration.ofSeconds(10))
                .toCompletableFuture().get(10, SECONDS);
        streamB = accepted.poll(10, SECONDS);
    }

    @AfterEach
    void stop() {
        RelayTestTcp.stop(hopA);
        RelayTestTcp.stop(hopB);
        pool.shutdownNow();
        timer.shutdownNow();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void anAcceptedCircuitNamesTheAddressThisNodeSawNotTheOneTheRelayClaims() throws Exception {
        NodeIdentity dialer = Identities.generate();
        NodeIdentity target = Identities.generate();
        CompletableFuture<CircuitConnection> out = CircuitConnection.dial(streamA, dialer, engine(), target.peerId(), hop,
                pool).toCompletableFuture();
        CircuitConnection i = CircuitConnection.accept(streamB, target, engine(), dialer.peerId(),
                new InetSocketAddress("203.0.113.9", 4000), hop, pool, timer, Duration.ofSeconds(10))
                .toCompletableFuture().get(10, SECONDS);
        out.get(10, SECONDS);
        assertThat(i.info().remoteAddress()).isEqualTo(streamB.info().remoteAddress());
        assertThat(i.info().via()).contains(hop);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aDialerThatNeverSendsAClientHelloIsDroppedInBoundedTime() throws Exception {
        NodeIdentity dialer = Identities.generate();
        NodeIdentity target = Identities.generate();
        long start = System.nanoTime();
        CompletableFuture<CircuitConnection> in = CircuitConnection.accept(streamB, target, engine(), dialer.peerId(),
                new InetSocketAddress("127.0.0.1", 1), hop, pool, timer, Duration.ofMillis(500))
                .toCompletableFuture();
        // The other end of the spliced stream says nothing at all.
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> in.get(10, SECONDS));
        assertThat(e.getCause()).isInstanceOf(TransportException.ConnectionTimeout.class)
                .hasMessageContaining(dialer.peerId().toString());
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        // The stream is given up: the silent end sees it close.
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        int n = 0;
        while (n >= 0) {
            n = streamA.read(b.clear()).toCompletableFuture().handle((r, x) -> x != null ? -1 : r).get(10, SECONDS);
        }
        streamB.closeFuture().toCompletableFuture().handle((v, x) -> null).get(10, SECONDS);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void peersAuthenticateEachOtherAndExchangeBytes() throws Exception {
        NodeIdentity dialer = Identities.generate();
        NodeIdentity target = Identities.generate();
        CompletableFuture<CircuitConnection> out = CircuitConnection.dial(streamA, dialer, engine(), target.peerId(), hop,
                pool).toCompletableFuture();
        CompletableFuture<CircuitConnection> in = CircuitConnection.accept(streamB, target, engine(), dialer.peerId(),
                new InetSocketAddress("127.0.0.1", 1), hop, pool, timer, Duration.ofSeconds(10)).toCompletableFuture();
        CircuitConnection o = out.get(10, SECONDS);
        CircuitConnection i = in.get(10, SECONDS);
        assertThat(o.info().peerId()).isEqualTo(target.peerId());
        assertThat(i.info().peerId()).isEqualTo(dialer.peerId());
        assertThat(o.info().via()).contains(hop);
        assertThat(NettyTls.isOpenSsl(o.engine())).as("the circuit's TLS engine is OpenSSL's")
                .isEqualTo(engine().isOpenSsl());
        assertThat(NettyTls.isOpenSsl(i.engine())).isEqualTo(engine().isOpenSsl());

        o.write(ByteBuffer.wrap("hello through the circuit".getBytes(StandardCharsets.UTF_8))).toCompletableFuture()
                .get(10, SECONDS);
        o.shutdownOutput().toCompletableFuture().get(10, SECONDS);
        ByteBuffer got = ByteBuffer.allocate(100);
        while (true) {
            int n = i.read(got).toCompletableFuture().get(10, SECONDS);
            if (n < 0) {
                break;
            }
        }
        assertThat(new String(got.array(), 0, got.position(), StandardCharsets.UTF_8))
                .isEqualTo("hello through the circuit");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aPeerWithAnotherKeyIsRefusedNamingBothAndNeverAccepts() throws Exception {
        NodeIdentity dialer = Identities.generate();
        NodeIdentity impostor = Identities.generate();
        NodeIdentity expected = Identities.generate();
        CompletableFuture<CircuitConnection> out = CircuitConnection.dial(streamA, dialer, engine(), expected.peerId(), hop,
                pool).toCompletableFuture();
        CompletableFuture<CircuitConnection> in = CircuitConnection.accept(streamB, impostor, engine(), dialer.peerId(),
                new InetSocketAddress("127.0.0.1", 1), hop, pool, timer, Duration.ofSeconds(10)).toCompletableFuture();

        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> out.get(10, SECONDS));
        assertThat(e.getCause()).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
        TransportException.PeerAuthenticationFailed f = (TransportException.PeerAuthenticationFailed) e.getCause();
        assertThat(f.expected()).isEqualTo(expected.peerId());
        assertThat(f.presented()).isEqualTo(impostor.peerId());
        assertThat(f.getMessage()).contains(expected.peerId().toString()).contains(impostor.peerId().toString());
        // The impostor's side never completes a handshake, so it never reaches an application.
        assertThat(in).failsWithin(Duration.ofSeconds(10));
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void closingAfterTheTransportStoppedReturnsAndCompletes() throws Exception {
        NodeIdentity dialer = Identities.generate();
        NodeIdentity target = Identities.generate();
        ExecutorService own = Executors.newFixedThreadPool(1);
        CompletableFuture<CircuitConnection> out = CircuitConnection.dial(streamA, dialer, engine(), target.peerId(), hop,
                own).toCompletableFuture();
        CompletableFuture<CircuitConnection> in = CircuitConnection.accept(streamB, target, engine(), dialer.peerId(),
                new InetSocketAddress("127.0.0.1", 1), hop, pool, timer, Duration.ofSeconds(10)).toCompletableFuture();
        CircuitConnection o = out.get(10, SECONDS);
        in.get(10, SECONDS);

        own.shutdownNow(); // as the relay transport's deactivate does with its pool
        // A WebRTC peer closes its signaling stream once more at shutdown: that must neither throw nor hang.
        o.close().toCompletableFuture().get(10, SECONDS);
        assertThat(o.closeFuture()).isCompleted();
        assertThat(o.isConnected()).isFalse();
        o.close().toCompletableFuture().get(10, SECONDS);
    }
}
