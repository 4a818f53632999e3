package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Mutual TLS 1.3 over loopback with plain JDK sockets, contexts built from the
 * identity's managers, the listener requiring a client certificate.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TlsBindingTest {

    private static final long WAIT_SECONDS = 15;

    private final LocalIdentity listener = LocalIdentity.of(Ed25519.generate());
    private final LocalIdentity dialer = LocalIdentity.of(Ed25519.generate());

    @Test
    void theExpectedPeerConnectsAndEachSideLearnsTheOther() throws Exception {
        try (Loopback loopback = new Loopback(listener.sslContext());
                SSLSocket socket = loopback.dial(dialer.sslContext())) {
            assertThat(PeerCertificates.expect(socket.getSession(), listener.peerId())).isEqualTo(listener.peerId());
            socket.close();
            var session = loopback.accepted.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(PeerCertificates.peerId(session)).isEqualTo(dialer.peerId());
        }
    }

    @Test
    void contextsBuiltFromTheManagersNegotiateTls13() throws Exception {
        SSLContext listenerContext = Loopback.context(listener.keyManager(), listener.trustManager());
        SSLContext dialerContext = Loopback.context(dialer.keyManager(), dialer.trustManager());
        try (Loopback loopback = new Loopback(listenerContext); SSLSocket socket = loopback.dial(dialerContext)) {
            assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
            assertThat(socket.getSession().getPeerCertificates()).hasSize(1);
            assertThat(PeerCertificates.expect(socket.getSession(), listener.peerId())).isEqualTo(listener.peerId());
            socket.close();
            var session = loopback.accepted.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(session.getProtocol()).isEqualTo("TLSv1.3");
            assertThat(PeerCertificates.peerId(session)).isEqualTo(dialer.peerId());
        }
    }

    @Test
    void theSslContextOfTheIdentityIsTls13() {
        assertThat(listener.sslContext().getProtocol()).isEqualTo("TLSv1.3");
    }

    @Test
    void theDialerRefusesAListenerPresentingAnotherKey() throws Exception {
        NodeIdentity expected = Identities.generate();
        try (Loopback loopback = new Loopback(listener.sslContext());
                SSLSocket socket = loopback.dial(dialer.sslContext())) {
            assertThatThrownBy(() -> PeerCertificates.expect(socket.getSession(), expected.peerId()))
                    .isInstanceOfSatisfying(TransportException.PeerAuthenticationFailed.class, e -> {
                        assertThat(e.expected()).isEqualTo(expected.peerId());
                        assertThat(e.presented()).isEqualTo(listener.peerId());
                        assertThat(e.getMessage()).contains(expected.peerId().toString())
                                .contains(listener.peerId().toString());
                    });
        }
    }

    @Test
    void theListenerRefusesADialerWithoutCertificate() throws Exception {
        SSLContext noCertificate = Loopback.context(null, dialer.trustManager());
        try (Loopback loopback = new Loopback(listener.sslContext())) {
            assertThatThrownBy(() -> loopback.dial(noCertificate).close()).isInstanceOf(IOException.class);
            assertThat(listenerFailure(loopback)).isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void aListenerNotRequiringCertificatesLearnsNoPeerId() throws Exception {
        // Fail-safe: a transport that forgets setNeedClientAuth still cannot name the dialer.
        SSLContext noCertificate = Loopback.context(null, dialer.trustManager());
        try (var server = (javax.net.ssl.SSLServerSocket) listener.sslContext().getServerSocketFactory()
                .createServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            server.setSoTimeout(Loopback.SOCKET_TIMEOUT_MILLIS);
            server.setEnabledProtocols(Loopback.TLS13);
            var accepted = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try (var s = (SSLSocket) server.accept()) {
                    s.setSoTimeout(Loopback.SOCKET_TIMEOUT_MILLIS);
                    s.startHandshake();
                    s.getOutputStream().write(42);
                    s.getOutputStream().flush();
                    s.getInputStream().read(); // until the dialer closes
                    return s.getSession();
                } catch (IOException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, r -> new Thread(r, "lenient-listener").start());
            try (var socket = (SSLSocket) noCertificate.getSocketFactory()
                    .createSocket(server.getInetAddress(), server.getLocalPort())) {
                socket.setSoTimeout(Loopback.SOCKET_TIMEOUT_MILLIS);
                socket.setEnabledProtocols(Loopback.TLS13);
                socket.startHandshake();
                assertThat(socket.getInputStream().read()).isEqualTo(42);
            }
            var session = accepted.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThatThrownBy(() -> PeerCertificates.peerId(session))
                    .isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                    .hasMessageContaining("presented no certificate");
        }
    }

    @Test
    void theListenerRefusesAnExtensionSignedByAnotherKeyThanItNames() throws Exception {
        // (a) the extension names the victim's key, but the forger's key signed.
        KeyPair victim = Ed25519.generate();
        KeyPair forger = Ed25519.generate();
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] signature = Ed25519.sign(forger.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        Instant now = Instant.now();
        X509Certificate forged = BoundCertificates.certificate(tls,
                BoundCertificates.extension(Ed25519.peerId(victim.getPublic()).bytes(), signature),
                now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)), "forged");
        assertRefusedByListener(forged, tls, "names PeerId " + Ed25519.peerId(victim.getPublic())
                + " but that key's signature over the certificate's public key does not verify");
    }

    @Test
    void theListenerRefusesAnExtensionCopiedOntoAnotherCertificateKey() throws Exception {
        // (b) a valid binding lifted from the victim's certificate onto the forger's key.
        X509Certificate victimCert = dialer.bound().certificate();
        byte[] copied = new Der.Reader(victimCert.getExtensionValue(BoundCertificates.EXTENSION_OID))
                .read(Der.OCTET_STRING);
        KeyPair tls = BoundCertificates.ecKeyPair();
        Instant now = Instant.now();
        X509Certificate forged = BoundCertificates.certificate(tls, copied, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(1)), dialer.peerId().toString());
        assertRefusedByListener(forged, tls, "names PeerId " + dialer.peerId()
                + " but that key's signature over the certificate's public key does not verify");
    }

    @Test
    void theListenerRefusesAnExpiredCertificate() throws Exception {
        // (c) a correctly bound certificate whose validity has ended.
        KeyPair node = Ed25519.generate();
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] signature = Ed25519.sign(node.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        Instant now = Instant.now();
        X509Certificate expired = BoundCertificates.certificate(tls,
                BoundCertificates.extension(Ed25519.peerId(node.getPublic()).bytes(), signature),
                now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)), "expired");
        assertRefusedByListener(expired, tls, "the peer's certificate expired at");
    }

    @Test
    void theListenerRefusesAPlainSelfSignedCertificate() throws Exception {
        // (d) self-signed, valid, but bound to no PeerId.
        KeyPair tls = BoundCertificates.ecKeyPair();
        Instant now = Instant.now();
        X509Certificate plain = BoundCertificates.certificate(tls, null, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(1)), "plain");
        assertRefusedByListener(plain, tls, "carries no kizuna identity extension");
    }

    @Test
    void theListenerRefusesAReplayedCertificateWithoutItsPrivateKey() throws Exception {
        // The victim's genuine certificate, but the forger lacks the TLS key that goes with it:
        // the handshake's CertificateVerify fails, so a certificate alone proves nothing.
        X509Certificate stolen = dialer.bound().certificate();
        KeyPair forgerKey = BoundCertificates.ecKeyPair();
        SSLContext forger = Loopback.context(new FixedKeyManager(stolen, forgerKey.getPrivate()),
                dialer.trustManager());
        try (Loopback loopback = new Loopback(listener.sslContext())) {
            assertThatThrownBy(() -> loopback.dial(forger).close()).isInstanceOf(IOException.class);
            assertThat(listenerFailure(loopback)).isInstanceOf(SSLHandshakeException.class);
        }
    }

    @Test
    void theDialerRefusesAListenerWithAForgedCertificateDuringTheHandshake() throws Exception {
        KeyPair tls = BoundCertificates.ecKeyPair();
        Instant now = Instant.now();
        X509Certificate plain = BoundCertificates.certificate(tls, null, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(1)), "plain");
        SSLContext forgedListener = Loopback.context(new FixedKeyManager(plain, tls.getPrivate()),
                listener.trustManager());
        try (Loopback loopback = new Loopback(forgedListener)) {
            assertThatThrownBy(() -> loopback.dial(dialer.sslContext()).close())
                    .isInstanceOf(SSLHandshakeException.class)
                    .satisfies(e -> assertThat(certificateFailure(e))
                            .hasMessageContaining("carries no kizuna identity extension"));
        }
    }

    /** The forger dials with {@code cert}; the listener's trust manager must refuse it, saying {@code reason}. */
    private void assertRefusedByListener(X509Certificate cert, KeyPair tls, String reason) throws Exception {
        // The forged certificate is refused by the same check outside TLS...
        assertThatThrownBy(() -> PeerCertificates.verify(new X509Certificate[] {cert}))
                .isInstanceOf(CertificateException.class).hasMessageContaining(reason);
        // ... and inside a real handshake, by the listener's trust manager.
        SSLContext forger = Loopback.context(new FixedKeyManager(cert, tls.getPrivate()), dialer.trustManager());
        try (Loopback loopback = new Loopback(listener.sslContext())) {
            assertThatThrownBy(() -> loopback.dial(forger).close()).isInstanceOf(IOException.class);
            Throwable failure = listenerFailure(loopback);
            assertThat(failure).isInstanceOf(SSLHandshakeException.class);
            assertThat(certificateFailure(failure)).hasMessageContaining(reason);
        }
    }

    private static Throwable listenerFailure(Loopback loopback) throws Exception {
        try {
            var session = loopback.accepted.get(WAIT_SECONDS, TimeUnit.SECONDS);
            throw new AssertionError("the listener accepted a dialer it should refuse: " + session);
        } catch (ExecutionException e) {
            return e.getCause() instanceof java.util.concurrent.CompletionException ce ? ce.getCause() : e.getCause();
        }
    }

    /** @return the trust manager's CertificateException behind a handshake failure */
    private static CertificateException certificateFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof CertificateException ce) {
                return ce;
            }
        }
        throw new AssertionError("no CertificateException behind " + failure, failure);
    }
}
