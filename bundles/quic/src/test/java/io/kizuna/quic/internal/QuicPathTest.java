package io.kizuna.quic.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What happens on the path between a QUIC client and a listener, through a UDP
 * relay on loopback: a source that sends one Initial and goes silent.
 */
class QuicPathTest {

    private static final int MIB = 1024 * 1024;

    private QuicTransport server;
    private QuicTransport client;
    private UdpProxy proxy;

    @AfterEach
    void stop() throws Exception {
        if (proxy != null) {
            proxy.close();
        }
        if (client != null) {
            client.deactivate();
        }
        if (server != null) {
            server.deactivate();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aSpoofedInitialGetsOnlyARetry() throws Exception {
        // A source that sends one Initial and never answers, as a victim whose address was spoofed: the
        // listener answers with a Retry (its token bound to that address) and does no handshake work, so it
        // sends far less than the 3x of RFC 9000 §8.1 back.
        server = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        client = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        Listener listener = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0), c -> { })
                .toCompletableFuture().get(10, SECONDS);
        proxy = new UdpProxy(listener.localAddress(), 0);
        proxy.passOnlyFirst(1); // the client's first Initial reaches the listener; nothing after it does
        PeerAddress viaProxy = PeerAddress.of(server.identity().peerId(), new Endpoint("quic", proxy.address()));
        CompletableFuture<Connection> dial = client.connect(viaProxy, Duration.ofSeconds(2)).toCompletableFuture();
        try {
            dial.get(10, SECONDS);
        } catch (ExecutionException expected) {
            // the handshake cannot finish: the listener never hears from the client again
        }
        // a listener that had started its handshake would retransmit its first flight within a second or two
        TimeUnit.SECONDS.sleep(2);
        long in = proxy.clientBytes();
        long out = proxy.serverBytes();
        assertThat(in).as("bytes the listener received").isEqualTo(1200);
        assertThat(out).as("bytes the listener sent to the unvalidated address").isPositive()
                .isLessThanOrEqualTo(3 * in);
        assertThat(server.retryTokenCounts()[0]).as("Retry tokens minted").isEqualTo(1);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void withoutRetryTheListenerStillSendsAtMostThreeTimesWhatItReceived() throws Exception {
        // The same silent source, against a listener that does the handshake at once: it sends its whole first
        // flight (certificate included) and would retransmit it on every probe timeout (quiche alone sent 5,721
        // bytes within 4 s), but the listener's guard holds it to 3x the bytes it received from the unvalidated
        // address (RFC 9000 §8.1), so a spoofed source cannot use it as an amplifier.
        server = new QuicTransport(Identities.generate(), QuicSettings.defaults().withRetry(false));
        client = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        Listener listener = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0), c -> { })
                .toCompletableFuture().get(10, SECONDS);
        proxy = new UdpProxy(listener.localAddress(), 0);
        proxy.passOnlyFirst(1);
        PeerAddress viaProxy = PeerAddress.of(server.identity().peerId(), new Endpoint("quic", proxy.address()));
        CompletableFuture<Connection> dial = client.connect(viaProxy, Duration.ofSeconds(2)).toCompletableFuture();
        try {
            dial.get(10, SECONDS);
        } catch (ExecutionException expected) {
            // the handshake cannot finish: the listener never hears from the client again
        }
        // the listener's probe timeouts (about 1 s, then doubling) retransmit at about 1, 3 and 7 s
        TimeUnit.SECONDS.sleep(10);
        long in = proxy.clientBytes();
        long out = proxy.serverBytes();
        assertThat(in).as("bytes the listener received").isEqualTo(1200);
        assertThat(out).as("bytes the listener sent to the unvalidated address")
                .isGreaterThan(in) // its first flight, certificate and all: it did start the handshake
                .isLessThanOrEqualTo(3 * in);
        assertThat(server.retryTokenCounts()[0]).as("Retry tokens minted").isZero();
        assertThat(server.amplificationDroppedBytes()).as("probe bytes held back by the guard").isPositive();
    }
}
