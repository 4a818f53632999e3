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
 * relay on loopback: the client's port changing in mid-transfer (what a NAT
 * rebinding does), and a source that sends one Initial and goes silent.
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
    @Timeout(value = 120, unit = SECONDS)
    void transferSurvivesTheClientsPortChangingMidway() throws Exception {
        server = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        client = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = server.listen(new java.net.InetSocketAddress("127.0.0.1", 0), accepted::add)
                .toCompletableFuture().get(10, SECONDS);
        proxy = new UdpProxy(listener.localAddress(), 0);
        PeerAddress viaProxy = PeerAddress.of(server.identity().peerId(), new Endpoint("quic", proxy.address()));
        Connection out = client.connect(viaProxy, Duration.ofSeconds(10)).toCompletableFuture().get(20, SECONDS);
        Connection in = accepted.poll(20, SECONDS);
        assertThat(in).isNotNull();
        int portBefore = proxy.serverFacingPort();

        long total = 64L * MIB;
        AtomicLong received = new AtomicLong();
        CompletableFuture<byte[]> digestIn = CompletableFuture.supplyAsync(() -> readAll(in, received));
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        SplittableRandom data = new SplittableRandom(7);
        byte[] chunk = new byte[64 * 1024];
        boolean moved = false;
        for (long written = 0; written < total; written += chunk.length) {
            for (int i = 0; i < chunk.length; i += 8) {
                long v = data.nextLong();
                for (int k = 0; k < 8; k++) {
                    chunk[i + k] = (byte) (v >>> (8 * k));
                }
            }
            sent.update(chunk);
            out.write(ByteBuffer.wrap(chunk)).toCompletableFuture().get(20, SECONDS);
            if (!moved && received.get() >= 16L * MIB) {
                proxy.rebind(); // from here on the listener sees the client at another port
                moved = true;
            }
        }
        out.shutdownOutput().toCompletableFuture().get(20, SECONDS);

        assertThat(digestIn.get(60, SECONDS)).as("SHA-256 of what arrived").isEqualTo(sent.digest());
        assertThat(received.get()).isEqualTo(total);
        assertThat(moved).as("the port changed during the transfer").isTrue();
        assertThat(proxy.serverFacingPort()).isNotEqualTo(portBefore);
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

    private static byte[] readAll(Connection c, AtomicLong received) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (true) {
                buf.clear();
                int n = c.read(buf).toCompletableFuture().get(30, SECONDS);
                if (n < 0) {
                    return d.digest();
                }
                d.update(buf.array(), 0, n);
                received.addAndGet(n);
            }
        } catch (Exception e) {
            throw new IllegalStateException("reading the transfer failed after " + received.get() + " bytes", e);
        }
    }
}
