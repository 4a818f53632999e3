package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the assembled distribution as a user does, through {@code bin/kizuna}:
 * two nodes on loopback, commands with {@code -c}, a daemon stopped by SIGTERM.
 * It fails when the distribution misses a bundle, a bundle does not resolve, or
 * the launcher's exit statuses are wrong.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DistributionIT {

    private static final Path DIST = Path.of(System.getProperty("kizuna.dist", "target/kizuna"));
    private static final String LOOPBACK = "tcp://127.0.0.1:0";
    private static final Pattern READY = Pattern.compile("node ready: (\\S+)");
    private static final Pattern PEER_ID = Pattern.compile("peer id\\s+([a-z2-7]{52})");

    @TempDir
    Path dir;

    private final List<Process> started = new ArrayList<>();

    /** What a finished run printed. */
    record Result(int status, String out, String err) {
    }

    @AfterEach
    void stopEverything() throws InterruptedException {
        for (Process p : started) {
            p.destroyForcibly();
            // the temporary folder is deleted next: nothing may still write into it
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("a node ended after SIGKILL").isTrue();
        }
    }

    private ProcessBuilder kizuna(List<String> args, Path stdout, Path stderr) {
        return kizuna(DIST, args, stdout, stderr);
    }

    private ProcessBuilder kizuna(Path dist, List<String> args, Path stdout, Path stderr) {
        List<String> command = new ArrayList<>();
        command.add(dist.resolve("bin/kizuna").toString());
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().remove("KIZUNA_HOME");
        // No terminal: stdin from /dev/null, output to files (a pipe nobody reads could block the node).
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.redirectOutput(stdout.toFile());
        pb.redirectError(stderr.toFile());
        return pb;
    }

    private Result run(String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        Process p = kizuna(List.of(args), out, err).start();
        started.add(p);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("kizuna %s finished within 120 s", List.of(args)).isTrue();
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /** A daemon node and the address it printed once ready. */
    record Daemon(Process process, String address, Path home, Path out) {
        String peerId() {
            return address.substring(0, address.indexOf('@'));
        }
    }

    private Daemon daemon(String name) throws IOException {
        Path home = dir.resolve(name);
        Path out = dir.resolve(name + ".out");
        Process p = kizuna(List.of("--home", home.toString(), "--listen", LOOPBACK), out, dir.resolve(name + ".err"))
                .start();
        started.add(p);
        String[] address = new String[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() -> {
            assertThat(p.isAlive()).as("node %s is running; its output: %s", name, Files.readString(out)).isTrue();
            Matcher m = READY.matcher(Files.readString(out));
            if (m.find()) {
                address[0] = m.group(1);
                return true;
            }
            return false;
        });
        return new Daemon(p, address[0], home, out);
    }

    @Test
    void idPrintsThePeerIdAndTheNodeKeepsItAcrossRestarts() throws Exception {
        String home = dir.resolve("a").toString();
        Result first = run("--home", home, "--listen", LOOPBACK, "-c", "kizuna:id");
        assertThat(first.status()).as("exit status; stderr: %s", first.err()).isZero();
        Matcher m = PEER_ID.matcher(first.out());
        assertThat(m.find()).as("a peer id in %s", first.out()).isTrue();
        assertThat(first.out()).containsPattern("listening\\s+tcp://127\\.0\\.0\\.1:\\d+")
                .contains("address    " + m.group(1) + "@tcp://127.0.0.1:");

        Result second = run("--home", home, "--listen", LOOPBACK, "-c", "kizuna:id");
        assertThat(second.status()).isZero();
        assertThat(second.out()).contains("peer id    " + m.group(1));
    }

    @Test
    void everyBundleOfTheDistributionIsActive() throws Exception {
        Result r = run("--home", dir.resolve("b").toString(), "--listen", LOOPBACK, "-c", "lb; kizuna:transports");
        assertThat(r.status()).as("exit status; stderr: %s", r.err()).isZero();
        List<String> bundles = r.out().lines().filter(l -> l.matches("\\s*\\d+\\|.*")).toList();
        // the native libraries of quiche, epoll and OpenSSL are fragments of their hosts: resolved, attached,
        // never started
        assertThat(bundles).hasSizeGreaterThanOrEqualTo(20)
                .allMatch(l -> l.contains("|Active") || l.contains("|Resolved")
                        && (l.contains("/Native/") || l.contains("[BoringSSL - Static]")),
                        "is Active (or a resolved native fragment)");
        assertThat(bundles).anyMatch(l -> l.contains("|Resolved") && l.contains("Native/Quic"))
                .anyMatch(l -> l.contains("|Resolved") && l.contains("Native/Epoll"))
                .anyMatch(l -> l.contains("|Resolved") && l.contains("[BoringSSL - Static]"))
                .anyMatch(l -> l.contains("|Active") && l.contains("[OpenSSL - Classes]"));
        assertThat(bundles).anyMatch(l -> l.contains("Kizuna Core")).anyMatch(l -> l.contains("Kizuna TCP"))
                .anyMatch(l -> l.contains("Kizuna QUIC")).anyMatch(l -> l.contains("Kizuna Shell"))
                .anyMatch(l -> l.contains("Kizuna Identity"));
        // the TLS column: tcp on the JDK's engine (it half-closes), websocket on OpenSSL, quic on quiche's
        assertThat(r.out()).containsPattern("tcp\\s+\\d+\\s+available\\s+reliable,ordered\\s+jdk \\(OpenSSL [^)]*\\)"
                + "\\s+tcp://127\\.0\\.0\\.1:\\d+");
        assertThat(r.out()).containsPattern("quic\\s+200\\s+available\\s+reliable,ordered,multiplexed\\S*\\s+"
                + "quiche \\(BoringSSL\\)");
        assertThat(r.out()).containsPattern("websocket\\s+50\\s+available\\s+reliable,ordered\\s+"
                + "openssl \\(BoringSSL\\)");
        assertThat(r.err()).as("stderr").doesNotContain("SEVERE").doesNotContain("Exception");
    }

    @Test
    void twoNodesConnectPingAndMeasureThenTheDaemonStopsOnSigterm() throws Exception {
        Daemon a = daemon("a");
        String prefix = a.peerId().substring(0, 10);
        Result b = run("--home", dir.resolve("b").toString(), "--listen", LOOPBACK, "-c",
                "kizuna:connect " + a.address() + "; kizuna:ping " + a.address() + " 3; kizuna:perf " + prefix
                        + " 8M; kizuna:peers; kizuna:metrics");
        assertThat(b.status()).as("exit status; stderr: %s; stdout: %s", b.err(), b.out()).isZero();
        assertThat(b.out()).containsPattern("connected to " + a.peerId() + " over tcp, remote 127\\.0\\.0\\.1:\\d+, in "
                + "[\\d.]+ m?s");
        assertThat(b.out().lines().filter(l -> l.matches("reply \\d from " + a.peerId().substring(0, 8)
                + " via tcp://127\\.0\\.0\\.1:\\d+: rtt [\\d.]+ m?s"))).hasSize(3);
        assertThat(b.out()).contains("3 sent, 3 received, 0% loss");
        assertThat(b.out()).containsPattern("upload\\s+8\\.0 MiB\\s+in\\s+[\\d.]+ s\\s+[\\d.]+ [MG]bit/s")
                .containsPattern("download\\s+8\\.0 MiB\\s+in\\s+[\\d.]+ s\\s+[\\d.]+ [MG]bit/s")
                .contains("transport tcp, peer " + a.peerId());
        assertThat(b.out()).containsPattern(a.peerId().substring(0, 8) + "\\s+tcp\\s+outbound\\s+127\\.0\\.0\\.1:\\d+");

        long start = System.nanoTime();
        a.process().destroy(); // SIGTERM
        assertThat(a.process().waitFor(10, TimeUnit.SECONDS)).as("the daemon stopped within 10 s").isTrue();
        assertThat(a.process().exitValue()).isZero();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(Files.readString(a.home().resolve("logs/kizuna.log"))).contains("node ready: " + a.address())
                .contains("node stopped");
        assertThat(Files.readString(a.out())).contains("node stopped");
    }

    @Test
    void aFailingCommandIsOneLineAndANonZeroStatus() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        Result id = run("--home", dir.resolve("c").toString(), "--listen", LOOPBACK, "-c", "kizuna:id");
        Matcher m = PEER_ID.matcher(id.out());
        assertThat(m.find()).isTrue();
        String home = dir.resolve("d").toString();

        Result refused = run("--home", home, "--listen", LOOPBACK, "-c",
                "kizuna:connect " + m.group(1) + "@tcp://127.0.0.1:" + closed + "; kizuna:id");
        assertThat(refused.status()).isEqualTo(1);
        assertThat(refused.err().lines()).as("stderr: %s", refused.err()).singleElement().asString()
                .startsWith("error: ").contains("127.0.0.1:" + closed).doesNotContain("Exception");
        assertThat(refused.out()).as("the command after the failing one did not run").doesNotContain("peer id");

        Result garbage = run("--home", home, "--listen", LOOPBACK, "-c", "kizuna:connect garbage");
        assertThat(garbage.status()).isEqualTo(1);
        assertThat(garbage.err().lines()).singleElement().asString()
                .isEqualTo("error: 'garbage' is not a peer address: write <peer-id>@tcp://ip:port");

        Result unknown = run("--home", home, "--listen", LOOPBACK, "-c", "kizuna:nope");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.err().lines()).singleElement().asString().contains("kizuna:nope");
    }

    @Test
    void theHomeConfigurationOverridesTheDefaults() throws Exception {
        Path home = dir.resolve("configured");
        Files.createDirectories(home.resolve("etc"));
        // No --listen: the endpoint comes from <home>/etc, not from the built-in tcp://127.0.0.1:7400.
        Files.writeString(home.resolve("etc/io.kizuna.core.cfg"), "listen = tcp://127.0.0.1:0\n");
        Result r = run("--home", home.toString(), "-c", "kizuna:id");
        assertThat(r.status()).as("exit status; stderr: %s", r.err()).isZero();
        Matcher m = Pattern.compile("listening\\s+tcp://127\\.0\\.0\\.1:(\\d+)").matcher(r.out());
        assertThat(m.find()).as("a listen endpoint in %s", r.out()).isTrue();
        assertThat(Integer.parseInt(m.group(1))).isNotEqualTo(7400).isPositive();
        assertThat(Files.readString(home.resolve("logs/kizuna.log")))
                .contains("configuration io.kizuna.core from").contains(home.resolve("etc/io.kizuna.core.cfg").toString());
    }

    @Test
    void aChangedHomeFileAppliesLiveOverTheDistributionsValues() throws Exception {
        // a distribution whose etc/ sets a value: its own copy, jars linked, etc/ written
        Path dist = dir.resolve("dist");
        try (var files = Files.walk(DIST)) {
            for (Path src : (Iterable<Path>) files::iterator) {
                Path dst = dist.resolve(DIST.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else if (src.toString().endsWith(".jar")) {
                    Files.createLink(dst, src);
                } else {
                    Files.copy(src, dst, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        Files.writeString(dist.resolve("etc/io.kizuna.tcp.cfg"), "kizuna.transport.priority = 110\n");
        Path home = dir.resolve("live");
        Files.createDirectories(home.resolve("etc"));
        Path tcp = home.resolve("etc/io.kizuna.tcp.cfg");
        Files.writeString(tcp, "ioThreads = 1\n");
        Path out = dir.resolve("live.out");
        Process p = kizuna(dist, List.of("--home", home.toString(), "--listen", LOOPBACK), out, dir.resolve("live.err"))
                .start();
        started.add(p);
        Path log = home.resolve("logs/kizuna.log");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                .until(() -> Files.exists(log) && Files.readString(log).contains("node ready: "));
        assertThat(Files.readString(log)).as("the distribution's value under the home file at start")
                .contains("transport tcp (priority 110) is available");

        // FileInstall sees the change; the component restarts with the home's keys over the distribution's
        Files.writeString(tcp, "ioThreads = 2\n");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> Files.readString(log).contains("transport tcp left"));
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
            String text = Files.readString(log);
            return text.substring(text.indexOf("transport tcp left")).contains("transport tcp (priority 110) is available");
        });
        // and a key the home file names wins, live
        Files.writeString(tcp, "ioThreads = 2\nkizuna.transport.priority = 130\n");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> Files.readString(log).contains("transport tcp (priority 130) is available"));
        assertThat(p.isAlive()).isTrue();
        assertThat(Files.readString(tcp)).as("the file is the user's: never written back")
                .isEqualTo("ioThreads = 2\nkizuna.transport.priority = 130\n");
    }

    @Test
    void usageErrorsExitWithTwo() throws Exception {
        Result r = run("--listen", "not-an-endpoint");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("'not-an-endpoint' is not an endpoint").contains("--help");
        Result help = run("--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("--home DIR", "--listen ENDPOINT", "-c COMMANDS");
    }

    @Test
    void twoNodesCannotShareAHome() throws Exception {
        Daemon a = daemon("shared");
        Result second = run("--home", a.home().toString(), "--listen", LOOPBACK, "-c", "kizuna:id");
        assertThat(second.status()).isEqualTo(1);
        assertThat(second.err()).contains("another node is running with home " + a.home());
    }
}
