package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.Map;

import javax.inject.Inject;

import io.kizuna.transport.ConnectionInfo;
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
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Hole punching end to end on loopback: this node A dials a peer B through a
 * relay R, both listening on QUIC as well; A's manager upgrades the relayed
 * connection to {@code punch}, whose {@code kizuna/punch/1} session runs over
 * the relayed connection, and the QUIC connection it dials from the punch
 * socket then carries pings and streams. Stopping the nat bundle leaves that
 * QUIC connection up: it is the QUIC transport's.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class PunchIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String PUNCH_FILTER = "(" + Transport.PROTOCOL + "=punch)";
    private static final Map<String, String> LOOPBACK_RELAY = Map.of("io.kizuna.relay.cfg",
            "allowPrivateAddresses = true\nmaxNewStreamsPerSourcePerSecond = 0\n");

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Inject
    private ConfigurationAdmin configAdmin;

    @org.ops4j.pax.exam.Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("punch", "tcp://127.0.0.1:0,quic://127.0.0.1:0")};
    }

    @Test(timeout = 240_000)
    public void aRelayedConnectionIsUpgradedToAPunchedQuicConnection() throws Exception {
        Dictionary<String, Object> loopback = new Hashtable<>();
        loopback.put("punchPrivateAddresses", true); // the candidates here are loopback addresses
        configAdmin.getConfiguration("io.kizuna.nat", "?").update(loopback);
        Itest.awaitService(context, Transport.class, PUNCH_FILTER, WAIT);
        try (RemoteNode r = RemoteNode.start("punch-r", "tcp://127.0.0.1:0", LOOPBACK_RELAY, "--relay");
                RemoteNode b = RemoteNode.start("punch-b", Endpoint.via("relay", r.address().only("tcp"))
                        + ",quic://127.0.0.1:0", Map.of("io.kizuna.nat.cfg", "punchPrivateAddresses = true\n",
                                "io.kizuna.webrtc.cfg", "acceptSignaled = false\n"))) {
            PeerAddress bAddress = b.address().only("relay");
            int bQuicPort = b.address().endpoints("quic").get(0).address().getPort();
            assertEquals("the dial goes through R", "relay",
                    join(manager.ping(bAddress), WAIT, "ping via R").protocol());

            ConnectionInfo punched = await("a punched quic connection to B beside the relayed one").atMost(WAIT)
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> manager.connections(bAddress.peerId()).stream()
                            .filter(c -> c.protocol().equals("quic")).findFirst().orElse(null), c -> c != null);
            assertEquals("dialed to B's QUIC listener", bQuicPort, punched.remoteAddress().getPort());
            int aQuicPort = manager.localAddress().endpoints("quic").get(0).address().getPort();
            assertNotEquals("dialed from a punch socket, not A's listener", aQuicPort,
                    punched.localAddress().getPort());
            assertTrue("direct", punched.via().isEmpty());
            PingResult direct = join(manager.ping(bAddress), WAIT, "ping after the upgrade");
            assertEquals("the relay address now reaches B over the punched QUIC connection", "quic",
                    direct.protocol());
            Streams.echo(join(manager.openStream(bAddress, Itest.ECHO), WAIT, "an echo stream after the upgrade"),
                    1 << 20);

            // Hot swap: the punch transport goes with the nat bundle, the QUIC connection stays.
            Bundle nat = Itest.bundle(context, "io.kizuna.nat");
            nat.stop();
            assertTrue("no punch transport after stop", Itest.reference(context, Transport.class, PUNCH_FILTER)
                    == null);
            assertEquals("the punched connection stays", "quic",
                    join(manager.ping(bAddress), WAIT, "ping with nat stopped").protocol());
            // While it is stopped no punch is tried: a new relayed connection stays relayed.
            join(manager.disconnect(bAddress.peerId()), WAIT, "disconnect B");
            assertEquals("relay", join(manager.ping(bAddress), WAIT, "ping via R with nat stopped").protocol());
            Thread.sleep(2000); // a punch on loopback takes well under a second
            assertTrue("no punch while the nat bundle is stopped", manager.connections(bAddress.peerId()).stream()
                    .noneMatch(c -> c.protocol().equals("quic")));

            // Started again, punching resumes with the next relayed connection.
            nat.start();
            Itest.awaitService(context, Transport.class, PUNCH_FILTER, WAIT);
            join(manager.disconnect(bAddress.peerId()), WAIT, "disconnect B again");
            assertEquals("relay", join(manager.ping(bAddress), WAIT, "ping via R with nat started").protocol());
            ConnectionInfo again = await("a punched quic connection to B after the nat bundle started again")
                    .atMost(WAIT).pollInterval(Duration.ofMillis(100))
                    .until(() -> manager.connections(bAddress.peerId()).stream()
                            .filter(c -> c.protocol().equals("quic")).findFirst().orElse(null), c -> c != null);
            assertEquals("punched, as the connection says", "punched, round 1",
                    again.path().orElse("").replaceAll(", \\d+ ms after relay$", ""));
            assertEquals("quic", join(manager.ping(bAddress), WAIT, "ping with nat started").protocol());
        } finally {
            configAdmin.getConfiguration("io.kizuna.nat", "?").delete();
        }
    }
}
