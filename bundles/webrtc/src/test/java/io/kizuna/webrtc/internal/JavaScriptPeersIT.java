package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpServer;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Independent WebRTC stacks open DataChannels to a Java node: headless Chromium
 * running the node's own page, and Node with @roamhq/wrtc running the same
 * signaling module. Each checks the node's signed SDP with WebCrypto Ed25519 and
 * the DTLS certificate against it, sends bytes, and reads them echoed; the node
 * checks the peer's signed offer. Everything stays on 127.0.0.1.
 */
@Timeout(120)
class JavaScriptPeersIT {

    private static final int BYTES = 4 * 1024 * 1024;
    /** The receive window of kizuna-webrtc.js (its WINDOW). */
    private static final int JS_RECEIVE_WINDOW = 1024 * 1024;

    private final NodeIdentity node = Identities.generate();
    private WebRtcTransport transport;
    private Listener listener;
    private final BlockingQueue<Echoed> echoed = new LinkedBlockingQueue<>();

    /** What the node's side of a connection saw. */
    private record Echoed(String peer, long bytes, String sha256, String pair) {
    }

    @BeforeEach
    void listen() throws Exception {
        transport = new WebRtcTransport(node, WebRtcSettings.defaults().withLoopbackCandidates(true));
        listener = transport.listen(new InetSocketAddress("127.0.0.1", 0), c -> CompletableFuture.runAsync(() -> echo(c)))
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() {
        transport.deactivate();
    }

    private void echo(Connection c) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            long n = 0;
            while (true) {
                buf.clear();
                int r = c.read(buf).toCompletableFuture().get(30, TimeUnit.SECONDS);
                if (r < 0) {
                    break;
                }
                buf.flip();
                sha.update(buf.duplicate());
                c.write(buf).toCompletableFuture().get(30, TimeUnit.SECONDS);
                n += r;
            }
            c.shutdownOutput().toCompletableFuture().get(10, TimeUnit.SECONDS);
            echoed.add(new Echoed(c.info().peerId().toString(), n, HexFormat.of().formatHex(sha.digest()),
                    ((WebRtcConnection) c).candidatePair()));
        } catch (Exception e) {
            echoed.add(new Echoed("failed: " + e, -1, "", ""));
        }
    }

    private static Path work(String name) throws IOException {
        Path dir = Path.of(System.getProperty("interop.work", "target/interop-work"));
        Files.createDirectories(dir);
        return Files.createTempDirectory(dir, name);
    }

    /** Runs headless Chromium on the node's page until the page reports, and returns the report. */
    private Map<String, Object> chromium(String peer) throws Exception {
        BlockingQueue<String> reports = new LinkedBlockingQueue<>();
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 4);
        http.createContext("/report", x -> {
            reports.add(new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            x.sendResponseHeaders(204, -1);
            x.close();
        });
        http.start();
        Path profile = work("chromium-");
        String url = "http://127.0.0.1:" + listener.localAddress().getPort() + "/?peer=" + peer + "&bytes=" + BYTES
                + "&report=" + URLEncoder.encode("http://127.0.0.1:" + http.getAddress().getPort() + "/report",
                        StandardCharsets.UTF_8);
        Process p = new ProcessBuilder("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-features=WebRtcHideLocalIpsWithMdns", "--user-data-dir=" + profile, url)
                .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
        try {
            String report = reports.poll(60, TimeUnit.SECONDS);
            assertThat(report).as("the page's report; chromium's log:\n" + Files.readString(profile.resolve(
                    "chromium.log"))).isNotNull();
            System.out.println("chromium: " + report);
            return Json.parseObject(report);
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            http.stop(0);
        }
    }

    private Map<String, Object> nodeWrtc(String peer, int bytes, String... options) throws Exception {
        Path dir = Path.of(System.getProperty("interop.node", "target/node"));
        assertThat(dir.resolve("node_modules/@roamhq/wrtc")).as("npm packages: run ./run-tests or "
                + "src/test/node/install").isDirectory();
        Path script = dir.resolve("peer.mjs");
        Files.copy(Path.of(System.getProperty("interop.nodeScript", "src/test/node/peer.mjs")), script,
                StandardCopyOption.REPLACE_EXISTING);
        Path module = Path.of(System.getProperty("interop.web", "src/main/resources/web"), "kizuna-webrtc.js");
        Path log = work("node-").resolve("node.log");
        List<String> command = new ArrayList<>(List.of("node", script.toString(), module.toAbsolutePath().toString(),
                "ws://127.0.0.1:" + listener.localAddress().getPort() + WsSignaling.PATH, peer,
                Integer.toString(bytes)));
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("node finished").isTrue();
        } finally {
            p.destroyForcibly();
        }
        String out = Files.readString(log);
        System.out.println("node: " + out);
        String line = out.lines().filter(l -> l.startsWith("REPORT ")).findFirst().orElseThrow(
                () -> new AssertionError("no report from node:\n" + out));
        return Json.parseObject(line.substring("REPORT ".length()));
    }

    private void assertExchanged(Map<String, Object> report, int bytes) throws Exception {
        assertThat(report.get("ok")).as(report.toString()).isEqualTo(Boolean.TRUE);
        Echoed e = echoed.poll(30, TimeUnit.SECONDS);
        assertThat(e).isNotNull();
        assertThat(e.peer()).as("the node authenticated the JavaScript peer's signed offer")
                .isEqualTo(report.get("peerId"));
        assertThat(e.bytes()).isEqualTo(bytes);
        assertThat(report.get("receivedBytes")).isEqualTo((long) bytes);
        assertThat(e.sha256()).as("SHA-256 of what the node received").isEqualTo(report.get("sentSha256"));
        assertThat(report.get("receivedSha256")).as("SHA-256 of what came back").isEqualTo(report.get("sentSha256"));
        assertThat(report.get("fingerprint")).as("DTLS certificate checked against the signed SDP").isNotNull();
        assertThat(report.get("node")).isEqualTo(node.peerId().toString());
        assertThat(e.pair()).as("ICE stayed on loopback")
                .matches("\\w+ 127\\.0\\.0\\.1:\\d+ -> \\w+ (127\\.0\\.0\\.1|\\?):\\d+");
        System.out.println("node side: " + e);
    }

    @Test
    void chromiumOpensADataChannelToTheNodeAndMovesDataBothWays() throws Exception {
        Map<String, Object> report = chromium(node.peerId().toString());
        assertExchanged(report, BYTES);
        assertThat(String.valueOf(report.get("agent"))).contains("Chrome");
    }

    @Test
    void chromiumRefusesANodeThatIsNotThePeerItAskedFor() throws Exception {
        String other = Identities.generate().peerId().toString();
        Map<String, Object> report = chromium(other);
        assertThat(report.get("ok")).isEqualTo(Boolean.FALSE);
        // The node refuses an offer addressed to someone else, signing the refusal; the page sees it is not
        // signed by the peer it asked for.
        assertThat(String.valueOf(report.get("error"))).contains("not signed by " + other)
                .contains(node.peerId().toString());
        assertThat(echoed).isEmpty();
    }

    @Test
    void nodeWithRoamhqWrtcOpensADataChannelToTheNodeAndMovesDataBothWays() throws Exception {
        Map<String, Object> report = nodeWrtc(node.peerId().toString(), BYTES);
        assertExchanged(report, BYTES);
    }

    /**
     * The node closes the DataChannel when the peer has not, within closeTimeoutMillis of both sides ending
     * their streams, which can be before a lagging peer has handled the last bytes it received; handling them
     * may be when the peer grants more credit. Half the peer's window is echoed, so the message bringing the
     * last bytes is the one that grants it, and the peer handles that message only once the node's close has
     * reached its WebRTC stack.
     */
    @Test
    void roamhqWrtcHandlesTheLastBytesAfterTheNodeClosedTheChannel() throws Exception {
        int bytes = JS_RECEIVE_WINDOW / 2;
        Map<String, Object> report = nodeWrtc(node.peerId().toString(), bytes, "hold-last");
        assertThat(report.get("heldUntil")).as("the last message was handled after the node's close")
                .isIn("closing", "closed");
        assertExchanged(report, bytes);
    }

    /**
     * The node's fin ends the exchange (the peer's came first), so the node leaves the close to the peer,
     * which closes once it has that fin and so every message before it: a close from the node could overtake
     * the last messages of the echo in the peer's stack.
     */
    @Test
    void nodeLeavesTheCloseToThePeerThatHasTheLastFin() throws Exception {
        int bytes = 256 * 1024;
        Map<String, Object> report = nodeWrtc(node.peerId().toString(), bytes, "hold-fin");
        assertThat(report.get("afterFinHeld")).as("the channel once the peer had the node's fin").isEqualTo("open");
        assertExchanged(report, bytes);
    }

    /**
     * The peer signs each signaling message before it sends it, and WebCrypto signs asynchronously: two
     * signatures can finish in the other order than they began. The node refuses a message numbered below
     * one it has seen (a replay), so the peer must send them in the order of their numbers all the same.
     */
    @Test
    void roamhqWrtcSendsItsSignalingInOrderWhenSignaturesFinishOutOfOrder() throws Exception {
        int bytes = 256 * 1024;
        Map<String, Object> report = nodeWrtc(node.peerId().toString(), bytes, "late-signature");
        assertThat(((Number) report.get("burst")).intValue()).as("candidates signed at once, the first one slowly")
                .isGreaterThanOrEqualTo(2);
        assertExchanged(report, bytes);
    }

    @Test
    void roamhqWrtcRefusesANodeThatIsNotThePeerItAskedFor() throws Exception {
        Map<String, Object> report = nodeWrtc(Identities.generate().peerId().toString(), BYTES);
        assertThat(report.get("ok")).isEqualTo(Boolean.FALSE);
        assertThat(String.valueOf(report.get("error"))).contains("not signed by");
        assertThat(List.copyOf(echoed)).isEmpty();
    }
}
