package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.Transport;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.wiring.BundleRevision;

/**
 * The WebSocket transport inside Felix, against a runtime node listening on TCP
 * and WebSocket: wss connects when the address names only websocket, carries
 * streams (one connection each, as TCP), the shell's ping and perf run over it
 * with {@code -t websocket}, and the bundle can be stopped, started and updated
 * while the node runs, tcp carrying on meanwhile.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class WebSocketIT {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration BACK_WITHIN = Duration.ofSeconds(1);
    private static final String LISTEN = "tcp://127.0.0.1:0,websocket://127.0.0.1:0";
    private static final String WS_FILTER = "(" + Transport.PROTOCOL + "=websocket)";

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("websocket", LISTEN)};
    }

    @Test(timeout = 180_000)
    public void websocketCarriesStreamsPingAndPerf() throws Exception {
        Transport ws = context.getService(Itest.awaitService(context, Transport.class, WS_FILTER, WAIT));
        assertTrue("websocket available in Felix: " + ws.unavailableReason(), ws.isAvailable());
        assertTrue("websocket below tcp", ws.priority() < 100);

        try (RemoteNode remote = RemoteNode.start("websocket-remote", LISTEN)) {
            PeerAddress peer = remote.address();
            assertTrue("the remote node listens on websocket: " + peer, !peer.endpoints("websocket").isEmpty());
            join(manager.connectToPeer(peer.only("websocket")), WAIT, "connecting over websocket to " + remote);
            PingResult ping = join(manager.ping(peer), WAIT, "pinging " + remote);
            assertEquals("the pooled websocket connection carries the ping", "websocket", ping.protocol());

            List<Connection> streams = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Connection s = join(manager.openStream(peer, Itest.ECHO), WAIT, "echo stream " + i);
                assertEquals("websocket", s.info().protocol());
                streams.add(s);
            }
            for (Connection s : streams) {
                Streams.echo(s, 256 * 1024);
            }

            String transports = Gogo.run(context, "kizuna:transports").ok();
            assertTrue("kizuna:transports lists websocket available:\n" + transports,
                    transports.matches("(?s).*\\bwebsocket\\s+50\\s+available\\b.*"));
            String ping2 = Gogo.run(context, "kizuna:ping -t websocket " + peer + " 3").ok();
            assertTrue("kizuna:ping over websocket:\n" + ping2, ping2.contains("via websocket://"));
            String perf = Gogo.run(context, "kizuna:perf -t websocket " + peer + " 8M").ok();
            assertTrue("kizuna:perf over websocket:\n" + perf, perf.contains("transport websocket"));
        }
    }

    @Test(timeout = 180_000)
    public void stopStartAndUpdateTheWebSocketBundle() throws Exception {
        try (RemoteNode remote = RemoteNode.start("websocket-swap", LISTEN)) {
            PeerAddress peer = remote.address();
            Bundle bundle = Itest.bundle(context, "io.kizuna.websocket");
            Connection stream = join(manager.openStream(peer.only("websocket"), Itest.ECHO), WAIT, "an echo stream");
            assertEquals("websocket", stream.info().protocol());
            Streams.roundTrip(stream, "before the swap");

            long stopping = System.nanoTime();
            bundle.stop();
            System.out.println("hot swap: stopping the websocket bundle took "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopping) + " ms");
            join(stream.closeFuture().exceptionally(e -> null), WAIT, "the websocket stream to close when it stops");
            assertTrue("no websocket service after stop", Itest.reference(context, Transport.class, WS_FILTER) == null);
            PingResult fallback = join(manager.ping(peer), WAIT, "pinging without websocket");
            assertEquals("tcp carries on without websocket", "tcp", fallback.protocol());

            Duration started = usableAgain(peer.only("websocket"), bundle::start);
            assertTrue("websocket usable again " + started.toMillis() + " ms after start",
                    started.compareTo(BACK_WITHIN) < 0);

            BundleRevision revision = bundle.adapt(BundleRevision.class);
            Duration updated = usableAgain(peer.only("websocket"), bundle::update);
            assertNotSame("a new revision runs", revision, bundle.adapt(BundleRevision.class));
            assertTrue("websocket usable again " + updated.toMillis() + " ms after update",
                    updated.compareTo(BACK_WITHIN) < 0);
            Streams.echo(join(manager.openStream(peer.only("websocket"), Itest.ECHO), WAIT, "a new echo stream"),
                    1 << 20);
            assertTrue("the other node still runs", remote.isAlive());
        }
    }

    private Duration usableAgain(PeerAddress wsOnly, BundleAction action) throws BundleException {
        long start = System.nanoTime();
        action.run();
        long acted = System.nanoTime();
        Connection stream = await("an echo stream over websocket").atMost(WAIT).pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(5)).until(() -> openOnce(wsOnly), c -> c != null);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertEquals("websocket", stream.info().protocol());
        stream.close();
        System.out.println("hot swap: websocket usable again " + took.toMillis()
                + " ms after the bundle operation began (" + TimeUnit.NANOSECONDS.toMillis(acted - start)
                + " ms in the operation itself)");
        return took;
    }

    private Connection openOnce(PeerAddress peer) {
        try {
            return manager.openStream(peer, Itest.ECHO).toCompletableFuture().get(WAIT.toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    @FunctionalInterface
    private interface BundleAction {
        void run() throws BundleException;
    }
}
