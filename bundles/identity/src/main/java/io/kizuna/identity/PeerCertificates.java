package io.kizuna.identity;

import java.security.cert.Certificate;
import java.security.cert.CertificateException;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * Reads and checks the PeerId a TLS peer proved. Implemented in the identity
 * bundle; placeholder bodies are replaced there.
 */
public final class PeerCertificates {

    private PeerCertificates() {
    }

    /**
     * Checks a peer's certificate chain and returns the PeerId it is bound to.
     *
     * @param chain the chain the peer presented
     * @return the PeerId whose key signed the certificate's public key
     * @throws CertificateException saying what is wrong with the chain
     */
    public static PeerId verify(Certificate[] chain) throws CertificateException {
        throw new CertificateException("identity binding check not built yet");
    }

    /**
     * The PeerId of the peer of a completed handshake.
     *
     * @param session the TLS session
     * @return the peer's PeerId
     * @throws TransportException.PeerAuthenticationFailed when the peer presented no valid bound certificate
     */
    public static PeerId peerId(SSLSession session) throws TransportException.PeerAuthenticationFailed {
        try {
            return verify(session.getPeerCertificates());
        } catch (SSLPeerUnverifiedException e) {
            throw new TransportException.PeerAuthenticationFailed(null, null, "the peer presented no certificate");
        } catch (CertificateException e) {
            throw new TransportException.PeerAuthenticationFailed(null, null, e.getMessage());
        }
    }

    /**
     * Checks that a completed handshake authenticated the expected peer.
     *
     * @param session  the TLS session
     * @param expected the PeerId that was dialed
     * @return {@code expected}
     * @throws TransportException.PeerAuthenticationFailed naming both PeerIds when they differ
     */
    public static PeerId expect(SSLSession session, PeerId expected)
            throws TransportException.PeerAuthenticationFailed {
        PeerId presented = peerId(session);
        if (!presented.equals(expected)) {
            throw new TransportException.PeerAuthenticationFailed(expected, presented,
                    "the TLS certificate is bound to another key");
        }
        return presented;
    }
}
