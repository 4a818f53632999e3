package io.kizuna.relay.internal;

import static java.util.concurrent.TimeUnit.SECONDS;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;

import io.kizuna.core.internal.memory.RelayTestPipes;
import io.kizuna.identity.Identities;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;

/**
 * A relay server fed in-memory streams whose source addresses the test picks
 * (documentation ranges only; nothing leaves the JVM), for limits that count by
 * source address.
 */
final class ServerHarness implements AutoCloseable {

    final RelayServer server;
    final PeerId relay = Identities.generate().peerId();
    private final ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1);
    private final ExecutorService pool = Executors.newFixedThreadPool(2);

    ServerHarness(RelaySettings settings) {
        timer.setRemoveOnCancelPolicy(true);
        server = new RelayServer(settings, timer, pool, Splice.Tap.NONE);
    }

    /**
     * @param peer the PeerId the stream is authenticated as
     * @param ip   the source address the relay sees
     * @return the peer's end of a new relay stream the server serves
     */
    Connection stream(PeerId peer, String ip) {
        Connection[] p = RelayTestPipes.pair(peer, new InetSocketAddress(ip, 40000), relay,
                new InetSocketAddress("198.51.100.1", 7400));
        server.handle(p[1]);
        return p[0];
    }

    /** Sends a message, then reads the answer. */
    static RelayMessage ask(Connection c, RelayMessage m) throws Exception {
        return get(RelayCodec.write(c, m).thenCompose(v -> RelayCodec.read(c)));
    }

    static <T> T get(CompletionStage<T> s) throws Exception {
        return s.toCompletableFuture().get(10, SECONDS);
    }

    /** @return a reservation stream for a new peer from {@code ip}, RESERVED already read */
    Connection reserve(PeerId peer, String ip) throws Exception {
        Connection c = stream(peer, ip);
        RelayMessage m = ask(c, new RelayMessage.Reserve(new byte[0]));
        if (!(m instanceof RelayMessage.Reserved)) {
            throw new AssertionError("not reserved: " + m);
        }
        return c;
    }

    @Override
    public void close() throws Exception {
        server.close().toCompletableFuture().get(5, SECONDS);
        timer.shutdownNow();
        pool.shutdownNow();
    }
}
