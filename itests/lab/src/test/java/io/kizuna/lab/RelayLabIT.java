package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two peers behind symmetric NATs, each in its own site, and a relay on the
 * public segment, all three full Kizuna nodes from the runtime distribution.
 * The peers cannot reach each other directly (neither has an address the other
 * can dial; symmetric mappings defeat hole punching); B keeps a reservation on the
 * relay, A reaches B through it: {@code kizuna:ping} says {@code via relay <id>},
 * and 24 MiB go to B and back (at the default 4 MiB/s per circuit) with matching SHA-256. Both peers have WebRTC,
 * so A also tries to upgrade to a direct WebRTC connection signaled over the
 * relay; with no STUN server and symmetric NATs ICE finds no path, the failure is
 * logged (and the upgrade tried again later), and the relay goes on carrying
 * everything.
 */
class RelayLabIT {

    private static final String RELAY_IP = Lab.STUN_3; // the public segment's address of our own STUN server, free here
    private static final int RELAY_PORT = 7400;
    /** The relay's endpoint, as peers reach it. */
    static final String RELAY_TCP = "tcp://" + RELAY_IP + ":" + RELAY_PORT;
    private static final Pattern READY = Pattern.compile("node ready: (\\S+)");

    /** Echoed through the relay, MiB each way. */
    private static final long ECHO_MIB = 24;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void peersBehindSymmetricNatsTalkThroughARelay() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "relay");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.SYMMETRIC);
            Lab.Site b = lab.addSite(Lab.Nat.SYMMETRIC);
            Path dist = distribution(work);

            String relayId = startRelay(lab, work, dist);
            Path relayOut = work.resolve("relay.out");

            // B: listens only through the relay.
            Path bOut = work.resolve("b.out");
            Process bNode = lab.start(b.client(), bOut, node(dist, work.resolve("b-home"),
                    "--listen", "relay://" + relayId + "@" + RELAY_TCP));
            String bAddress = ready(bOut, bNode);
            assertThat(bAddress).as("B's address names only the relay").contains("@relay://" + relayId + "@tcp://")
                    .doesNotContain(",");

            // A: a direct dial to B's own address inside its site fails, then ping and 24 MiB through the relay, which
            // runs a public relay's defaults: 4 MiB/s per circuit, so the echo takes about 6 s each way.
            String bId = bAddress.substring(0, bAddress.indexOf('@'));
            Lab.Result direct = lab.tryRun(a.client(), node(dist, work.resolve("a-home"), "--listen",
                    "tcp://" + a.clientIp() + ":0", "--wait", "60", "-c", "kizuna:connect " + bId + "@tcp://"
                            + b.clientIp() + ":7400"));
            assertThat(direct.exit()).as("direct dial to B:\n" + direct.output()).isEqualTo(1);

            Path aHome = freshLogs(work.resolve("a-home"));
            Lab.Result run = lab.tryRun(a.client(), node(dist, aHome, "--listen",
                    "tcp://" + a.clientIp() + ":0", "--wait", "60", "-c",
                    "kizuna:ping " + bAddress + " 3; itest:echo " + bAddress + " " + ECHO_MIB + "; kizuna:ping " + bAddress
                            + " 10"));
            String out = run.output();
            assertThat(run.exit()).as("A's commands:\n" + out + "\n--- B:\n" + read(bOut) + "\n--- relay:\n"
                    + read(relayOut)).isZero();
            assertThat(out).contains("via relay " + relayId);
            assertThat(out).contains("3 received");
            Matcher sent = Pattern.compile("sent (\\d+) bytes sha256 ([0-9a-f]{64})").matcher(out);
            Matcher echoed = Pattern.compile("echoed (\\d+) bytes sha256 ([0-9a-f]{64})").matcher(out);
            assertThat(sent.find() && echoed.find()).as(out).isTrue();
            assertThat(sent.group(1)).isEqualTo(String.valueOf(ECHO_MIB * 1024 * 1024));
            assertThat(echoed.group(1)).isEqualTo(sent.group(1));
            assertThat(echoed.group(2)).as("SHA-256 of what came back").isEqualTo(sent.group(2));
            assertThat(out).contains("sha256 match over relay://" + relayId);
            String aLog = read(aHome.resolve("logs/kizuna.log"));
            // The first attempt fails when its 10 s connect timeout runs out, the next is due 10 s later.
            assertThat(aLog).as(aLog).contains("upgrading the relayed connection to")
                    .contains("failed (attempt 1 of 3)").contains("next attempt in 10000 ms");
            assertThat(out).as("every ping through the relay").doesNotContain("via webrtc").contains("10 received");
            System.out.println(out);
        }
    }

    /**
     * Starts a relay on the public segment at {@value #RELAY_PORT} of {@link #RELAY_IP}:
     * public, so it serves the routers' public addresses with its default policy.
     * Its output goes to {@code relay.out} in the work folder.
     *
     * @return the relay's PeerId
     */
    static String startRelay(Lab lab, Path work, Path dist) throws InterruptedException {
        Path relayOut = work.resolve("relay.out");
        Process relay = lab.start(lab.pub(), relayOut, node(dist, work.resolve("relay-home"),
                "--listen", RELAY_TCP, "--relay"));
        String relayAddress = ready(relayOut, relay);
        return relayAddress.substring(0, relayAddress.indexOf('@'));
    }

    /**
     * @param home a node's home folder
     * @return the folder, its logs of earlier runs deleted (their lines would satisfy the assertions)
     */
    static Path freshLogs(Path home) throws IOException {
        Path logs = home.resolve("logs");
        if (Files.isDirectory(logs)) {
            try (Stream<Path> files = Files.list(logs)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.delete(f);
                }
            }
        }
        return home;
    }

    /** Copies the runtime distribution with the echo test bundle (handler and itest:echo) added. */
    static Path distribution(Path work) throws IOException {
        Path from = Path.of(System.getProperty("lab.dist"));
        Path to = work.resolve("dist");
        if (!Files.isRegularFile(from.resolve("bin/kizuna"))) {
            throw new AssertionError("no runtime distribution at " + from + ": build the runtime module first");
        }
        try (Stream<Path> files = Files.walk(from)) {
            for (Path src : (Iterable<Path>) files::iterator) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        Files.copy(Path.of(System.getProperty("lab.echoBundle")), to.resolve("bundle/itest-echo.jar"),
                StandardCopyOption.REPLACE_EXISTING);
        return to;
    }

    static String[] node(Path dist, Path home, String... args) {
        List<String> cmd = new ArrayList<>(List.of("env", "JAVA_HOME=" + System.getProperty("java.home"),
                "JAVA_OPTS=-Xmx256m -XX:+UseSerialGC", dist.resolve("bin/kizuna").toString(), "--home",
                home.toString()));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    static String ready(Path out, Process p) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            Matcher m = READY.matcher(read(out));
            if (m.find()) {
                return m.group(1);
            }
            if (!p.isAlive()) {
                throw new AssertionError("node exited with " + p.exitValue() + " before it was ready:\n" + read(out));
            }
            Thread.sleep(100);
        }
        throw new AssertionError("node not ready after 90 s:\n" + read(out));
    }

    static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + f + ": " + e + ")";
        }
    }
}
