package io.kizuna.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

import org.junit.jupiter.api.Test;

class DialTrustManagerTest {

    private final NodeIdentity dialer = Identities.generate();
    private final NodeIdentity listener = Identities.generate();
    private final NodeIdentity other = Identities.generate();

    @Test
    void oneDialAcceptsOnlyTheListenerBoundToTheExpectedPeerId() throws Exception {
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        trust.checkServerTrusted(chain(listener), "UNKNOWN", engine());
        trust.checkServerTrusted(chain(listener), "UNKNOWN");
        assertThat(trust.mismatch()).isNull();

        assertThatThrownBy(() -> trust.checkServerTrusted(chain(other), "UNKNOWN", engine()))
                .isInstanceOf(CertificateException.class)
                .hasMessageContaining(other.peerId().toString()).hasMessageContaining(listener.peerId().toString());
        assertThat(trust.mismatch()).isEqualTo(other.peerId());
        assertThat(trust.expected()).isEqualTo(listener.peerId());
        assertThatThrownBy(() -> trust.checkClientTrusted(chain(listener), "UNKNOWN", engine()))
                .as("it never checks dialers").isInstanceOf(CertificateException.class);
    }

    @Test
    void sharedDialsEachCheckTheirOwnEngine() throws Exception {
        DialTrustManager trust = DialTrustManager.shared(dialer.trustManager());
        SSLEngine toListener = engine();
        SSLEngine toOther = engine();
        trust.expect(toListener, listener.peerId());
        trust.expect(toOther, listener.peerId());

        trust.checkServerTrusted(chain(listener), "UNKNOWN", toListener);
        assertThatThrownBy(() -> trust.checkServerTrusted(chain(other), "UNKNOWN", toOther))
                .isInstanceOf(CertificateException.class);
        assertThat(trust.mismatch(toOther)).isEqualTo(other.peerId());
        assertThat(trust.mismatch(toListener)).isNull();

        trust.forget(toOther);
        assertThat(trust.mismatch(toOther)).isNull();
        assertThatThrownBy(() -> trust.checkServerTrusted(chain(listener), "UNKNOWN", toOther))
                .as("an engine no dial registered").isInstanceOf(CertificateException.class)
                .hasMessageContaining("no dial");
        assertThatThrownBy(() -> trust.checkServerTrusted(chain(listener), "UNKNOWN"))
                .as("without an engine a shared one cannot know the dial").isInstanceOf(CertificateException.class);
    }

    @Test
    void whatTheNodeRefusesStaysRefused() {
        DialTrustManager trust = DialTrustManager.forPeer(dialer.trustManager(), listener.peerId());
        assertThatThrownBy(() -> trust.checkServerTrusted(new X509Certificate[0], "UNKNOWN", engine()))
                .isInstanceOf(CertificateException.class);
    }

    private static X509Certificate[] chain(NodeIdentity node) {
        var km = node.keyManager();
        return km.getCertificateChain(km.chooseEngineServerAlias("EC", null, null));
    }

    private static SSLEngine engine() throws Exception {
        return SSLContext.getDefault().createSSLEngine();
    }
}
