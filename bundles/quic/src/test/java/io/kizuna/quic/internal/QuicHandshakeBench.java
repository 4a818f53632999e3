package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;

/**
 * Benchmark, not a test: time from {@code connect} to the answer of a 1-byte
 * echo on the new connection, on loopback, for a first QUIC handshake, a
 * resumed one, and a resumed one with 0-RTT, against a listener that sends
 * Retry (the default) and one that does not. Prints one line per kind:
 * {@code kind median-ms min-ms max-ms runs}.
 *
 * <p>Run by {@code itests/bench/quic-handshake}.
 */
public final class QuicHandshakeBench {

    private QuicHandshakeBench() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        measure("", QuicSettings.defaults(), runs);
        measure("-noretry", QuicSettings.defaults().withRetry(false), runs);
    }

    private static void measure(String suffix, QuicSettings listenerSettings, int runs) throws Exception {
        QuicTransport server = new QuicTransport(Identities.generate(), listenerSettings);
        Listener listener = server.listen(new InetSocketAddress("127.0.0.1", 0), QuicHandshakeBench::echoOne)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        PeerAddress address = PeerAddress.of(server.identity().peerId(), listener.endpoint());
        QuicTransport resuming = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        QuicTransport early = new QuicTransport(Identities.generate(), QuicSettings.defaults().withEarlyData(true));
        try {
            // warm-up: JIT, and a ticket for each resuming client
            for (int i = 0; i < 20; i++) {
                roundTrip(resuming, address);
                roundTrip(early, address);
            }
            List<Double> full = new ArrayList<>();
            List<Double> resumed = new ArrayList<>();
            List<Double> zeroRtt = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                QuicTransport fresh = new QuicTransport(Identities.generate(), QuicSettings.defaults());
                try {
                    full.add(roundTrip(fresh, address));
                } finally {
                    fresh.deactivate();
                }
                resumed.add(roundTrip(resuming, address));
                zeroRtt.add(roundTrip(early, address));
            }
            print("full" + suffix, full);
            print("resumed" + suffix, resumed);
            print("0-rtt" + suffix, zeroRtt);
        } finally {
            resuming.deactivate();
            early.deactivate();
            server.deactivate();
        }
    }

    /** @return milliseconds from connect to the echoed byte */
    private static double roundTrip(QuicTransport client, PeerAddress address) throws Exception {
        long start = System.nanoTime();
        Connection c = client.connect(address, Duration.ofSeconds(10)).toCompletableFuture().get(10, TimeUnit.SECONDS);
        c.write(ByteBuffer.wrap(new byte[] {1})).toCompletableFuture().get(10, TimeUnit.SECONDS);
        ByteBuffer one = ByteBuffer.allocate(1);
        int n = c.read(one).toCompletableFuture().get(10, TimeUnit.SECONDS);
        long end = System.nanoTime();
        if (n != 1 || one.get(0) != 1) {
            throw new IllegalStateException("echo answered " + n + " bytes");
        }
        c.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return (end - start) / 1e6;
    }

    private static void echoOne(Connection c) {
        ByteBuffer one = ByteBuffer.allocate(1);
        c.read(one).thenCompose(n -> c.write(one.flip())).whenComplete((v, e) -> c.shutdownOutput());
    }

    private static void print(String kind, List<Double> ms) {
        List<Double> sorted = new ArrayList<>(ms);
        Collections.sort(sorted);
        System.out.printf("%s %.2f %.2f %.2f %d%n", kind, sorted.get(sorted.size() / 2), sorted.get(0),
                sorted.get(sorted.size() - 1), sorted.size());
    }
}
