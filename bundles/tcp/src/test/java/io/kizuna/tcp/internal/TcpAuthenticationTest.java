package io.kizuna.tcp.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

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
 * The listener's side of mutual authentication: a dialer that cannot prove a
 * node key is refused during the handshake and never reaches the application.
 * (The dialer's side, refusing a listener with another key, is in the contract.)
 */
class TcpAuthenticationTest {

    private final List<TcpTransport> nodes = new ArrayList<>();

    /** @return the listener's TLS engine: OpenSSL here, the JDK's in {@link TcpAuthenticationJdkTest} */
    NettyTls engine() {
        return TestTls.openssl();
    }

    @TempDir
    Path temp;

    @AfterEach
    void stopNodes() {
        nodes.forEach(TcpTransport::deactivate);
    }

    private record Server(TcpTransport node, Listener listener, BlockingQueue<Connection> accepted) {
    }

    private Server server() throws Exception {
        TcpTransport node = new TcpTransport(Identities.generate(), TcpSettings.defaults(), engine());
        nodes.add(node);
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = node.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        return new Server(node, listener, accepted);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void dialerWithoutCertificateIsRefused() throws Exception {
        Server s = server();
        Object outcome = handshakeAndRead(tls(null), s.listener().localAddress());
        assertRefused(s, outcome);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void dialerPresentingAnotherNodesCertificateIsRefused() throws Exception {
        Server s = server();
        NodeIdentity victim = Identities.generate();
        NodeIdentity thief = Identities.generate();
        // The victim's bound certificate, but the thief cannot sign with the victim's TLS key.
        Object outcome = handshakeAndRead(tls(new StolenCertificate(victim.keyManager(), thief.keyManager())),
                s.listener().localAddress());
        assertRefused(s, outcome);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void dialerWithUnboundSelfSignedCertificateIsRefused() throws Exception {
        Server s = server();
        Path store = temp.resolve("unbound.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-alias", "unbound",
                "-dname", "CN=unbound", "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        assertThat(keytool.waitFor(45, SECONDS)).as("keytool finished").isTrue();
        assertThat(keytool.exitValue()).as(new String(keytool.getInputStream().readAllBytes())).isZero();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());

        Object outcome = handshakeAndRead(tls(kmf.getKeyManagers()[0]), s.listener().localAddress());
        assertRefused(s, outcome);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void plainTextDialerIsRefused() throws Exception {
        Server s = server();
        Object outcome;
        try (Socket socket = new Socket()) {
            socket.connect(s.listener().localAddress(), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            outcome = readOutcome(socket.getInputStream());
        }
        assertRefused(s, outcome);
    }

    private static void assertRefused(Server s, Object outcome) throws InterruptedException {
        assertThat(outcome).as("the listener ended the connection instead of leaving it open")
                .isNotInstanceOf(SocketTimeoutException.class);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().refusedHandshakes() == 1);
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> s.node().openChannels() == 0);
        assertThat(s.accepted().poll(200, TimeUnit.MILLISECONDS)).as("nothing reached the acceptor").isNull();
    }

    /** Handshakes as a plain JDK client, then reads: -1, or the failure (an alert) as an exception. */
    private static Object handshakeAndRead(SSLContext context, InetSocketAddress address) throws IOException {
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket()) {
            socket.connect(address, 5000);
            socket.setSoTimeout(10_000);
            socket.setEnabledProtocols(new String[] {"TLSv1.3"});
            try {
                socket.startHandshake();
            } catch (IOException refusedInHandshake) {
                return refusedInHandshake;
            }
            return readOutcome(socket.getInputStream());
        }
    }

    private static Object readOutcome(InputStream in) {
        try {
            return in.read();
        } catch (IOException e) {
            return e;
        }
    }

    private static SSLContext tls(KeyManager keyManager) throws Exception {
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keyManager == null ? null : new KeyManager[] {keyManager},
                new TrustManager[] {new TrustEverything()}, null);
        return context;
    }

    /** A test client that does not care who the listener is: only the listener's checks are under test. */
    private static final class TrustEverything extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    /** Presents one node's certificate chain while signing with another node's key. */
    private static final class StolenCertificate extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager victim;
        private final X509ExtendedKeyManager thief;
        private volatile String[] keyTypes;

        StolenCertificate(X509ExtendedKeyManager victim, X509ExtendedKeyManager thief) {
            this.victim = victim;
            this.thief = thief;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            keyTypes = keyType;
            return victim.chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            keyTypes = keyType;
            return victim.chooseEngineClientAlias(keyType, issuers, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return victim.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return thief.getPrivateKey(thief.chooseClientAlias(keyTypes, null, null));
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
