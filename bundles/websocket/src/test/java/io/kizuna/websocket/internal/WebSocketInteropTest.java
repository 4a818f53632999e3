package io.kizuna.websocket.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import javax.net.ssl.X509ExtendedKeyManager;

import com.sun.net.httpserver.HttpServer;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with WebSocket stacks nobody here wrote: npm's {@code ws} on Node as
 * a client of our listener and as a server our dialer reaches, and headless
 * Chromium opening WebSockets to our listener.
 *
 * <p>{@code ws} presents and accepts node-key-bound certificates (written here
 * as PEM from a node identity), so those connections are authenticated ones:
 * the listener's acceptor sees the client's PeerId, and the dialer checks the
 * Node server's. Chromium has no such certificate: it reaches a listener opened
 * by this test with an anonymous acceptor: a harness endpoint the platform
 * never uses, whose TLS asks for no client certificate, since headless Chromium
 * aborts any handshake that asks for one. A platform listener, which asks, is
 * thus out of its reach. Chromium
 * trusts the self-signed listener through the certificate's SPKI hash
 * ({@code --ignore-certificate-errors-spki-list}), not by ignoring every error.
 *
 * <p>Node, the {@code ws} package and Chromium are installed by
 * {@code ./run-tests}; when one is missing these tests fail, saying what to
 * install.
 */
class WebSocketInteropTest {

    private static final Path SCRIPTS = Path.of("src", "test", "interop").toAbsolutePath();
    private static final Duration PROCESS_TIMEOUT = Duration.ofSeconds(90);

