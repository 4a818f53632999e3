package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * WebRTC's ICE through the lab's NAT routers: two peers, each behind its own
 * router, find a path by themselves. Behind cone NATs they meet on
 * server-reflexive candidates learnt from coturn's STUN service; behind
 * symmetric NATs, whose mapping changes per destination, only coturn's TURN
 * relay works (with {@code relayOnly}: see docs/architecture.md, known problems,
 * for the pair ICE picks between them by default). Each peer runs in its own JVM in its site's client namespace and
 * reports the candidate pair ICE selected.
 *
 * <p>Signaling needs some path to the listening peer: here a TCP port forward on
 * its router to its WebSocket signaling endpoint (through a relay instead:
 * {@link RelayUpgradeLabIT}). ICE does not use that path.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class WebRtcLabIT {

    private static final int SIGNAL_PORT = 7402;
    private static final String USER = "kizuna";
    private static final String PASSWORD = "lab-secret";
    /** The lab's own networks: sites' LANs and the public segment; no candidate outside them is used. */
    private static final String NETWORKS = "10.0.0.0/8,203.0.113.0/24,198.51.100.0/24";
    private static final long BYTES = 4L * 1024 * 1024;

    private static Lab lab;
    private static Lab.Site coneA;
    private static Lab.Site coneB;
    private static Lab.Site symmetricA;
    private static Lab.Site symmetricB;

    @BeforeAll
    static void build() {
        lab = Lab.open(Path.of(System.getProperty("lab.work", "target/lab-work"), "webrtc"));
        coneA = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
        coneB = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
        symmetricA = lab.addSite(Lab.Nat.SYMMETRIC);
        symmetricB = lab.addSite(Lab.Nat.SYMMETRIC);
        lab.startCoturn();
        lab.startTurnServer(USER, PASSWORD);
        for (Lab.Site listener : List.of(coneB, symmetricB)) {
            lab.forwardTcp(listener, SIGNAL_PORT);
        }
    }

    @AfterAll
    static void teardown() {
        if (lab != null) {
            lab.close();
        }
    }

    /** The tool's class path: the webrtc bundle (libwebrtc inside), the api, identity and Netty. */
    static String classpath() {
        Set<String> parts = new LinkedHashSet<>();
        for (String c : List.of("io.kizuna.webrtc.internal.WebRtcTool", "io.kizuna.transport.PeerId",
                "io.kizuna.identity.Identities", "io.netty.util.concurrent.Future", "io.netty.buffer.ByteBuf",
                "io.netty.resolver.AddressResolver", "io.netty.channel.Channel", "io.netty.channel.unix.Socket",
                "io.netty.handler.codec.ByteToMessageDecoder", "io.netty.handler.ssl.SslHandler",
                "io.netty.handler.codec.http.HttpServerCodec",
                "io.netty.handler.codec.compression.ZlibCodecFactory")) {
            try {
                parts.add(Path.of(Class.forName(c).getProtectionDomain().getCodeSource().getLocation().toURI())
                        .toString());
            } catch (ClassNotFoundException | URISyntaxException e) {
                throw new IllegalStateException("the lab's class path lacks " + c, e);
            }
        }
        return String.join(":", parts);
    }

    private static String[] tool(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "-Xmx128m", "-cp", classpath(), "io.kizuna.webrtc.internal.WebRtcTool"));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    private record Run(String dialer, String listener) {
    }

    private Run connect(Lab.Site from, Lab.Site to, String... ice) throws Exception {
        return connect(from, to, BYTES, ice);
    }

    private Run connect(Lab.Site from, Lab.Site to, long bytes, String... ice) throws Exception {
        for (Lab.Site s : List.of(from, to)) {
            lab.run(s.router(), "conntrack", "-F");
        }
        List<String> listen = new ArrayList<>(List.of("listen", to.clientIp() + ":" + SIGNAL_PORT,
                "--networks", NETWORKS));
        listen.addAll(List.of(ice));
        Path log = Files.createTempFile(lab.work(), "listener-", ".log");
        Process listener = lab.start(to.client(), log, tool(listen.toArray(String[]::new)));
        String address = awaitLine(log, listener, "listening ").replace(to.clientIp(), to.wanIp());
        List<String> dial = new ArrayList<>(List.of("dial", address, Long.toString(bytes), "--networks", NETWORKS));
        dial.addAll(List.of(ice));
        Lab.Result r = lab.tryRun(from.client(), tool(dial.toArray(String[]::new)));
        if (!listener.waitFor(30, TimeUnit.SECONDS)) {
            listener.destroy(); // nobody connected: free its port for the next test
            listener.waitFor(10, TimeUnit.SECONDS);
        }
        String listened = Files.readString(log);
        System.out.println(from.nat() + " -> " + to.nat() + ":\n" + r.output() + "listener:\n" + listened);
        assertThat(r.output()).as(r.output() + "\nlistener:\n" + listened).contains("echo sha256 ok");
        return new Run(r.output(), listened);
    }

    private static String awaitLine(Path log, Process p, String prefix) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            for (String line : Files.readAllLines(log)) {
                if (line.startsWith(prefix)) {
                    return line.substring(prefix.length()).trim();
                }
            }
            if (!p.isAlive()) {
                throw new AssertionError("the listener exited: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + prefix + "' from the listener: " + Files.readString(log));
    }

    /** The candidate types of the pair a peer printed: {@code connected ... over <type> ip:port -> <type> ip:port}. */
    private static List<String> pair(String output, String prefix) {
        Matcher m = Pattern.compile(prefix + ".* over (\\w+) \\S+ -> (\\w+) \\S+").matcher(output);
        assertThat(m.find()).as(output).isTrue();
        return List.of(m.group(1), m.group(2));
    }

    @Test
    void peersBehindConeNatsMeetOnServerReflexiveCandidates() throws Exception {
        Run run = connect(coneA, coneB, "--stun", Lab.STUN_1 + ":3478");
        List<String> dialer = pair(run.dialer(), "connected");
        List<String> listener = pair(run.listener(), "accepted");
        assertThat(dialer).as("no relay between cone NATs").doesNotContain("relay");
        // Each side's own candidate is its NAT mapping, learnt from STUN (srflx) or from the peer's checks (prflx).
        assertThat(List.of(dialer.get(0), listener.get(0))).as("local candidates").allMatch(t -> t.equals("srflx")
                || t.equals("prflx")).contains("srflx");
        assertThat(run.dialer()).contains(" -> ").contains(coneB.wanIp());
    }

    @Test
    void peersBehindSymmetricNatsWithRelayOnlyMoveBulkDataThroughTheTurnRelay() throws Exception {
        Run run = connect(symmetricA, symmetricB, BYTES, "--relay-only", "--turn",
                Lab.STUN_2 + ":" + Lab.TURN_PORT, "--turn-user", USER, "--turn-password", PASSWORD);
        assertThat(pair(run.dialer(), "connected")).containsExactly("relay", "relay");
        assertThat(pair(run.listener(), "accepted")).containsExactly("relay", "relay");
    }

    @Test
    void symmetricNatsWithoutTurnDoNotConnect() throws Exception {
        for (Lab.Site s : List.of(symmetricA, symmetricB)) {
            lab.run(s.router(), "conntrack", "-F");
        }
        Path log = Files.createTempFile(lab.work(), "listener-", ".log");
        Process listener = lab.start(symmetricB.client(), log, tool("listen", symmetricB.clientIp() + ":"
                + SIGNAL_PORT, "--networks", NETWORKS, "--stun", Lab.STUN_1 + ":3478"));
        Lab.Result r;
        try {
            String address = awaitLine(log, listener, "listening ").replace(symmetricB.clientIp(),
                    symmetricB.wanIp());
            r = lab.tryRun(symmetricA.client(), tool("dial", address, "1024", "--networks", NETWORKS,
                    "--stun", Lab.STUN_1 + ":3478"));
        } finally {
            listener.destroy();
            listener.waitFor(10, TimeUnit.SECONDS);
        }
        System.out.println("symmetric without TURN:\n" + r.output());
        assertThat(r.exit()).as(r.output()).isNotZero();
        assertThat(r.output()).doesNotContain("echo sha256 ok");
    }
}
