package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.KeyPair;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.PeerCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The identity's key and trust managers, and {@link DialTrustManager}, driven by
 * Netty's OpenSSL engine (BoringSSL through netty-tcnative) as the transports
 * run them when {@code tlsEngine} picks it: the same checks hold as with the
 * JDK's engine ({@link TlsBindingTest}). Both ends are Netty channels in memory,
 * their records pumped from one to the other.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OpenSslBindingTest {

    /** Rounds of pumping records both ways; a TLS 1.3 handshake needs three. */
    private static final int MAX_ROUNDS = 50;

    private final LocalIdentity listener = LocalIdentity.of(Ed25519.generate());
    private final LocalIdentity dialer = LocalIdentity.of(Ed25519.generate());
    private EmbeddedChannel dialerChannel;
    private EmbeddedChannel listenerChannel;
    private SslHandler dialerTls;
    private SslHandler listenerTls;

    @BeforeAll
    static void openSslLoads() {
        // Not an assumption: this test is about the native engine, and the library is a test dependency.
        OpenSsl.ensureAvailability();
    }

    @AfterEach
    void close() {
        if (dialerChannel != null) {
            dialerChannel.finishAndReleaseAll();
        }
        if (listenerChannel != null) {
            listenerChannel.finishAndReleaseAll();
        }
    }

    @Test
    void theExpectedPeerConnectsAndEachSideLearnsTheOther() throws Exception {
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(dialer.keyManager(), trust), server(listener));

        assertThat(engine(dialerChannel)).isInstanceOf(ReferenceCountedOpenSslEngine.class);
        assertThat(engine(listenerChannel)).isInstanceOf(ReferenceCountedOpenSslEngine.class);
        assertThat(handshakeOf(dialerChannel).isSuccess()).isTrue();
        assertThat(handshakeOf(listenerChannel).isSuccess()).isTrue();
        assertThat(engine(dialerChannel).getSession().getProtocol()).isEqualTo("TLSv1.3");
        assertThat(PeerCertificates.expect(engine(dialerChannel).getSession(), listener.peerId()))
                .isEqualTo(listener.peerId());
        assertThat(PeerCertificates.peerId(engine(listenerChannel).getSession())).isEqualTo(dialer.peerId());
        assertThat(trust.mismatch()).isNull();
    }

    @Test
    void theDialerRefusesAListenerPresentingAnotherKeyInsideTheHandshake() throws Exception {
        LocalIdentity impostor = LocalIdentity.of(Ed25519.generate());
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(dialer.keyManager(), trust), server(impostor));

        assertThat(handshakeOf(dialerChannel).isSuccess()).isFalse();
        assertThat(certificateFailure(handshakeOf(dialerChannel).cause()))
                .hasMessageContaining("bound to " + impostor.peerId())
                .hasMessageContaining("not to the dialed peer " + listener.peerId());
        assertThat(trust.mismatch()).isEqualTo(impostor.peerId());
        // The dialer never sent its Finished: the impostor's side never completes.
        assertThat(handshakeOf(listenerChannel).isSuccess()).isFalse();
    }

    @Test
    void aSharedDialTrustManagerChecksTheOpenSslEngineItRegistered() throws Exception {
        DialTrustManager shared = DialTrustManager.shared(dialer.trustManager());
        SslContext clientContext = client(dialer.keyManager(), shared);
        SslHandler tls = clientContext.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT);
        shared.expect(tls.engine(), listener.peerId());
        start(tls, server(listener).newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT));
        assertThat(handshakeOf(dialerChannel).isSuccess()).isTrue();
        assertThat(handshakeOf(listenerChannel).isSuccess()).isTrue();
        shared.forget(tls.engine());
        close();

        // An engine nobody registered is refused.
        handshake(clientContext, server(listener));
        assertThat(handshakeOf(dialerChannel).isSuccess()).isFalse();
        assertThat(certificateFailure(handshakeOf(dialerChannel).cause()))
                .hasMessageContaining("no dial of this node expects a listener on this connection");
    }

    @Test
    void theListenerRefusesADialerWithoutCertificate() throws Exception {
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(null, trust), server(listener));
        assertThat(handshakeOf(listenerChannel).isSuccess()).isFalse();
    }

    @Test
    void theListenerRefusesAReplayedCertificateWithoutItsPrivateKey() throws Exception {
        X509Certificate stolen = dialer.bound().certificate();
        KeyPair forgerKey = BoundCertificates.ecKeyPair();
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(new FixedKeyManager(stolen, forgerKey.getPrivate()), trust), server(listener));
        assertThat(handshakeOf(listenerChannel).isSuccess()).isFalse();
    }

    @Test
    void theListenerRefusesAnExpiredBoundCertificate() throws Exception {
        KeyPair node = Ed25519.generate();
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] signature = Ed25519.sign(node.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        Instant now = Instant.now();
        X509Certificate expired = BoundCertificates.certificate(tls,
                BoundCertificates.extension(Ed25519.peerId(node.getPublic()).bytes(), signature),
                now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)), "expired");
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(new FixedKeyManager(expired, tls.getPrivate()), trust), server(listener));
        assertThat(handshakeOf(listenerChannel).isSuccess()).isFalse();
        assertThat(certificateFailure(handshakeOf(listenerChannel).cause()))
                .hasMessageContaining("the peer's certificate expired at");
    }

    @Test
    void theListenerRefusesAPlainSelfSignedCertificate() throws Exception {
        KeyPair tls = BoundCertificates.ecKeyPair();
        Instant now = Instant.now();
        X509Certificate plain = BoundCertificates.certificate(tls, null, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(1)), "plain");
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        handshake(client(new FixedKeyManager(plain, tls.getPrivate()), trust), server(listener));
        assertThat(handshakeOf(listenerChannel).isSuccess()).isFalse();
        assertThat(certificateFailure(handshakeOf(listenerChannel).cause()))
                .hasMessageContaining("carries no kizuna identity extension");
    }

    // ------------------------------------------------------------------ in-memory TLS

    private static SslContext client(X509ExtendedKeyManager keyManager, X509ExtendedTrustManager trust)
            throws Exception {
        return SslContextBuilder.forClient().keyManager(keyManager).trustManager(trust)
                .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3").endpointIdentificationAlgorithm(null)
                .build();
    }

    private static SslContext server(LocalIdentity identity) throws Exception {
        return SslContextBuilder.forServer(identity.keyManager()).trustManager(identity.trustManager())
                .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3").clientAuth(ClientAuth.REQUIRE).build();
    }

    private void handshake(SslContext clientContext, SslContext serverContext) {
        start(clientContext.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT),
                serverContext.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT));
    }

    /** Runs both handlers' handshakes to their end, pumping records between the two channels. */
    private void start(SslHandler clientHandler, SslHandler serverHandler) {
        listenerTls = serverHandler;
        dialerTls = clientHandler;
        listenerChannel = new EmbeddedChannel(serverHandler);
        dialerChannel = new EmbeddedChannel(clientHandler);
        for (int round = 0; round < MAX_ROUNDS; round++) {
            boolean moved = pump(dialerChannel, listenerChannel) | pump(listenerChannel, dialerChannel);
            if (!moved) {
                return;
            }
        }
        throw new AssertionError("the handshake still exchanged records after " + MAX_ROUNDS + " rounds");
    }

    private static boolean pump(EmbeddedChannel from, EmbeddedChannel to) {
        boolean moved = false;
        for (Object o = from.readOutbound(); o != null; o = from.readOutbound()) {
            moved = true;
            if (to.isOpen()) {
                try {
                    to.writeInbound(o);
                } catch (RuntimeException handshakeFailed) {
                    // the receiving side's failure: its handshake future holds it
                }
            } else {
                ((ByteBuf) o).release();
            }
        }
        return moved;
    }

    private SSLEngine engine(EmbeddedChannel ch) {
        return handler(ch).engine();
    }

    private Future<?> handshakeOf(EmbeddedChannel ch) {
        return handler(ch).handshakeFuture();
    }

    /** The channel's TLS handler; one that failed is no longer in the pipeline. */
    private SslHandler handler(EmbeddedChannel ch) {
        return ch == dialerChannel ? dialerTls : listenerTls;
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