    private final List<WebSocketTransport> nodes = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final Map<Process, BlockingQueue<String>> outputs = new java.util.concurrent.ConcurrentHashMap<>();
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "interop-test");
        t.setDaemon(true);
        return t;
    });

    @TempDir
    Path temp;

    @AfterEach
    void stop() {
        processes.forEach(Process::destroyForcibly);
        nodes.forEach(WebSocketTransport::deactivate);
        executor.shutdownNow();
    }

    // ------------------------------------------------------------------ ws as a client

    @Test
    @Timeout(value = 120, unit = SECONDS)
    void npmWsClientTalksToOurListener() throws Exception {
        NodeIdentity listenerId = Identities.generate();
        NodeIdentity clientId = Identities.generate();
        BlockingQueue<Outcome> outcomes = new LinkedBlockingQueue<>();
        Listener plain = listen(new WebSocketTransport(listenerId, WebSocketSettings.defaults()),
                echo(outcomes), null);
        Listener deflating = listen(new WebSocketTransport(listenerId,
                WebSocketSettings.defaults().withDeflate(true)), echo(outcomes), null);
        Path cert = temp.resolve("client.crt");
        Path key = temp.resolve("client.key");
        writePem(clientId, cert, key);

        Process node = start(List.of(tool("node", "nodejs").toString(), SCRIPTS.resolve("ws-client.cjs").toString(),
                url(plain), url(deflating), cert.toString(), key.toString(), fingerprint(listenerId)));
        String out = awaitLine(node, l -> l.startsWith("["), "the ws client's results");
        Map<String, Map<String, Object>> r = byKey(Json.objects(out), "name");

        for (String name : List.of("echo", "deflate")) {
            Map<String, Object> e = r.get(name);
            assertThat(e).as(name + ": " + out).containsEntry("pinned", true).containsEntry("protocol", "kizuna.v1")
                    .containsEntry("pong", "kizuna-ping").containsEntry("endOfStream", true)
                    .containsEntry("echoed", true).containsEntry("closeCode", 1000.0).doesNotContainKey("error");
        }
        assertThat((String) r.get("echo").get("extensions")).as("no compression unless configured").isEmpty();
        assertThat((String) r.get("deflate").get("extensions")).startsWith("permessage-deflate");
        assertThat(r.get("text")).as(out).containsEntry("closeCode", 1003.0);
        assertThat(r.get("tooBig")).as(out).containsEntry("closeCode", 1009.0);
        assertThat(r.get("clientClose")).as(out).containsEntry("closeCode", 1000.0);
        for (String name : List.of("noSubprotocol", "noCertificate")) {
            assertThat(r.get(name)).as(name + ": " + out).doesNotContainKey("opened").containsKey("status");
            assertThat((Double) r.get(name).get("status")).as(name).isNotEqualTo(101.0);
        }

        // What the listener saw: five upgraded connections, each from the client's PeerId.
        List<Outcome> seen = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Outcome o = outcomes.poll(20, SECONDS);
            assertThat(o).as("outcome %d of 5 (so far %s)", i + 1, seen).isNotNull();
            seen.add(o);
        }
        assertThat(seen).allSatisfy(o -> assertThat(o.peer()).isEqualTo(clientId.peerId()));
        assertThat(seen).filteredOn(o -> o.end().equals("end of stream")).extracting(Outcome::bytes)
                .containsExactlyInAnyOrder(170_000L, 170_000L, 1000L);
        assertThat(seen).extracting(Outcome::end).contains("ProtocolViolation", "LimitExceeded");
    }

    // ------------------------------------------------------------------ ws as a server

    @Test
    @Timeout(value = 120, unit = SECONDS)
    void ourDialerTalksToAnNpmWsServer() throws Exception {
        NodeIdentity serverId = Identities.generate();
        NodeIdentity clientId = Identities.generate();
        Path cert = temp.resolve("server.crt");
        Path key = temp.resolve("server.key");
        writePem(serverId, cert, key);
        Process node = start(List.of(tool("node", "nodejs").toString(), SCRIPTS.resolve("ws-server.cjs").toString(),
                cert.toString(), key.toString()));
        int port = Integer.parseInt(awaitLine(node, l -> l.startsWith("LISTENING "), "the ws server's port")
                .substring("LISTENING ".length()).trim());
        Endpoint endpoint = new Endpoint(WebSocketTransport.PROTOCOL_NAME,
                new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        WebSocketTransport dialer = node(new WebSocketTransport(clientId, WebSocketSettings.defaults()));

        // 1: a fragmented message and a ping from the server, then an echo, ended by both sides.
        Connection c = dial(dialer, PeerAddress.of(serverId.peerId(), endpoint));
        assertThat(c.info().peerId()).isEqualTo(serverId.peerId());
        byte[] first = readExactly(c, 90_000);
        for (int i = 0; i < first.length; i++) {
            assertThat(first[i] & 0xff).as("byte %d of the fragmented message", i).isEqualTo(i % 251);
        }
        byte[] data = new byte[200_000];
        new SecureRandom().nextBytes(data);
        c.write(ByteBuffer.wrap(data)).toCompletableFuture().get(20, SECONDS);
        c.shutdownOutput().toCompletableFuture().get(20, SECONDS);
        assertThat(readToEnd(c)).as("the echo").isEqualTo(data);
        c.closeFuture().toCompletableFuture().get(20, SECONDS);
        Map<String, Object> one = Json.object(awaitLine(node, l -> l.startsWith("{\"n\":1"), "connection 1"));
        assertThat(one).containsEntry("protocol", "kizuna.v1").containsEntry("pong", "server-ping")
                .containsEntry("endOfStream", true).containsEntry("echoed", 200_000.0)
                .containsEntry("closeCode", 1000.0).containsEntry("clientCertificate", fingerprint(clientId));

        // The wrong PeerId: refused before the upgrade, so the server never counts a connection.
        PeerId other = Identities.generate().peerId();
        Throwable refused = failureOf(dialer.connect(PeerAddress.of(other, endpoint), Duration.ofSeconds(10)));
        assertThat(refused).isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining(other.toString()).hasMessageContaining(serverId.peerId().toString());

        // 2 (the next the server counts): closed with 4000, a failure for the reader.
        Connection c2 = dial(dialer, PeerAddress.of(serverId.peerId(), endpoint));
        assertThat(readExactly(c2, 10)).containsOnly((byte) 2);
        Throwable closed = failureOf(c2.read(ByteBuffer.allocate(16)));
        assertThat(closed).isInstanceOf(TransportException.class).hasMessageContaining("4000");

        // 3: going away (1001) is an end of stream.
        Connection c3 = dial(dialer, PeerAddress.of(serverId.peerId(), endpoint));
        assertThat(readToEnd(c3)).containsExactly(3, 3, 3, 3, 3);
        c3.closeFuture().toCompletableFuture().get(20, SECONDS);
    }

    // ------------------------------------------------------------------ Chromium

    @Test
    @Timeout(value = 150, unit = SECONDS)
    void headlessChromiumExchangesBinaryFramesWithOurListener() throws Exception {
        Path chromium = tool("chromium", "chromium");
        NodeIdentity id = Identities.generate();
        BlockingQueue<Outcome> anonymous = new LinkedBlockingQueue<>();
        BlockingQueue<Outcome> authenticated = new LinkedBlockingQueue<>();
        Listener plain = listen(new WebSocketTransport(id, WebSocketSettings.defaults()), echo(authenticated),
                echo(anonymous));
        Listener deflating = listen(new WebSocketTransport(id, WebSocketSettings.defaults().withDeflate(true)),
                echo(authenticated), echo(anonymous));
        WebSocketTransport strict = new WebSocketTransport(id, WebSocketSettings.defaults());
        Listener refusing = listen(strict, echo(authenticated), null);

        CompletableFuture<String> result = new CompletableFuture<>();
        HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        byte[] page = Files.readAllBytes(SCRIPTS.resolve("chromium-page.html"));
        http.createContext("/", exchange -> {
            if (exchange.getRequestMethod().equals("POST")) {
                result.complete(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
                exchange.sendResponseHeaders(204, -1);
            } else {
                exchange.getResponseHeaders().add("Content-Type", "text/html; charset=utf-8");
                exchange.sendResponseHeaders(200, page.length);
                exchange.getResponseBody().write(page);
            }
            exchange.close();
        });
        http.start();
        try {
            String pageUrl = "http://127.0.0.1:" + http.getAddress().getPort() + "/?ws=" + url(plain) + "&ws="
                    + url(deflating) + "&refused=" + url(refusing);
            Path profile = Files.createDirectories(temp.resolve("chromium-profile"));
            Path log = temp.resolve("chromium.log");
            Process browser = new ProcessBuilder(chromium.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--user-data-dir=" + profile, "--ignore-certificate-errors-spki-list="
                    + spki(id),
                    // loopback only: every other name (Chromium's own services) resolves to nothing, no DNS query
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", pageUrl).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            processes.add(browser);
            String json;
            try {
                json = result.get(PROCESS_TIMEOUT.toSeconds(), SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                json = fail("Chromium reported nothing within " + PROCESS_TIMEOUT + "; its output:\n"
                        + tail(log));
            }
            List<Map<String, Object>> r = Json.objects(json);
            assertThat(r).as(json).hasSize(4);
            for (Map<String, Object> e : r.subList(0, 2)) {
                assertThat(e).as(json).containsEntry("protocol", "kizuna.v1").containsEntry("endOfStream", true)
                        .containsEntry("echoed", true).containsEntry("closeCode", 1000.0)
                        .doesNotContainKey("error");
            }
            assertThat((String) r.get(0).get("extensions")).isEmpty();
            assertThat((String) r.get(1).get("extensions")).as("Chromium's offer accepted")
                    .startsWith("permessage-deflate");
            assertThat(r.get(2)).as("a text message").containsEntry("closeCode", 1003.0);
            assertThat(r.get(3)).as("a listener that takes node keys only").doesNotContainKey("opened")
                    .containsEntry("closeCode", 1006.0);

            List<Outcome> seen = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Outcome o = anonymous.poll(20, SECONDS);
                assertThat(o).as("anonymous outcome %d of 3 (so far %s)", i + 1, seen).isNotNull();
                seen.add(o);
            }
            assertThat(seen).allSatisfy(o -> assertThat(o.peer()).as("no PeerId for a browser").isNull());
            assertThat(seen).extracting(Outcome::bytes).contains(100_000L);
            assertThat(authenticated).as("nothing reached the platform's acceptor").isEmpty();
            assertThat(strict.refusedHandshakes()).isPositive();
        } finally {
            http.stop(0);
        }
    }

    // ------------------------------------------------------------------ harness

    /** What the harness saw on one accepted connection. */
    private record Outcome(PeerId peer, long bytes, String end) {
    }

    /** Reads to the end, echoing what it can, and records what happened. */
    private Consumer<Connection> echo(BlockingQueue<Outcome> outcomes) {
        return c -> executor.submit(() -> {
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            long total = 0;
            boolean writing = true;
            String end;
            try {
                while (true) {
                    buf.clear();
                    int n = c.read(buf).toCompletableFuture().get(30, SECONDS);
                    if (n < 0) {
                        end = "end of stream";
                        break;
                    }
                    total += n;
                    buf.flip();
                    if (writing) {
                        try {
                            c.write(buf).toCompletableFuture().get(30, SECONDS);
                        } catch (ExecutionException peerGone) {
                            writing = false; // the peer closed: keep reading what it sent before
                        }
                    }
                }
                if (writing) {
                    c.shutdownOutput().toCompletableFuture().exceptionally(e -> null).get(30, SECONDS);
                }
            } catch (ExecutionException e) {
                end = e.getCause().getClass().getSimpleName();
            } catch (Exception e) {
                end = e.toString();
            }
            outcomes.add(new Outcome(c.info().peerId(), total, end));
            return null;
        });
    }

    private WebSocketTransport node(WebSocketTransport t) {
        nodes.add(t);
        return t;
    }

    private Listener listen(WebSocketTransport t, Consumer<Connection> acceptor, Consumer<Connection> anonymous)
            throws Exception {
        node(t);
        return t.listen(new InetSocketAddress("127.0.0.1", 0), acceptor, anonymous).toCompletableFuture()
                .get(10, SECONDS);
    }

    private static String url(Listener l) {
        return "wss://127.0.0.1:" + l.localAddress().getPort() + WebSocketSettings.DEFAULT_PATH;
    }

    private static Connection dial(WebSocketTransport t, PeerAddress a) throws Exception {
        return t.connect(a, Duration.ofSeconds(10)).toCompletableFuture().get(20, SECONDS);
    }

    /**
     * @return the program on the PATH
     * @throws AssertionError naming the Debian package to install when it is missing
     */
    private static Path tool(String name, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        throw new AssertionError(name + " is not on the PATH: the interop tests need it; ./run-tests installs it "
                + "(Debian package " + debianPackage + ")");
    }

    private static Path nodeModules() {
        String dir = System.getenv("KIZUNA_INTEROP_DIR");
        Path base = dir != null ? Path.of(dir)
                : Path.of(System.getProperty("user.home"), ".cache", "kizuna", "websocket-interop");
        Path modules = base.resolve("node_modules");
        if (!Files.isDirectory(modules.resolve("ws"))) {
            throw new AssertionError("the npm package ws is not installed in " + modules + "; run "
                    + SCRIPTS.resolve("install-npm") + " (./run-tests does)");
        }
        return modules;
    }

    private Process start(List<String> command) throws IOException {
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true);
        b.environment().put("NODE_PATH", nodeModules().toString());
        Process p = b.start();
        processes.add(p);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        outputs.put(p, lines);
        executor.submit(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String l = r.readLine(); l != null; l = r.readLine()) {
                    lines.add(l);
                }
            }
            lines.add("<end of output, exit " + p.waitFor() + ">");
            return null;
        });
        return p;
    }

    /** Waits for a line of the process's output; fails with everything it printed when none comes. */
    private String awaitLine(Process p, java.util.function.Predicate<String> wanted, String what)
            throws InterruptedException {
        BlockingQueue<String> lines = outputs.get(p);
        List<String> other = new ArrayList<>();
        long deadline = System.nanoTime() + PROCESS_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            String l = lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (l == null) {
                break;
            }
            if (wanted.test(l)) {
                return l;
            }
            other.add(l);
            if (l.startsWith("<end of output")) {
                break;
            }
        }
        return fail("no line with " + what + " from " + p.info().command().orElse("the process") + "; it printed:\n"
                + String.join("\n", other));
    }

    private static Throwable failureOf(java.util.concurrent.CompletionStage<?> stage) throws Exception {
        try {
            stage.toCompletableFuture().get(20, SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        return fail("expected a failure");
    }

    private static byte[] readExactly(Connection c, int n) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (c.read(b).toCompletableFuture().get(20, SECONDS) < 0) {
                fail("end of stream after " + b.position() + " of " + n + " bytes");
            }
        }
        return b.array();
    }

    private static byte[] readToEnd(Connection c) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
        while (true) {
            b.clear();
            int n = c.read(b).toCompletableFuture().get(20, SECONDS);
            if (n < 0) {
                return out.toByteArray();
            }
            out.write(b.array(), 0, n);
        }
    }

    private static Map<String, Map<String, Object>> byKey(List<Map<String, Object>> list, String key) {
        Map<String, Map<String, Object>> m = new java.util.LinkedHashMap<>();
        list.forEach(e -> m.put((String) e.get(key), e));
        return m;
    }

    // ------------------------------------------------------------------ certificates

    private static X509Certificate certificate(NodeIdentity id) {
        X509ExtendedKeyManager km = id.keyManager();
        return km.getCertificateChain(km.chooseServerAlias("EC", null, null))[0];
    }

    /** Writes the identity's bound certificate and its TLS key as PEM, as Node's TLS reads them. */
    private static void writePem(NodeIdentity id, Path cert, Path key) throws Exception {
        X509ExtendedKeyManager km = id.keyManager();
        PrivateKey k = km.getPrivateKey(km.chooseServerAlias("EC", null, null));
        Files.writeString(cert, pem("CERTIFICATE", certificate(id).getEncoded()));
        Files.writeString(key, pem("PRIVATE KEY", k.getEncoded()));
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + type + "-----\n";
    }

    /** @return the SHA-256 fingerprint as Node prints it: AA:BB:... */
    private static String fingerprint(NodeIdentity id) throws Exception {
        byte[] d = MessageDigest.getInstance("SHA-256").digest(certificate(id).getEncoded());
        return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
    }

    /** @return the base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's SPKI list wants */
    private static String spki(NodeIdentity id) throws Exception {
        return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
                .digest(certificate(id).getPublicKey().getEncoded()));
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.exists(log) ? Files.readAllLines(log) : List.of();
        return lines.isEmpty() ? "(nothing)" : String.join("\n", lines.subList(Math.max(0, lines.size() - 40),
                lines.size()));
    }
}
