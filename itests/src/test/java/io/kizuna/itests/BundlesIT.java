package io.kizuna.itests;

import static io.kizuna.itests.Itest.awaitService;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import javax.inject.Inject;

import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.Transport;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.ServiceReference;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/**
 * The node as deployed: every bundle resolves and starts, every Kizuna component
 * is satisfied, the TCP transport and the connection manager are services, and
 * the shell commands answer.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class BundlesIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final List<String> KIZUNA = List.of("io.kizuna.api", "io.kizuna.identity", "io.kizuna.core",
            "io.kizuna.tcp", "io.kizuna.quic", "io.kizuna.shell");
    /** Components that exist only when configured (the in-memory transport, for tests). */
    private static final String MEMORY_PID = "io.kizuna.memory";

    @Inject
    private BundleContext context;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("bundles")};
    }

    @Test(timeout = 60_000)
    public void everyBundleResolvesAndIsActive() {
        List<String> problems = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            boolean fragment = b.getHeaders().get(Constants.FRAGMENT_HOST) != null;
            int expected = fragment ? Bundle.RESOLVED : Bundle.ACTIVE;
            if (b.getState() != expected) {
                problems.add(b.getSymbolicName() + " " + b.getVersion() + " is " + Itest.state(b.getState()));
            }
        }
        assertTrue("bundles not active: " + problems, problems.isEmpty());
        for (String name : KIZUNA) {
            assertEquals(name + " state", "ACTIVE", Itest.state(Itest.bundle(context, name).getState()));
        }
    }

    @Test(timeout = 60_000)
    public void everyKizunaComponentIsSatisfied() {
        ServiceReference<ServiceComponentRuntime> ref = awaitService(context, ServiceComponentRuntime.class, null,
                WAIT);
        ServiceComponentRuntime scr = context.getService(ref);
        try {
            // Activation is asynchronous after the bundles start: wait until nothing is left unsatisfied.
            await("every Kizuna component satisfied").atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> componentProblems(scr).isEmpty());
            List<String> names = new ArrayList<>();
            for (String bundle : KIZUNA) {
                for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(Itest.bundle(context, bundle))) {
                    names.add(d.name);
                }
            }
            assertTrue("the Kizuna bundles declare components: " + names, names.size() >= 3);
        } finally {
            context.ungetService(ref);
        }
    }

    private List<String> componentProblems(ServiceComponentRuntime scr) {
        List<String> problems = new ArrayList<>();
        for (String bundle : KIZUNA) {
            Bundle b = Itest.bundle(context, bundle);
            for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs(b)) {
                if (!scr.isComponentEnabled(d)) {
                    problems.add(d.name + " is disabled");
                    continue;
                }
                List<String> pids = Arrays.asList(d.configurationPid);
                var configurations = scr.getComponentConfigurationDTOs(d);
                if (pids.contains(MEMORY_PID)) {
                    if (!configurations.isEmpty()) {
                        problems.add(d.name + " exists without configuration " + MEMORY_PID);
                    }
                    continue;
                }
                if (configurations.isEmpty()) {
                    problems.add(d.name + " has no configuration (configuration policy "
                            + d.configurationPolicy + ")");
                }
                for (ComponentConfigurationDTO c : configurations) {
                    if (c.state != ComponentConfigurationDTO.ACTIVE && c.state != ComponentConfigurationDTO.SATISFIED) {
                        problems.add(d.name + " is " + componentState(c.state) + unsatisfied(c));
                    }
                }
            }
        }
        return problems;
    }

    private static String unsatisfied(ComponentConfigurationDTO c) {
        if (c.unsatisfiedReferences == null || c.unsatisfiedReferences.length == 0) {
            return c.failure == null ? "" : ": " + c.failure;
        }
        return ", missing " + Arrays.stream(c.unsatisfiedReferences).map(r -> r.name + " " + r.target)
                .collect(Collectors.joining(", "));
    }

    private static String componentState(int state) {
        return switch (state) {
            case ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION -> "UNSATISFIED_CONFIGURATION";
            case ComponentConfigurationDTO.UNSATISFIED_REFERENCE -> "UNSATISFIED_REFERENCE";
            case ComponentConfigurationDTO.SATISFIED -> "SATISFIED";
            case ComponentConfigurationDTO.ACTIVE -> "ACTIVE";
            case ComponentConfigurationDTO.FAILED_ACTIVATION -> "FAILED_ACTIVATION";
            default -> "state " + state;
        };
    }

    @Test(timeout = 60_000)
    public void tcpTransportIsRegisteredWithItsProperties() {
        ServiceReference<Transport> ref = awaitService(context, Transport.class,
                "(" + Transport.PROTOCOL + "=tcp)", WAIT);
        assertEquals("registered by", "io.kizuna.tcp", ref.getBundle().getSymbolicName());
        Object priority = ref.getProperty(Transport.PRIORITY);
        assertTrue("priority property is an Integer: " + priority, priority instanceof Integer);
        Transport tcp = context.getService(ref);
        try {
            assertEquals("tcp", tcp.protocolName());
            assertEquals(priority, tcp.priority());
            assertTrue("tcp available: " + tcp.unavailableReason(), tcp.isAvailable());
            assertTrue(tcp.unavailableReason().isEmpty());
            // tcp half-closes its connections, which OpenSSL cannot: it stays on the JDK unless told otherwise
            assertTrue("tcp runs TLS on the JDK's engine: " + tcp.tlsEngine(),
                    tcp.tlsEngine().orElse("").startsWith("jdk (OpenSSL cannot half-close"));
        } finally {
            context.ungetService(ref);
        }
        // netty-tcnative and its BoringSSL fragment load inside the framework: websocket runs on them
        ServiceReference<Transport> wsRef = awaitService(context, Transport.class,
                "(" + Transport.PROTOCOL + "=websocket)", WAIT);
        Transport ws = context.getService(wsRef);
        try {
            assertTrue("websocket runs TLS on OpenSSL in Felix: " + ws.tlsEngine(),
                    ws.tlsEngine().orElse("").startsWith("openssl (BoringSSL"));
        } finally {
            context.ungetService(wsRef);
        }
        // quiche's own BoringSSL loads into the same JVM as netty-tcnative's
        ServiceReference<Transport> quicRef = awaitService(context, Transport.class,
                "(" + Transport.PROTOCOL + "=quic)", WAIT);
        Transport quic = context.getService(quicRef);
        try {
            assertTrue("quic available beside OpenSSL: " + quic.unavailableReason(), quic.isAvailable());
        } finally {
            context.ungetService(quicRef);
        }
        assertEquals("no in-memory transport without its configuration", null,
                Itest.reference(context, Transport.class, "(" + Transport.PROTOCOL + "=memory)"));
    }

    @Test(timeout = 60_000)
    public void connectionManagerListensOnLoopbackTcp() {
        ServiceReference<ConnectionManager> ref = awaitService(context, ConnectionManager.class, null, WAIT);
        ConnectionManager manager = context.getService(ref);
        try {
            // the framework property kizuna.listen=tcp://127.0.0.1:0 replaced the configured endpoints
            PeerAddress local = await("the manager listening on tcp").atMost(WAIT)
                    .until(manager::localAddress, a -> !a.endpoints("tcp").isEmpty());
            Endpoint tcp = local.endpoints("tcp").get(0);
            assertTrue("listens on loopback: " + tcp, tcp.address().getAddress().isLoopbackAddress());
            assertTrue("a real port: " + tcp, tcp.address().getPort() > 0);
            assertEquals(manager.localPeerId(), local.peerId());
            assertEquals("its text form parses back", local, PeerAddress.parse(local.toString()));
            assertTrue("no connections yet: " + manager.connections(), manager.connections().isEmpty());
        } finally {
            context.ungetService(ref);
        }
    }

    @Test(timeout = 60_000)
    public void shellCommandsAnswer() {
        ServiceReference<ConnectionManager> ref = awaitService(context, ConnectionManager.class, null, WAIT);
        ConnectionManager manager = context.getService(ref);
        try {
            awaitService(context, Transport.class, "(" + Transport.PROTOCOL + "=tcp)", WAIT);
            await("the manager listening on tcp").atMost(WAIT)
                    .until(() -> !manager.localAddress().endpoints("tcp").isEmpty());
            Endpoint endpoint = manager.localAddress().endpoints("tcp").get(0);

            // kizuna:transports lists tcp, available, with its priority, its TLS engine and where it listens
            String transports = await("kizuna:transports to list tcp").atMost(WAIT)
                    .until(() -> Gogo.run(context, "kizuna:transports").ok(), out -> out.contains("tcp"));
            Pattern tcpLine = Pattern.compile("(?m)^tcp\\s+100\\s+available\\b.*jdk \\(OpenSSL .*"
                    + Pattern.quote(endpoint.toString()));
            assertTrue("kizuna:transports shows tcp available on " + endpoint + ":\n" + transports,
                    tcpLine.matcher(transports).find());

            // kizuna:id prints this node's PeerId and its address
            String id = Gogo.run(context, "kizuna:id").ok();
            assertTrue("kizuna:id shows the PeerId " + manager.localPeerId() + ":\n" + id,
                    id.contains(manager.localPeerId().toString()));
            assertTrue("kizuna:id shows the listen endpoint " + endpoint + ":\n" + id,
                    id.contains(endpoint.toString()));

            // kizuna:peers answers with no connection open, without failing
            Gogo.run(context, "kizuna:peers").ok();

            // a bad address is one clear line, not a stack trace
            Gogo.Result bad = Gogo.run(context, "kizuna:connect not-an-address");
            assertTrue("kizuna:connect with a bad address fails", bad.failure() != null);
            String message = String.valueOf(bad.failure().getMessage());
            assertFalse("one line: " + message, message.contains("\n"));
            assertFalse("no stack trace in the output: " + bad.output(), bad.output().contains("\tat "));
        } finally {
            context.ungetService(ref);
        }
    }
}
