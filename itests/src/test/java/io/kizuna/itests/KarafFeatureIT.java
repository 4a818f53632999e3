package io.kizuna.itests;

import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.Test;

/**
 * The feature repository in a real Apache Karaf: unpacks the distribution,
 * points its Maven resolver at the local repository only (offline), starts it
 * headless, adds the repository, installs feature {@code kizuna} and runs the
 * kizuna commands through Karaf's SSH client. Karaf is stopped however the test
 * ends.
 *
 * <p>Not a pax-exam test: it drives the Karaf scripts as an operator would.
 */
public class KarafFeatureIT {

    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final Duration COMMAND = Duration.ofSeconds(90);
    private static final Duration STOP = Duration.ofSeconds(60);
    /** The operator's listen endpoints in etc/io.kizuna.core.cfg. */
    private static final String LISTEN = "tcp://127.0.0.1:0, websocket://127.0.0.1:0";
    private static final Pattern PEER_ID = Pattern.compile("(?m)^peer id\\s+([a-z2-7]{52})\\s*$");
    private static final List<String> FEATURES = List.of("kizuna", "kizuna-api", "kizuna-identity", "kizuna-core",
            "kizuna-tcp", "kizuna-shell");
    private static final List<String> BUNDLES = List.of("io.kizuna.api", "io.kizuna.identity", "io.kizuna.core",
            "io.kizuna.tcp", "io.kizuna.shell");
    /** Every PID the bundles read (io.kizuna.memory, a test transport, aside), as the runtime's tests know them. */
    private static final List<String> PIDS = List.of("io.kizuna.core", "io.kizuna.identity", "io.kizuna.tcp",
            "io.kizuna.quic", "io.kizuna.websocket", "io.kizuna.webrtc", "io.kizuna.relay",
            "io.kizuna.relay.transport", "io.kizuna.nat");
    /** config:list output: a configuration's "Pid:" line and its property lines. */
    private static final Pattern CONFIG_PID = Pattern.compile("^Pid:\\s+(\\S+)\\s*$");
    private static final Pattern CONFIG_PROPERTY = Pattern.compile("^\\s+([\\w.]+) = (.*?)\\s*$");
    /** Properties ConfigAdmin and Karaf add to every configuration. */
    private static final List<String> BOOKKEEPING = List.of("service.pid", "felix.fileinstall.filename",
            "org.apache.karaf.features.configKey");

    private Path karaf;
    private int sshPort;

