package io.kizuna.itests;

import static io.kizuna.itests.Itest.awaitService;
import static io.kizuna.itests.Itest.failure;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.security.SecureRandom;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import javax.inject.Inject;

import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * A transport that arrives while the node runs is used without restarting
 * anything: creating configuration {@code io.kizuna.memory} brings up the core
 * bundle's in-memory transport; the running connection manager starts listening
 * on it, selects it for addresses that name it, and dials through it. Deleting
 * the configuration takes it away again.
 *
 * <p>One framework holds one connection manager, and the in-memory transport only
 * reaches listeners in its own JVM, so no second node can answer over it here:
 * the dials prove the manager went through the transport (its answers: nothing
 * listens there; the listener there is another node than the one asked for).
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class MemoryTransportIT {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String MEMORY_PID = "io.kizuna.memory";
    private static final String MEMORY_FILTER = "(" + Transport.PROTOCOL + "=memory)";

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Configuration
    public Option[] config() {
        // the manager is asked to listen on memory too, which it can only do once the transport is there
        return new Option[] {KizunaOptions.node("memory", "tcp://127.0.0.1:0,memory://127.0.0.1:0")};
    }

    @Test(timeout = 120_000)
    public void inMemoryTransportIsPickedUpWithoutRestart() throws Exception {
        awaitService(context, Transport.class, "(" + Transport.PROTOCOL + "=tcp)", WAIT);
        Object managerService = managerServiceId();
        PeerId other = randomPeer();
        PeerAddress viaMemory = PeerAddress.parse(other + "@memory://127.0.0.1:20999");

        // before: no such transport, nothing selected, nothing listening, not in the shell's list
        assertNull("no memory transport yet", Itest.reference(context, Transport.class, MEMORY_FILTER));
        assertEquals(Optional.empty(), manager.negotiateProtocol(viaMemory).selectBestProtocol());
        assertTrue(manager.localAddress().endpoints("memory").isEmpty());
        assertFalse(memoryLine().matcher(Gogo.run(context, "kizuna:transports").ok()).find());

        org.osgi.service.cm.Configuration config = configurationAdmin.getConfiguration(MEMORY_PID, "?");
        Dictionary<String, Object> props = new Hashtable<>();
        props.put("kizuna.transport.priority", 10);
        config.update(props);
        try {
            ServiceReference<Transport> ref = awaitService(context, Transport.class, MEMORY_FILTER, WAIT);
            assertEquals("io.kizuna.core", ref.getBundle().getSymbolicName());

            // the running manager listens on it...
            PeerAddress local = await("the manager listening on memory").atMost(WAIT).pollInterval(Duration.ofMillis(20))
                    .until(manager::localAddress, a -> !a.endpoints("memory").isEmpty());
            Endpoint mine = local.endpoints("memory").get(0);
            assertTrue("still listening on tcp: " + local, !local.endpoints("tcp").isEmpty());

            // ...selects it for an address that names it, after tcp when both are named (priority 100 > 10)...
            assertEquals(Optional.of("memory"), manager.negotiateProtocol(viaMemory).selectBestProtocol());
            PeerAddress both = PeerAddress.parse(other + "@tcp://127.0.0.1:9,memory://127.0.0.1:20999");
            assertEquals(List.of("tcp", "memory"), manager.negotiateProtocol(both).candidates());

            // ...and dials through it: nothing listens at that port in this JVM's memory hub
            Throwable nobody = failure(manager.connectToPeer(viaMemory), WAIT, "dialing " + viaMemory);
            assertTrue("a TransportException, got " + nobody, nobody instanceof TransportException);
            assertTrue("the failure names the memory endpoint: " + nobody.getMessage(),
                    nobody.getMessage().contains("memory://127.0.0.1:20999"));

            // the listener on this node's memory endpoint is this node, not the peer asked for: refused
            PeerAddress impostor = PeerAddress.of(other, mine);
            Throwable refused = failure(manager.connectToPeer(impostor), WAIT, "dialing " + impostor);
            assertTrue("a TransportException, got " + refused, refused instanceof TransportException);
            assertTrue("the failure names the peer asked for: " + refused.getMessage(),
                    refused.getMessage().contains(other.toString()) || refused.getMessage().contains(other.shortForm()));

            ConnectionMetrics memory = manager.metricsByProtocol().get("memory");
            assertTrue("the memory dials are counted: " + manager.metricsByProtocol(),
                    memory != null && memory.failed() >= 2);

            String transports = Gogo.run(context, "kizuna:transports").ok();
            assertTrue("kizuna:transports lists memory, available, listening on " + mine + ":\n" + transports,
                    memoryLine().matcher(transports).find() && transports.contains(mine.toString()));
            assertEquals("the manager was not restarted", managerService, managerServiceId());
        } finally {
            config.delete();
        }

        // gone again: dropped from selection and from the listen endpoints, still without restart
        await("the memory transport to go").atMost(WAIT)
                .until(() -> Itest.reference(context, Transport.class, MEMORY_FILTER) == null);
        await("the manager to stop listening on memory").atMost(WAIT)
                .until(() -> manager.localAddress().endpoints("memory").isEmpty());
        assertEquals(Optional.empty(), manager.negotiateProtocol(viaMemory).selectBestProtocol());
        assertEquals("the manager was not restarted", managerService, managerServiceId());
    }

    private static Pattern memoryLine() {
        return Pattern.compile("(?m)^memory\\s+10\\s+available\\b");
    }

    private Object managerServiceId() {
        ServiceReference<ConnectionManager> ref = awaitService(context, ConnectionManager.class, null, WAIT);
        return ref.getProperty(Constants.SERVICE_ID);
    }

    private static PeerId randomPeer() {
        byte[] key = new byte[PeerId.LENGTH];
        new SecureRandom().nextBytes(key);
        return PeerId.of(key);
    }
}
