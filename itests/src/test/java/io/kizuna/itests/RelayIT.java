package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.Transport;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Three nodes: a relay R and a peer B that is reachable only through R (it
 * listens on {@code relay://R@tcp://...} and nowhere else), both runtime
 * distributions in their own JVMs, and this framework as the dialer A. A
 * reaches B through R, ping says {@code via relay R}, streams and perf run
 * through the circuit, the relay bundle can be stopped, started and updated
 * while A runs; then A itself turns on its relay service,
 * {@code kizuna:relay} shows a peer's reservation, and after a restart of the
 * relay bundle the peer has reserved again by itself. Last, with WebRTC on
 * loopback on both peers, A's manager upgrades the relayed connection to WebRTC
 * signaled over it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class RelayIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String RELAY_FILTER = "(" + Transport.PROTOCOL + "=relay)";
    /** The relays here serve loopback peers, which a public relay refuses by default. */
    private static final Map<String, String> LOOPBACK_RELAY = Map.of("io.kizuna.relay.cfg",
            "allowPrivateAddresses = true\nmaxNewStreamsPerSourcePerSecond = 0\n");
    /**
     * A peer behind the relay that accepts no WebRTC over it, so connections stay
     * relayed (and the WebRTC of these nodes, not confined to loopback, sends nothing).
     */
    static final Map<String, String> NO_UPGRADE = Map.of("io.kizuna.webrtc.cfg", "acceptSignaled = false\n");

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Inject
    private ConfigurationAdmin configAdmin;

    @org.ops4j.pax.exam.Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("relay")};
    }

    private static PeerAddress relayOf(RemoteNode r) {
        return r.address().only("tcp");
    }

    @Test(timeout = 240_000)
    public void aPeerBehindARelayIsReachedThroughItAndTheBundleSwapsHot() throws Exception {
        Itest.awaitService(context, Transport.class, RELAY_FILTER, WAIT);
        try (RemoteNode r = RemoteNode.start("relay-r", "tcp://127.0.0.1:0", LOOPBACK_RELAY, "--relay");
                RemoteNode b = RemoteNode.start("relay-b", Endpoint.via("relay", relayOf(r)).toString(),
                        NO_UPGRADE)) {
            PeerAddress bAddress = b.address();
            assertEquals("B is reachable only through R: " + bAddress, "relay",
                    String.join(",", bAddress.transportHints()));

            PingResult ping = join(manager.ping(bAddress), WAIT, "pinging B through R");
            assertEquals("relay", ping.protocol());
            assertEquals(r.address().peerId(), ping.remote().via().orElseThrow().peer());
            String pings = Gogo.run(context, "kizuna:ping " + bAddress + " 2").ok();
            assertTrue("ping names the relay:\n" + pings, pings.contains("via relay " + r.address().peerId()));
            String peers = Gogo.run(context, "kizuna:peers").ok();
            assertTrue("peers shows the relay path:\n" + peers,
                    peers.contains("relay " + r.address().peerId().shortForm()));
            Streams.echo(join(manager.openStream(bAddress, Itest.ECHO), WAIT, "an echo stream through R"), 1 << 20);
            String perf = Gogo.run(context, "kizuna:perf " + bAddress + " 4M").ok();
            assertTrue("perf through the relay:\n" + perf, perf.contains("transport relay"));

            // Hot swap of the relay bundle on the dialer.
            Bundle bundle = Itest.bundle(context, "io.kizuna.relay");
            Connection stream = join(manager.openStream(bAddress, Itest.ECHO), WAIT, "a stream before the swap");
            bundle.stop();
            join(stream.closeFuture().exceptionally(e -> null), WAIT, "the relayed stream to close with the bundle");
            assertTrue("no relay transport after stop", Itest.reference(context, Transport.class, RELAY_FILTER) == null);
            assertTrue("B cannot be reached without the relay transport",
                    manager.ping(bAddress).toCompletableFuture().handle((p, e) -> e != null).get());
            bundle.start();
            PingResult back = await("a ping through R after start").atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> pingOnce(bAddress), p -> p != null);
            assertEquals("relay", back.protocol());
            BundleRevision revision = bundle.adapt(BundleRevision.class);
            bundle.update();
            assertNotSame("a new revision runs", revision, bundle.adapt(BundleRevision.class));
            await("a ping through R after update").atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> pingOnce(bAddress), p -> p != null);
            Streams.echo(join(manager.openStream(bAddress, Itest.ECHO), WAIT, "a stream after the swap"), 1 << 16);
            assertTrue(r.isAlive() && b.isAlive());
        }
    }

    @Test(timeout = 180_000)
    public void thisNodeAsARelayShowsItsReservations() throws Exception {
        Configuration c = configAdmin.getConfiguration("io.kizuna.relay", "?");
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("enabled", true);
        props.put("allowPrivateAddresses", true);
        props.put("maxCircuits", 32);
        c.update(props);
        String on = await("the relay service on").atMost(WAIT).pollInterval(Duration.ofMillis(100))
                .until(() -> Gogo.run(context, "kizuna:relay").ok(), s -> s.contains("relay service: on"));
        assertTrue(on, on.contains("circuits 32"));
        PeerAddress self = manager.localAddress().only("tcp");
        try (RemoteNode b = RemoteNode.start("relay-self-b", Endpoint.via("relay", self).toString(), NO_UPGRADE)) {
            String shown = Gogo.run(context, "kizuna:relay").ok();
            assertTrue("kizuna:relay lists B's reservation:\n" + shown,
                    shown.contains("reservations: 1") && shown.contains(b.address().peerId().toString()));

            // Restart the relay (stop and start its bundle): B notices and reserves again by itself.
            Bundle bundle = Itest.bundle(context, "io.kizuna.relay");
            bundle.stop();
            bundle.start();
            String again = await("B's reservation back on the restarted relay").atMost(WAIT)
                    .pollInterval(Duration.ofMillis(200)).until(() -> Gogo.run(context, "kizuna:relay").ok(),
                            t -> t.contains("reservations: 1") && t.contains(b.address().peerId().toString()));
            assertTrue(again, again.contains("reservations granted 1"));
        } finally {
            c.delete();
        }
    }

    private PingResult pingOnce(PeerAddress peer) {
        try {
            return manager.ping(peer).toCompletableFuture().get(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    @Test(timeout = 180_000)
    public void aRelayedConnectionIsUpgradedToWebRtcSignaledOverIt() throws Exception {
        Itest.awaitService(context, Transport.class, RELAY_FILTER, WAIT);
        Dictionary<String, Object> loopback = new Hashtable<>();
        loopback.put("loopbackCandidates", true);
        configAdmin.getConfiguration("io.kizuna.webrtc", "?").update(loopback);
        Itest.awaitService(context, Transport.class, "(&(" + Transport.PROTOCOL + "=webrtc)(loopbackCandidates=true))",
                WAIT);
        try (RemoteNode r = RemoteNode.start("relay-up-r", "tcp://127.0.0.1:0", LOOPBACK_RELAY, "--relay");
                RemoteNode b = RemoteNode.start("relay-up-b", Endpoint.via("relay", relayOf(r)).toString(),
                        Map.of("io.kizuna.webrtc.cfg", "loopbackCandidates = true\n"))) {
            PeerAddress bAddress = b.address();
            assertEquals("B has no webrtc endpoint: " + bAddress, "relay", String.join(",", bAddress.transportHints()));
            assertEquals("the dial goes through R", "relay",
                    join(manager.ping(bAddress), WAIT, "ping via R").protocol());

            // In the background, A's manager sets up WebRTC, signaled over the relayed connection.
            await("a webrtc connection to B beside the relayed one").atMost(WAIT).pollInterval(Duration.ofMillis(100))
                    .until(() -> manager.connections(bAddress.peerId()).stream().map(c -> c.protocol()).toList(),
                            p -> p.contains("webrtc") && p.contains("relay"));
            PingResult direct = join(manager.ping(bAddress), WAIT, "ping after the upgrade");
            assertEquals("the relay address now reaches B over WebRTC", "webrtc", direct.protocol());
            Connection echo = join(manager.openStream(bAddress, Itest.ECHO), WAIT, "an echo stream after the upgrade");
            assertEquals("webrtc", echo.info().protocol());
            Streams.echo(echo, 1 << 20);
            assertTrue("the relayed connection stays", manager.connections(bAddress.peerId()).stream()
                    .anyMatch(c -> c.via().isPresent()));
        }
    }
}
