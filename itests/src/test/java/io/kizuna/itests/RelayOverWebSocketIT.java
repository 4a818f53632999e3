package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
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
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.BundleContext;

/**
 * A relay reachable over WebSocket only, for peers whose network lets only web
 * traffic out: the relay R listens on {@code websocket://} and nothing else, the
 * peer B reserves on it over WebSocket ({@code relay://R@websocket://...}), and
 * this framework reaches B through R, its own hop to R over WebSocket as well.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class RelayOverWebSocketIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    /** The relay serves loopback peers, which a public relay refuses by default. */
    private static final Map<String, String> LOOPBACK_RELAY = Map.of("io.kizuna.relay.cfg",
            "allowPrivateAddresses = true\nmaxNewStreamsPerSourcePerSecond = 0\n");

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("relay-ws")};
    }

    @Test(timeout = 180_000)
    public void reservationsAndCircuitsRunOverWebSocket() throws Exception {
        Itest.awaitService(context, Transport.class, "(" + Transport.PROTOCOL + "=relay)", WAIT);
        Itest.awaitService(context, Transport.class, "(" + Transport.PROTOCOL + "=websocket)", WAIT);
        try (RemoteNode r = RemoteNode.start("relay-ws-r", "websocket://127.0.0.1:0", LOOPBACK_RELAY, "--relay");
                RemoteNode b = RemoteNode.start("relay-ws-b",
                        Endpoint.via("relay", r.address().only("websocket")).toString(), RelayIT.NO_UPGRADE)) {
            assertEquals("R listens on WebSocket only: " + r.address(), "websocket",
                    String.join(",", r.address().transportHints()));
            PeerAddress bAddress = b.address();
            assertEquals("B is reachable only through R: " + bAddress, "relay",
                    String.join(",", bAddress.transportHints()));

            PingResult ping = join(manager.ping(bAddress), WAIT, "pinging B through R");
            assertEquals("relay", ping.protocol());
            assertEquals(r.address().peerId(), ping.remote().via().orElseThrow().peer());
            // this node's hop to the relay is a WebSocket connection
            assertTrue("a websocket connection to R: " + manager.connections(r.address().peerId()),
                    manager.connections(r.address().peerId()).stream().map(ConnectionInfo::protocol)
                            .anyMatch("websocket"::equals));
            Streams.echo(join(manager.openStream(bAddress, Itest.ECHO), WAIT, "an echo stream through R"), 4 << 20);
            String pings = Gogo.run(context, "kizuna:ping " + bAddress + " 2").ok();
            assertTrue("ping names the relay:\n" + pings, pings.contains("via relay " + r.address().peerId()));
        }
    }
}
