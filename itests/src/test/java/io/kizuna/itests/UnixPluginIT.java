package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.mavenBundle;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import javax.inject.Inject;

import io.kizuna.transport.ConnectionInfo;
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
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * A transport plug-in installed and removed while nodes run: the example Unix
 * domain socket transport (examples/unix), dropped into FileInstall's deploy
 * folder. A node of the runtime distribution finds it in its {@code <home>/deploy}
 * and listens on unix as well as tcp; this framework (FileInstall watching a
 * folder, as the runtime does) gets the jar while it runs, lists the transport,
 * pings the other node over it, then loses the jar: the transport goes, and the
 * tcp connection to the same node carries on.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class UnixPluginIT {

    private static final String DEPLOY = "felix.fileinstall.dir";
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String UNIX = "(" + Transport.PROTOCOL + "=unix)";

    @Inject
    private ConnectionManager manager;

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("unix-plugin"),
                mavenBundle("org.apache.felix", "org.apache.felix.fileinstall").versionAsInProject(),
                frameworkProperty(DEPLOY).value(Itest.workFolder("unix-plugin-deploy").toString()),
                frameworkProperty("felix.fileinstall.filter").value(".*\\.jar"),
                frameworkProperty("felix.fileinstall.poll").value("200"),
                frameworkProperty("felix.fileinstall.noInitialDelay").value("true")};
    }

    @Test(timeout = 240_000)
    public void theTransportComesWithItsJarAndGoesWithItWhileOtherConnectionsCarryOn() throws Exception {
        Path jar = Path.of(Itest.property(Itest.UNIX_BUNDLE));
        Path deploy = Path.of(context.getProperty(DEPLOY));
        // Both nodes name one socket directory; short, as socket paths are limited to 107 bytes.
        Path sockets = Files.createTempDirectory("kzu");
        try (RemoteNode remote = RemoteNode.start("unix-plugin-remote", "tcp://127.0.0.1:0,unix://127.0.0.1:0",
                Map.of("io.kizuna.examples.unix.cfg", "directory = " + sockets + "\n"), List.of(jar))) {
            PeerAddress peer = remote.address();
            assertFalse("the distribution installed the plug-in from <home>/deploy and listens on it: " + peer,
                    peer.endpoints("unix").isEmpty());
            assertFalse(Gogo.run(context, "kizuna:transports").ok().contains("unix"));

            Dictionary<String, Object> props = new Hashtable<>();
            props.put("directory", sockets.toString());
            configurationAdmin.getConfiguration("io.kizuna.examples.unix", "?").update(props);
            Files.copy(jar, deploy.resolve("examples-unix.jar"));
            Itest.awaitService(context, Transport.class, UNIX, WAIT);
            String transports = Gogo.run(context, "kizuna:transports").ok();
            assertTrue(transports, Pattern.compile("unix\\s+80\\s+available\\s+reliable,ordered").matcher(transports)
                    .find());

            ConnectionInfo tcp = join(manager.connectToPeer(peer.only("tcp")), WAIT, "connecting over tcp");
            assertEquals("tcp", tcp.protocol());
            String ping = Gogo.run(context, "kizuna:ping -t unix " + peer + " 2").ok();
            assertTrue(ping, ping.contains("over unix"));
            assertTrue(ping, ping.contains("via unix://127.0.0.1:" + peer.endpoints("unix").get(0).address().getPort()));
            assertTrue(ping, ping.contains("2 sent, 2 received, 0% loss"));
            assertTrue("a unix connection is pooled: " + manager.connections(peer.peerId()),
                    manager.connections(peer.peerId()).stream().anyMatch(c -> c.protocol().equals("unix")));

            Files.delete(deploy.resolve("examples-unix.jar"));
            await("the unix transport to leave").atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> Itest.reference(context, Transport.class, UNIX) == null);
            assertFalse(Gogo.run(context, "kizuna:transports").ok().contains("unix"));
            await("the unix connection to close").atMost(WAIT).pollInterval(Duration.ofMillis(50))
                    .until(() -> manager.connections(peer.peerId()).stream().noneMatch(c -> c.protocol().equals("unix")));
            assertTrue("the tcp connection carries on: " + manager.connections(peer.peerId()),
                    manager.connections(peer.peerId()).stream().anyMatch(c -> c.id().equals(tcp.id())));
            PingResult after = join(manager.ping(peer.only("tcp")), WAIT, "pinging over tcp after the jar went");
            assertEquals("tcp", after.protocol());
            assertTrue(remote.isAlive());
        } finally {
            try (var left = Files.list(sockets)) {
                for (Path p : (Iterable<Path>) left::iterator) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(sockets);
        }
    }
}
