package io.kizuna.websocket.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.support.tls.NettyTls;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The listener's side of mutual authentication, as for tcp: a dialer that
 * cannot prove a node key never reaches the application. A dialer without a
 * certificate completes TLS (the listener asks for one without requiring it, so
 * ordinary WebSocket clients get an answer) and its upgrade is refused; a
 * certificate that is stolen, or bound to no node key, fails TLS itself. (The
 * dialer's side, refusing a listener with another key, is in the contract and
 * in {@link WebSocketDialerTest}.)
 */
class WebSocketAuthenticationTest {

    private final List<WebSocketTransport> nodes = new ArrayList<>();

    /** @return the listener's TLS engine: OpenSSL here, the JDK's in {@link WebSocketAuthenticationJdkTest} */
    NettyTls engine() {
        return WsTestTls.openssl();
    }

    @TempDir
    Path temp;

    @AfterEach
    void stopNodes() {
        nodes.forEach(WebSocketTransport::deactivate);
    }

    private record Server(WebSocketTransport node, Listener listener, BlockingQueue<Connection> accepted) {
    }

    private Server server() throws Exception {
        WebSocketTransport node = new WebSocketTransport(Identities.generate(), WebSocketSettings.defaults(),
                engine());
        nodes.add(node);
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = node.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        return new Server(node, listener, accepted);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void dialerWithoutCertificateCompletesTlsButIsNotUpgraded() throws Exception {
        Server s = server();
        try (RawClient c = new RawClient(s.listener().localAddress(), null)) {
            Map<String, String> head = c.upgrade("/kizuna", KizunaDraft.SUBPROTOCOL, null);
            assertThat(head.get(":status")).startsWith("HTTP/1.1 404");
            // the rest of the answer (a small HTML body), then the listener closes
            assertThat(c.input().readAllBytes().length).isLessThan(1024);
        }
        assertRefused(s);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void dialerPresentingAnotherNodesCertificateIsRefused() throws Exception {
        Server s = server();
        NodeIdentity victim = Identities.generate();
        NodeIdentity thief = Identities.generate();
        // The victim's bound certificate, but the thief cannot sign with the victim's TLS key.
        assertThat(upgradeOutcome(s, new StolenCertificate(victim.keyManager(), thief.keyManager())))
                .isNotEqualTo("HTTP/1.1 101");
        assertRefused(s);
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void dialerWithUnboundSelfSignedCertificateIsRefused() throws Exception {
        Server s = server();
        Path store = temp.resolve("unbound.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-alias", "unbound",
                "-dname", "CN=unbound", "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        assertThat(keytool.waitFor(60, SECONDS)).as("keytool finished").isTrue();
        assertThat(keytool.exitValue()).as(new String(keytool.getInputStream().readAllBytes())).isZero();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());

        assertThat(upgradeOutcome(s, kmf.getKeyManagers()[0])).isNotEqualTo("HTTP/1.1 101");
        assertRefused(s);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void plainTextDialerIsRefused() throws Exception {
        Server s = server();
        try (Socket socket = new Socket()) {
            socket.connect(s.listener().localAddress(), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("GET /kizuna HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                    + "Connection: Upgrade\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(socket.getInputStream().readAllBytes().length).as("at most a TLS alert, then the end")
                    .isLessThan(64);
        }
        assertRefused(s);
    }

    /** @return the status line of the upgrade, or the failure that ended TLS or the request */
    private static String upgradeOutcome(Server s, KeyManager keyManager) {
        try (RawClient c = new RawClient(s.listener().localAddress(), keyManager)) {
            String status = c.upgrade("/kizuna", KizunaDraft.SUBPROTOCOL, null).get(":status");
            return status.substring(0, Math.min(12, status.length()));
        } catch (Exception refused) {
            return refused.toString(); // a TLS alert, or the end of the stream (TLS 1.3 reports it late)
        }
    }

    private static void assertRefused(Server s) throws InterruptedException {
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().refusedHandshakes() == 1);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().openChannels() == 0);
        assertThat(s.accepted().poll(200, TimeUnit.MILLISECONDS)).as("nothing reached the acceptor").isNull();
    }

    /** Presents one node's certificate chain while signing with another node's key. */
    private static final class StolenCertificate extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager victim;
        private final X509ExtendedKeyManager thief;

        StolenCertificate(X509ExtendedKeyManager victim, X509ExtendedKeyManager thief) {
            this.victim = victim;
            this.thief = thief;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return victim.chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return victim.chooseEngineClientAlias(keyType, issuers, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return victim.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return thief.getPrivateKey(thief.chooseServerAlias("EC", null, null));
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return victim.getClientAliases(keyType, issuers);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return victim.getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return victim.chooseServerAlias(keyType, issuers, socket);
        }
    }
}