    @Test(timeout = 420_000)
    public void kizunaFeatureInstallsOfflineAndRunsItsCommands() throws Exception {
        String version = Itest.property(Itest.PROJECT_VERSION);
        karaf = unpack();
        configure();
        Process process = start();
        RemoteNode peer = null;
        try {
            // a second node (the Felix runtime) for the Karaf node to reach; it starts while Karaf boots
            // with the file transfer example in its deploy folder, for files:send from Karaf
            peer = RemoteNode.start("karaf-peer", "tcp://127.0.0.1:0", java.util.Map.of(),
                    List.of(Path.of(Itest.property(Itest.FILES_BUNDLE))));
            String ready = await("Karaf's SSH console").atMost(BOOT).pollInterval(Duration.ofMillis(500))
                    .until(() -> clientOrNull("system:version"), out -> out != null && out.contains("4.4"));
            assertTrue(ready, ready.contains("4.4"));
            // The SSH console answers before Karaf has loaded its standard feature repository; installing then
            // fails to find scr. Wait until scr is known.
            await("Karaf's standard features (scr)").atMost(BOOT).pollInterval(Duration.ofMillis(500))
                    .until(() -> clientOrNull("feature:info scr"), out -> out != null && out.contains("Feature scr"));

            String install = client("feature:repo-add mvn:io.kizuna/features/" + version + "/xml/features\n"
                    + "feature:install kizuna\n");
            assertNoError("feature:repo-add and feature:install", install);

            String features = client("feature:list -i");
            for (String f : FEATURES) {
                // columns: Name │ Version │ Required │ State │ Repository │ Description
                Pattern line = Pattern.compile("(?m)^" + Pattern.quote(f) + "\\s*[│|][^│|\\n]*[│|][^│|\\n]*[│|]\\s*Started\\s*[│|]");
                assertTrue("feature " + f + " installed and started:\n" + features, line.matcher(features).find());
            }

            String transports = await("kizuna:transports to list tcp as available").atMost(COMMAND)
                    .pollInterval(Duration.ofSeconds(1))
                    .until(() -> client("kizuna:transports"), out -> out.contains("available"));
            assertTrue("kizuna:transports shows tcp available:\n" + transports,
                    Pattern.compile("(?m)^tcp\\s+100\\s+available\\b").matcher(transports).find());
            assertNoError("kizuna:transports", transports);
            // netty-tcnative's classes and BoringSSL fragment load in Karaf: websocket runs TLS on them
            String websocket = await("kizuna:transports to list websocket on OpenSSL").atMost(COMMAND)
                    .pollInterval(Duration.ofSeconds(1))
                    .until(() -> client("kizuna:transports"), out -> out.contains("websocket"));
            assertTrue("kizuna:transports shows websocket on OpenSSL (BoringSSL):\n" + websocket,
                    Pattern.compile("(?m)^websocket\\s+50\\s+available\\b.*openssl \\(BoringSSL\\)")
                            .matcher(websocket).find());
            // and quiche's BoringSSL beside it: the native fragments are installed, not left out as dependencies
            assertTrue("kizuna:transports shows quic available:\n" + websocket,
                    Pattern.compile("(?m)^quic\\s+200\\s+available\\b").matcher(websocket).find());

            String bundles = client("bundle:list -s -t 0");
            for (String b : BUNDLES) {
                assertTrue("bundle " + b + " active:\n" + bundles,
                        Pattern.compile("(?m)\\bActive\\b[^\\n]*\\b" + Pattern.quote(b) + "\\b").matcher(bundles).find());
            }

            String id = client("kizuna:id");
            Matcher peerId = PEER_ID.matcher(id);
            assertTrue("kizuna:id prints a PeerId:\n" + id, peerId.find());
            assertTrue("kizuna:id shows the loopback tcp endpoint of etc/io.kizuna.core.cfg:\n" + id,
                    Pattern.compile("tcp://127\\.0\\.0\\.1:[1-9]\\d*").matcher(id).find());

            // the default configuration of the feature is in etc/, and an operator's file is kept
            assertTrue("kizuna:id shows the websocket endpoint of the same list:\n" + id,
                    Pattern.compile("websocket://127\\.0\\.0\\.1:[1-9]\\d*").matcher(id).find());
            assertTrue(Files.readString(karaf.resolve("etc/io.kizuna.core.cfg")).contains("listen = " + LISTEN));
            assertTrue("etc/io.kizuna.tcp.cfg installed", Files.isRegularFile(karaf.resolve("etc/io.kizuna.tcp.cfg")));
            assertTrue("etc/io.kizuna.identity.cfg installed",
                    Files.isRegularFile(karaf.resolve("etc/io.kizuna.identity.cfg")));
            Path key = karaf.resolve("etc/kizuna-node.key");
            assertTrue("the node key is kept in etc/ as configured", Files.isRegularFile(key));
            assertEquals("the node key is owner-only", EnumSet.of(PosixFilePermission.OWNER_READ,
                    PosixFilePermission.OWNER_WRITE), Files.getPosixFilePermissions(key));

            assertDefaultConfiguration();

            // the identity does not change once Karaf's file watcher has seen etc/ (no second activation)
            String first = peerId.group(1);
            await("the PeerId to stay " + first).during(Duration.ofSeconds(3)).atMost(COMMAND)
                    .pollInterval(Duration.ofSeconds(1)).until(() -> peerIdNow(), first::equals);

            // the Karaf node reaches another node over TLS on Netty: connect, ping, and it is listed as a peer
            String address = peer.address().toString();
            String other = peer.address().peerId().shortForm();
            String ping = client("kizuna:connect " + address + "\nkizuna:ping " + address + " 2\nkizuna:peers\n");
            assertNoError("kizuna:connect, ping and peers", ping);
            assertTrue("connected over tcp:\n" + ping, ping.contains("connected to " + peer.address().peerId() + " over tcp"));
            assertTrue("two ping replies over tcp:\n" + ping,
                    Pattern.compile("(?m)^reply 2 from " + Pattern.quote(other) + " via tcp://").matcher(ping).find());
            assertTrue("kizuna:peers lists the peer:\n" + ping,
                    Pattern.compile("(?m)^" + Pattern.quote(other) + "\\s+tcp\\s+outbound\\b").matcher(ping).find());

            // the example application, one feature: files:send reaches the other node's receiver
            assertNoError("feature:install kizuna-example-files", client("feature:install kizuna-example-files\n"));
            Path file = Files.writeString(karaf.resolve("hello.txt"), "hello from karaf\n");
            String folder = await("files:folder to answer").atMost(COMMAND).pollInterval(Duration.ofSeconds(1))
                    .until(() -> client("files:folder"), out -> out.contains("received"));
            assertTrue("received files go to Karaf's data folder:\n" + folder,
                    folder.contains(karaf.resolve("data/received").toString()));
            String sent = client("files:send " + address + " " + file);
            assertTrue("files:send reports the stored name:\n" + sent,
                    sent.contains("sent hello.txt (17 bytes) to " + other + " as hello.txt over tcp"));
            assertEquals("hello from karaf\n", Files.readString(peer.home().resolve("received/hello.txt")));

            changeConfigurationLive(process, first);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n--- karaf.log (end):\n" + tail(karaf.resolve("data/log/karaf.log"))
                    + (peer == null ? "" : "\n--- the other node:\n" + peer.output()), e);
        } finally {
            if (peer != null) {
                peer.close();
            }
            stop(process);
        }
    }

    /**
     * Every PID has its configuration in ConfigAdmin, backed by etc/&lt;pid&gt;.cfg, and none sets a value beyond
     * Karaf's bookkeeping: the shipped files only document the defaults, so each component runs on its code's
     * defaults (kizuna:transports shows tcp and quic at their default priorities). The exceptions are the
     * operator's core file and the feature's one Karaf default, the node key in etc/. The file's comments are not
     * checked: Karaf's file watcher sometimes writes the new configuration to etc/ before the feature installer
     * copies the documented file, which it then keeps.
     */
    private void assertDefaultConfiguration() throws IOException {
        // the runtime's etc/ has a file for each PID (DefaultConfigsTest): the feature must ship every one of them
        List<String> pids;
        try (Stream<Path> files = Files.list(Path.of(Itest.property(Itest.DIST)).resolve("etc"))) {
            pids = files.map(f -> f.getFileName().toString())
                    .filter(n -> n.startsWith("io.kizuna.") && n.endsWith(".cfg"))
                    .map(n -> n.substring(0, n.length() - ".cfg".length())).sorted().toList();
        }
        assertTrue("the runtime's default files cover every PID: " + pids, pids.containsAll(PIDS));
        String configs = client("config:list \"(service.pid=io.kizuna.*)\"");
        Map<String, Map<String, String>> byPid = new TreeMap<>();
        Map<String, String> current = null;
        for (String line : configs.split("\\R")) {
            Matcher pid = CONFIG_PID.matcher(line);
            Matcher property = CONFIG_PROPERTY.matcher(line);
            if (pid.matches()) {
                current = new TreeMap<>();
                byPid.put(pid.group(1), current);
            } else if (current != null && property.matches()) {
                current.put(property.group(1), property.group(2));
            }
        }
        for (String pid : pids) {
            assertTrue("configuration " + pid + " in ConfigAdmin:\n" + configs, byPid.containsKey(pid));
            assertTrue("etc/" + pid + ".cfg installed", Files.isRegularFile(karaf.resolve("etc/" + pid + ".cfg")));
            Map<String, String> set = new TreeMap<>(byPid.get(pid));
            set.keySet().removeAll(BOOKKEEPING);
            Map<String, String> expected = switch (pid) {
                case "io.kizuna.core" -> Map.of("listen", LISTEN);
                case "io.kizuna.identity" -> Map.of("keyFile", karaf.resolve("etc/kizuna-node.key").toString());
                default -> Map.of();
            };
            assertEquals("the values " + pid + " sets:\n" + configs, expected, set);
        }
        String transports = client("kizuna:transports");
        assertTrue("tcp and quic at their default priorities:\n" + transports,
                Pattern.compile("(?m)^tcp\\s+100\\b").matcher(transports).find()
                        && Pattern.compile("(?m)^quic\\s+200\\b").matcher(transports).find());
    }

    /**
     * Configuration changed while Karaf runs, once with config:property-set and once by editing etc/: the
     * transports pick up the new priority (a property of their service, shown by kizuna:transports), Karaf
     * keeps running and the node keeps its identity.
     */
    private void changeConfigurationLive(Process process, String peerId) throws IOException {
        String set = client("config:property-set -p io.kizuna.tcp kizuna.transport.priority 150");
        assertNoError("config:property-set", set);
        String transports = await("tcp at priority 150").atMost(COMMAND).pollInterval(Duration.ofSeconds(1))
                .until(() -> client("kizuna:transports"),
                        out -> Pattern.compile("(?m)^tcp\\s+150\\s+available\\b").matcher(out).find());
        assertNoError("kizuna:transports", transports);
        await("etc/io.kizuna.tcp.cfg to hold the new priority").atMost(COMMAND).pollInterval(Duration.ofMillis(500))
                .until(() -> Files.readString(karaf.resolve("etc/io.kizuna.tcp.cfg"), StandardCharsets.UTF_8),
                        text -> Pattern.compile("(?m)^kizuna\\.transport\\.priority\\s*=\\s*150\\s*$")
                                .matcher(text).find());

        Path quic = karaf.resolve("etc/io.kizuna.quic.cfg");
        Files.writeString(quic, Files.readString(quic, StandardCharsets.UTF_8) + "\nkizuna.transport.priority = 42\n",
                StandardCharsets.UTF_8);
        await("quic at priority 42 after etc/io.kizuna.quic.cfg was edited").atMost(COMMAND)
                .pollInterval(Duration.ofSeconds(1)).until(() -> client("kizuna:transports"),
                        out -> Pattern.compile("(?m)^quic\\s+42\\b").matcher(out).find());

        assertTrue("Karaf was not restarted", process.isAlive());
        assertEquals("the node kept its identity", peerId, peerIdNow());
    }

    private String peerIdNow() {
        Matcher m = PEER_ID.matcher(client("kizuna:id"));
        return m.find() ? m.group(1) : null;
    }

    private static void assertNoError(String what, String output) {
        assertFalse(what + " reported an error:\n" + output,
                output.contains("Error executing command") || output.contains("Unable to resolve")
                        || output.contains("Command not found") || output.contains("Exception"));
    }

    // ------------------------------------------------------------------ Karaf set-up

    private Path unpack() throws IOException, InterruptedException {
        Path archive = Path.of(Itest.property(Itest.KARAF_ARCHIVE));
        assertTrue("the Karaf archive was fetched by the build: " + archive, Files.isRegularFile(archive));
        Path work = Itest.workFolder("karaf");
        // tar, not the dependency plugin's unpack: that one drops most of system/
        run(work, Duration.ofSeconds(120), "tar", "-xzf", archive.toString(), "-C", work.toString());
        try (Stream<Path> s = Files.list(work)) {
            Path home = s.filter(p -> p.getFileName().toString().startsWith("apache-karaf-")).findFirst()
                    .orElseThrow(() -> new AssertionError("no apache-karaf-* folder in " + archive));
            assertTrue("system/ unpacked", Files.isDirectory(home.resolve("system/org/apache/karaf")));
            return home;
        }
    }

    /** Offline Maven from the local repository, free loopback ports, the karaf user, loopback Kizuna. */
    private void configure() throws IOException {
        Path etc = karaf.resolve("etc");
        String local = Path.of(Itest.property(Itest.LOCAL_REPOSITORY)).toAbsolutePath().toString();
        String localUri = Path.of(local).toUri().toString();
        Files.writeString(etc.resolve("org.ops4j.pax.url.mvn.cfg"), String.join("\n",
                "# Offline: Karaf's own system/ repository and the build's local repository, nothing else.",
                "org.ops4j.pax.url.mvn.localRepository=" + local,
                "org.ops4j.pax.url.mvn.offline=true",
                "org.ops4j.pax.url.mvn.useFallbackRepositories=false",
                "org.ops4j.pax.url.mvn.defaultRepositories=${karaf.home.uri}${karaf.default.repository}"
                        + "@id=system.repository@snapshots, ${karaf.data.uri}kar@id=kar.repository@multi@snapshots, "
                        + localUri + "@id=local@snapshots",
                "org.ops4j.pax.url.mvn.repositories=",
                ""), StandardCharsets.UTF_8);

        sshPort = freePort();
        replace(etc.resolve("org.apache.karaf.shell.cfg"), Map.of("sshPort", String.valueOf(sshPort),
                "sshHost", "127.0.0.1"));
        replace(etc.resolve("org.apache.karaf.management.cfg"), Map.of(
                "rmiRegistryPort", String.valueOf(freePort()), "rmiServerPort", String.valueOf(freePort()),
                "rmiRegistryHost", "127.0.0.1", "rmiServerHost", "127.0.0.1"));

        Path users = etc.resolve("users.properties");
        String u = Files.readString(users, StandardCharsets.UTF_8);
        u = u.replace("#karaf = karaf,_g_:admingroup", "karaf = karaf,_g_:admingroup")
                .replace("#_g_\\:admingroup = group,admin,manager,viewer,systembundles,ssh",
                        "_g_\\:admingroup = group,admin,manager,viewer,systembundles,ssh");
        assertTrue("the karaf user enabled in " + users, u.contains("\nkaraf = karaf,_g_:admingroup"));
        Files.writeString(users, u, StandardCharsets.UTF_8);

        // an operator's own core configuration, present before the feature: it must be kept
        // (a list: Karaf's FileInstall hands it over as one comma-separated string)
        Files.writeString(etc.resolve("io.kizuna.core.cfg"), "# loopback only, free ports\nlisten = " + LISTEN + "\n",
                StandardCharsets.UTF_8);
    }

    private Process start() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(karaf.resolve("bin/karaf").toString(), "server");
        pb.directory(karaf.toFile());
        env(pb);
        pb.redirectErrorStream(true).redirectOutput(karaf.resolve("karaf.out").toFile());
        Process p = pb.start();
        // if this JVM is killed before the test's finally runs, Karaf must not outlive it
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }, "stop-karaf"));
        return p;
    }

    private void env(ProcessBuilder pb) {
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("KARAF_HOME", karaf.toString());
        pb.environment().remove("KARAF_BASE");
        pb.environment().remove("KARAF_ETC");
        pb.environment().remove("KARAF_DATA");
        pb.environment().put("JAVA_MAX_MEM", "512M");
    }

    /** bin/stop, as an operator would; then, whatever happened, no Karaf process is left. */
    private void stop(Process process) throws IOException, InterruptedException {
        // bin/karaf runs the JVM as its child: remember it now, while the script still holds it
        List<ProcessHandle> jvms = new ArrayList<>(process.descendants().toList());
        // a test that timed out arrives here interrupted: stop anyway, then keep the interrupt
        boolean interrupted = Thread.interrupted();
        try {
            ProcessBuilder pb = new ProcessBuilder(karaf.resolve("bin/stop").toString());
            pb.directory(karaf.toFile());
            env(pb);
            pb.redirectErrorStream(true).redirectOutput(karaf.resolve("stop.out").toFile());
            Process stop = pb.start();
            if (!stop.waitFor(STOP.toSeconds(), TimeUnit.SECONDS)) {
                stop.destroyForcibly();
            }
            process.waitFor(STOP.toSeconds(), TimeUnit.SECONDS);
            for (ProcessHandle jvm : jvms) {
                jvm.onExit().get(STOP.toSeconds(), TimeUnit.SECONDS);
            }
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // not stopped in time: killed below
        } finally {
            jvms.addAll(process.descendants().toList());
            jvms.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(STOP.toSeconds(), TimeUnit.SECONDS);
            for (ProcessHandle jvm : jvms) {
                try {
                    jvm.onExit().get(STOP.toSeconds(), TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    throw new AssertionError("Karaf process " + jvm.pid() + " did not exit", e);
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ------------------------------------------------------------------ the client

    private String clientOrNull(String commands) {
        try {
            return client(commands);
        } catch (AssertionError e) {
            return null;
        }
    }

    /** Runs commands through bin/client in batch mode (commands on stdin). */
    private String client(String commands) {
        try {
            Path in = Files.createTempFile(karaf, "commands", ".txt");
            Files.writeString(in, commands.endsWith("\n") ? commands : commands + "\n", StandardCharsets.UTF_8);
            ProcessBuilder pb = new ProcessBuilder(karaf.resolve("bin/client").toString(), "-h", "127.0.0.1", "-a",
                    String.valueOf(sshPort), "-u", "karaf", "-p", "karaf", "-r", "1", "-b");
            pb.directory(karaf.toFile());
            env(pb);
            Path out = Files.createTempFile(karaf, "client", ".out");
            pb.redirectErrorStream(true).redirectInput(in.toFile()).redirectOutput(out.toFile());
            Process p = pb.start();
            if (!p.waitFor(COMMAND.toSeconds(), TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new AssertionError("bin/client did not finish within " + COMMAND.toSeconds() + " s: " + commands);
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            Files.deleteIfExists(in);
            Files.deleteIfExists(out);
            if (p.exitValue() != 0) {
                throw new AssertionError("bin/client exited with " + p.exitValue() + " for '" + commands.trim()
                        + "':\n" + text);
            }
            return text;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted");
        }
    }

    // ------------------------------------------------------------------ helpers

    private static void replace(Path file, Map<String, String> values) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
        for (Map.Entry<String, String> v : values.entrySet()) {
            Pattern key = Pattern.compile("^\\s*" + Pattern.quote(v.getKey()) + "\\s*=.*$");
            boolean found = false;
            for (int i = 0; i < lines.size(); i++) {
                if (key.matcher(lines.get(i)).matches()) {
                    lines.set(i, v.getKey() + " = " + v.getValue());
                    found = true;
                }
            }
            if (!found) {
                lines.add(v.getKey() + " = " + v.getValue());
            }
        }
        Files.write(file, lines, StandardCharsets.UTF_8);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void run(Path dir, Duration timeout, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("tar.out").toFile()).start();
        if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s");
        }
        assertEquals(String.join(" ", command) + ": " + Files.readString(dir.resolve("tar.out")), 0, p.exitValue());
    }

    private static String tail(Path file) {
        try {
            if (!Files.exists(file)) {
                return "(no " + file + ")";
            }
            List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }
}
