package io.kizuna.itests;

import static io.kizuna.itests.Itest.failure;
import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.List;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.ProtocolNegotiation;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;

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
 * Hot swap of the TCP transport while connected to a second node: stopping the
 * bundle drops tcp from selection and closes its connections in order (the other
 * node reads end of stream, nothing hangs); starting it again, or updating it,
 * makes it usable again within one second.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class HotSwapIT {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Duration BACK_WITHIN = Duration.ofSeconds(1);
    private static final String TCP_FILTER = "(" + Transport.PROTOCOL + "=tcp)";

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("hot-swap")};
    }

    @Test(timeout = 180_000)
    public void stopAndStartTheTcpBundle() throws Exception {
        try (RemoteNode remote = RemoteNode.start("hot-swap-stop")) {
            Bundle tcp = Itest.bundle(context, "io.kizuna.tcp");
            Connection stream = connected(remote);

            tcp.stop();
            assertStoppedCleanly(remote, stream);

            Duration back = restartAndMeasure(remote, tcp::start);
            assertTrue("tcp usable again " + back.toMillis() + " ms after start, limit " + BACK_WITHIN.toMillis(),
                    back.compareTo(BACK_WITHIN) < 0);
            // and it carries streams again
            Connection again = join(manager.openStream(remote.address(), Itest.ECHO), WAIT, "a new echo stream");
            Streams.echo(again, 1 << 20);
        }
    }

    @Test(timeout = 180_000)
    public void updateTheTcpBundle() throws Exception {
        try (RemoteNode remote = RemoteNode.start("hot-swap-update")) {
            Bundle tcp = Itest.bundle(context, "io.kizuna.tcp");
            Connection stream = connected(remote);
            BundleRevision revision = tcp.adapt(BundleRevision.class);

            // update() stops the bundle (closing its connections), installs the new revision and starts it
            Duration back = restartAndMeasure(remote, () -> {
                tcp.update();
            });
            assertTrue("a new revision of the bundle runs", tcp.adapt(BundleRevision.class) != revision);
            assertEquals("ACTIVE", Itest.state(tcp.getState()));
            assertOrderlyEndAtTheOtherNode(remote, stream);
            assertTrue("tcp usable again " + back.toMillis() + " ms after update, limit " + BACK_WITHIN.toMillis(),
                    back.compareTo(BACK_WITHIN) < 0);
            Connection again = join(manager.openStream(remote.address(), Itest.ECHO), WAIT, "a new echo stream");
            Streams.echo(again, 1 << 20);
        }
    }

    /** Connects, pings, and opens an echo stream that is in use when the transport goes away. */
    private Connection connected(RemoteNode remote) {
        PeerAddress peer = remote.address();
        join(manager.connectToPeer(peer), WAIT, "connecting to " + remote);
        join(manager.ping(peer), WAIT, "pinging " + remote);
        Connection stream = join(manager.openStream(peer, Itest.ECHO), WAIT, "opening an echo stream to " + remote);
        Streams.roundTrip(stream, "before the swap");
        assertEquals("tcp", stream.info().protocol());
        return stream;
    }

    private void assertStoppedCleanly(RemoteNode remote, Connection stream) {
        PeerAddress peer = remote.address();
        assertTrue("no tcp transport service after stop",
                Itest.reference(context, Transport.class, TCP_FILTER) == null);

        // the stream ends, in order, on both sides: nothing hangs, nothing fails
        join(stream.closeFuture(), WAIT, "the local end of the stream to close in order when tcp stops");
        assertOrderlyEndAtTheOtherNode(remote, stream);

        // tcp is no longer selected, nothing over it is pooled, and a dial says why
        ProtocolNegotiation plan = manager.negotiateProtocol(peer);
        assertTrue("tcp dropped from selection: " + plan, plan.candidates().isEmpty());
        assertTrue("tcp connections closed: " + manager.connections(), manager.connections(peer.peerId()).isEmpty());
        Throwable t = failure(manager.connectToPeer(peer), WAIT, "connecting without a tcp transport");
        assertTrue("a TransportException, got " + t, t instanceof TransportException);
    }

    private void assertOrderlyEndAtTheOtherNode(RemoteNode remote, Connection stream) {
        String me = manager.localPeerId().toString();
        List<String> events = await("the other node's echo handler to see the stream end").atMost(WAIT)
                .until(remote::echoEvents, e -> e.stream().anyMatch(l -> l.startsWith("eof ") || l.startsWith("failed ")));
        assertTrue("the other node read an orderly end of stream, not a failure: " + events,
                events.stream().anyMatch(l -> l.startsWith("eof 1 " + me + " ")));
        assertTrue("no failure at the other node: " + events, events.stream().noneMatch(l -> l.startsWith("failed ")));
        assertTrue("the local stream is closed", !stream.isConnected());
        assertTrue("the other node still runs", remote.isAlive());
    }

    /** Runs the action and measures how long until a fresh connection over tcp answers a ping. */
    private Duration restartAndMeasure(RemoteNode remote, BundleAction action) throws BundleException {
        PeerAddress peer = remote.address();
        long start = System.nanoTime();
        action.run();
        PingResult ping = await("a ping over tcp after the swap").atMost(WAIT).pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(5))
                .until(() -> pingOnce(peer), p -> p != null);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertEquals("tcp", ping.protocol());
        System.out.println("hot swap: tcp usable again (connect + ping over a new connection) "
                + took.toMillis() + " ms after the bundle operation; ping rtt " + ping.rtt().toNanos() / 1000 + " us");
        return took;
    }

    private PingResult pingOnce(PeerAddress peer) {
        try {
            return manager.ping(peer).toCompletableFuture().get(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    @FunctionalInterface
    private interface BundleAction {
        void run() throws BundleException;
    }
}
