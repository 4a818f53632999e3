package io.kizuna.websocket.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.TrustManager;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dialer's side: it sends its upgrade only to a listener that proved the
 * PeerId it dialed (no certificate is trusted for a name or a host, the class
 * of bug of CVE-2020-11050, where Java-WebSocket's client did not check the
 * server's host name), and it accepts only an upgrade answered by the RFC 6455
 * key with the subprotocol {@value KizunaDraft#SUBPROTOCOL}.
 */
class WebSocketDialerTest {

    private final List<WebSocketTransport> nodes = new ArrayList<>();
    private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "raw-listener");
        t.setDaemon(true);
        return t;
    });

    @TempDir
    Path temp;

    @AfterEach
    void stop() {
        nodes.forEach(WebSocketTransport::deactivate);
        executor.shutdownNow();
    }

    private WebSocketTransport dialer() throws Exception {
        WebSocketTransport t = new WebSocketTransport(Identities.generate(), WebSocketSettings.defaults());
        nodes.add(t);
        return t;
    }

    /** A one-connection TLS listener; it records the bytes it received after TLS and answers with {@code reply}. */
    private final class RawServer implements AutoCloseable {
        final ServerSocket socket;
        final CompletableFuture<byte[]> received = new CompletableFuture<>();
        final RawClient.TrustEverything trust = new RawClient.TrustEverything();

        RawServer(KeyManager keyManager, boolean tls, UnaryOperator<String> reply) throws Exception {
            if (tls) {
                SSLContext context = SSLContext.getInstance("TLSv1.3");
                context.init(new KeyManager[] {keyManager}, new TrustManager[] {trust}, null);
                SSLServerSocket s = (SSLServerSocket) context.getServerSocketFactory()
                        .createServerSocket(0, 4, InetAddress.getLoopbackAddress());
                s.setWantClientAuth(true);
                socket = s;
            } else {
                socket = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
            }
            socket.setSoTimeout(10_000);
            executor.submit(() -> serve(reply));
        }

        private Void serve(UnaryOperator<String> reply) {
            try (Socket s = socket.accept()) {
                s.setSoTimeout(10_000);
                InputStream in = s.getInputStream();
                if (!(socket instanceof SSLServerSocket)) {
                    // a plain HTTP server that answers the TLS ClientHello as the garbage it is to it
                    s.getOutputStream().write(reply.apply("").getBytes(StandardCharsets.ISO_8859_1));
                    received.complete(new byte[0]);
                    return null;
                }
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                try {
                    while (!got.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                        int c = in.read();
                        if (c < 0) {
                            break;
                        }
                        got.write(c);
                    }
                } catch (IOException handshakeRefused) {
                    // the dialer refused this listener in the TLS handshake: nothing received
                }
                received.complete(got.toByteArray());
                String answer = got.size() > 0 ? reply.apply(got.toString(StandardCharsets.ISO_8859_1)) : null;
                if (answer != null) {
                    s.getOutputStream().write(answer.getBytes(StandardCharsets.ISO_8859_1));
                    s.getOutputStream().flush();
                    in.read(); // wait for the dialer to go
                }
            } catch (IOException e) {
                received.completeExceptionally(e);
            }
            return null;
        }

        PeerAddress address(PeerId id) {
            return PeerAddress.of(id, new Endpoint(WebSocketTransport.PROTOCOL_NAME,
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), socket.getLocalPort())));
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static Throwable dialFailure(WebSocketTransport t, PeerAddress a) throws Exception {
        try {
            t.connect(a, Duration.ofSeconds(10)).toCompletableFuture().get(20, SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("the dial succeeded");
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void listenerWithAnUnboundCertificateNeverSeesTheUpgrade() throws Exception {
        Path store = temp.resolve("unbound.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-keyalg", "EC", "-groupname", "secp256r1", "-alias", "unbound",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", store.toString(), "-storepass", "changeit", "-keypass", "changeit")
                .redirectErrorStream(true).start();
        assertThat(keytool.waitFor(60, SECONDS)).as("keytool finished").isTrue();
        assertThat(keytool.exitValue()).as(new String(keytool.getInputStream().readAllBytes())).isZero();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());

        // A certificate a browser would accept for 127.0.0.1, but bound to no node key.
        PeerId dialed = Identities.generate().peerId();
        try (RawServer server = new RawServer(kmf.getKeyManagers()[0], true, request -> "HTTP/1.1 101 x\r\n\r\n")) {
            Throwable failure = dialFailure(dialer(), server.address(dialed));
            assertThat(failure).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
            assertThat(((TransportException.PeerAuthenticationFailed) failure).expected()).isEqualTo(dialed);
            assertThat(server.received.get(10, SECONDS)).as("bytes of the upgrade the listener got").isEmpty();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aListenerWithAnotherNodeKeyNeverSeesTheDialersCertificate() throws Exception {
        NodeIdentity impostor = Identities.generate();
        PeerId dialed = Identities.generate().peerId();
        try (RawServer server = new RawServer(impostor.keyManager(), true, request -> "HTTP/1.1 101 x\r\n\r\n")) {
            Throwable failure = dialFailure(dialer(), server.address(dialed));
            assertThat(failure).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
            assertThat(((TransportException.PeerAuthenticationFailed) failure).expected()).isEqualTo(dialed);
            assertThat(((TransportException.PeerAuthenticationFailed) failure).presented())
                    .isEqualTo(impostor.peerId());
            assertThat(server.received.get(10, SECONDS)).as("bytes of the upgrade the listener got").isEmpty();
            assertThat(server.trust.clientChains.get()).as("client certificates the impostor was shown").isZero();
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void upgradeAnswersWithoutTheSubprotocolOrTheRightKeyAreRefused() throws Exception {
        NodeIdentity listener = Identities.generate();
        List<UnaryOperator<String>> bad = List.of(
                request -> "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Accept: " + accept(request) + "\r\n\r\n",
                request -> "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
                        + "Sec-WebSocket-Protocol: kizuna.v1\r\n\r\n",
                request -> "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        for (UnaryOperator<String> reply : bad) {
            try (RawServer server = new RawServer(listener.keyManager(), true, reply)) {
                Throwable failure = dialFailure(dialer(), server.address(listener.peerId()));
                assertThat(failure).isInstanceOf(TransportException.ConnectionFailed.class)
                        .hasMessageContaining("upgrade");
                String request = new String(server.received.get(10, SECONDS), StandardCharsets.ISO_8859_1);
                assertThat(request).startsWith("GET /kizuna HTTP/1.1").containsIgnoringCase(
                        "Sec-WebSocket-Protocol: kizuna.v1");
            }
        }
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void plainHttpListenerIsNotAPeer() throws Exception {
        try (RawServer server = new RawServer(null, false, request -> "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")) {
            Throwable failure = dialFailure(dialer(), server.address(Identities.generate().peerId()));
            assertThat(failure).isInstanceOf(TransportException.ConnectionFailed.class);
        }
    }

    private static String accept(String request) {
        String key = request.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("sec-websocket-key:"))
                .findFirst().orElseThrow().substring("sec-websocket-key:".length()).trim();
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
                    .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
