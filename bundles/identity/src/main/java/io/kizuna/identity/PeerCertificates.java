package io.kizuna.identity;

import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.time.Instant;

import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

import io.kizuna.identity.internal.BoundCertificates;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * Reads and checks the PeerId a TLS peer proved.
 *
 * <p>A peer presents exactly one self-signed X.509 v3 certificate for an
 * ephemeral key. It carries the Kizuna identity extension (OID
 * {@value #EXTENSION_OID}, a UUID OID): the DER
 * {@code SEQUENCE { publicKey OCTET STRING (32), signature OCTET STRING (64) }},
 * where {@code publicKey} is the raw Ed25519 node key (the PeerId) and
 * {@code signature} is that key's Ed25519 signature over the ASCII bytes
 * {@code "kizuna-tls-handshake:"} followed by the certificate's
 * SubjectPublicKeyInfo DER. The scheme follows the libp2p TLS handshake, with its
 * own OID and encoding.
 */
public final class PeerCertificates {

    /** The OID of the identity extension. */
    public static final String EXTENSION_OID = "2.25.125854707417634875816287046089160904174";

    private PeerCertificates() {
    }

    /**
     * Checks a peer's certificate chain and returns the PeerId it is bound to.
     *
     * @param chain the chain the peer presented
     * @return the PeerId whose key signed the certificate's public key
     * @throws CertificateException saying what is wrong with the chain: not exactly
     *         one certificate, not X.509 v3, outside its validity, not self-signed,
     *         an unknown critical extension, no or a malformed identity extension,
     *         or a signature that does not bind the certificate key to the PeerId
     */
    public static PeerId verify(Certificate[] chain) throws CertificateException {
        return BoundCertificates.verify(chain, Instant.now());
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
