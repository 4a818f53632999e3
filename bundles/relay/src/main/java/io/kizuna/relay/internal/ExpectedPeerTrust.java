package io.kizuna.relay.internal;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.PeerId;

/**
 * The dialer's trust manager for one circuit: what the node's trust manager
 * accepts, and only when bound to the PeerId asked for, checked inside the
 * handshake so a wrong peer never sees the dialer's Finished (and never hands
 * the circuit to its application).
 */
final class ExpectedPeerTrust extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager node;
    private final PeerId expected;
    private volatile PeerId presented;

    ExpectedPeerTrust(X509ExtendedTrustManager node, PeerId expected) {
        this.node = node;
        this.expected = expected;
    }

    /** @return the PeerId the other end proved when it was not the expected one, else null */
    PeerId mismatch() {
        return presented;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, engine);
        PeerId proved = PeerCertificates.verify(chain);
        if (!proved.equals(expected)) {
            presented = proved;
            throw new CertificateException("the peer at the end of the circuit is " + proved + ", not " + expected);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("circuits use engines only");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("circuits use engines only");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks the dialed peer");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks the dialed peer");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this trust manager only checks the dialed peer");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return node.getAcceptedIssuers();
    }
}
