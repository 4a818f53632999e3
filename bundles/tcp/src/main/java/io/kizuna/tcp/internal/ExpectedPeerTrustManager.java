package io.kizuna.tcp.internal;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.PeerId;

/**
 * The dialer's trust manager for one dial: accepts what the node's trust manager
 * accepts, and only when the certificate is bound to the PeerId that was dialed.
 *
 * <p>Checking inside the handshake (not only after it) means a listener with the
 * wrong key never sees the dialer's Finished message, so it never hands the
 * connection to its application. The PeerId it did present is kept for the
 * error the dialer reports.
 */
final class ExpectedPeerTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager node;
    private final PeerId expected;
    private volatile PeerId presented;

    ExpectedPeerTrustManager(X509ExtendedTrustManager node, PeerId expected) {
        this.node = node;
        this.expected = expected;
    }

    /** @return the PeerId the listener proved when it was not the expected one, else null */
    PeerId mismatch() {
        return presented;
    }

    PeerId expected() {
        return expected;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, engine);
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, socket);
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        node.checkServerTrusted(chain, authType);
        check(chain);
    }

    private void check(X509Certificate[] chain) throws CertificateException {
        PeerId proved = PeerCertificates.verify(chain);
        if (!proved.equals(expected)) {
            presented = proved;
            throw new CertificateException("the listener's certificate is bound to " + proved
                    + ", not to the dialed peer " + expected);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return node.getAcceptedIssuers();
    }
}
