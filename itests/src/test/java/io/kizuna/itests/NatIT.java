package io.kizuna.itests;

import static io.kizuna.itests.Itest.awaitService;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Hashtable;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import io.kizuna.transport.NatTraversal;
import io.kizuna.transport.NatType;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The NAT bundle in a node: unconfigured it knows no STUN server and reports
 * UNKNOWN; configured (PID io.kizuna.nat) it runs an RFC 5780 STUN server on two
 * loopback addresses, discovery against it reports OPEN, and kizuna:netcheck
 * prints the findings.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class NatIT {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("nat")};
    }

    @Test(timeout = 90_000)
    public void discoveryAndNetcheckAgainstTheNodesOwnStunServer() throws Exception {
        NatTraversal unconfigured = context.getService(awaitService(context, NatTraversal.class, null, WAIT));
        assertEquals(NatType.UNKNOWN, unconfigured.discoverNatType().toCompletableFuture().get(10, TimeUnit.SECONDS));
        Gogo.Result none = Gogo.run(context, "kizuna:netcheck");
        assertTrue(String.valueOf(none.failure()), none.failure() != null
                && none.failure().getMessage().contains("none configured"));

        int port = ownStunServer(configurationAdmin, 50);

        await("discovery against the configured server").atMost(WAIT).pollInterval(Duration.ofMillis(200))
                .until(() -> {
                    ServiceReference<NatTraversal> ref = context.getServiceReference(NatTraversal.class);
                    NatTraversal nat = ref == null ? null : context.getService(ref);
                    return nat != null && nat.discoverNatType().toCompletableFuture().get(10, TimeUnit.SECONDS) == NatType.OPEN;
                });
        String out = Gogo.run(context, "kizuna:netcheck").ok();
        assertTrue(out, out.contains("UDP: reachable"));
        assertTrue(out, out.contains("NAT type: OPEN"));
        assertTrue(out, out.contains("server 127.0.0.1:" + port + ": latency "));
        String silent = Gogo.run(context, "kizuna:netcheck 127.0.0.1:" + freePort("127.0.0.1")).ok();
        assertTrue(silent, silent.contains("UDP: blocked"));
        assertTrue(silent, silent.contains("failed probe: binding to"));
    }

    /**
     * Configures the node's own RFC 5780 STUN server on 127.0.0.1 and 127.0.0.2
     * (free ports) as the one netcheck asks.
     *
     * @param configurationAdmin the node's ConfigAdmin
     * @param rtoMillis          the probes' first retransmission timeout
     * @return the server's primary port on 127.0.0.1
     * @throws Exception when ConfigAdmin fails
     */
    static int ownStunServer(ConfigurationAdmin configurationAdmin, int rtoMillis) throws Exception {
        int port = freePort("127.0.0.1");
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("stunServers", new String[] {"127.0.0.1:" + port});
        props.put("serverEnabled", true);
        props.put("serverAddress", "127.0.0.1:" + port);
        props.put("serverAlternateIp", "127.0.0.2");
        props.put("serverAlternatePort", freePort("127.0.0.2"));
        props.put("probeRtoMillis", rtoMillis);
        configurationAdmin.getConfiguration("io.kizuna.nat", "?").update(props);
        return port;
    }

    static int freePort(String ip) throws Exception {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(ip), 0))) {
            return s.getLocalPort();
        }
    }
}
