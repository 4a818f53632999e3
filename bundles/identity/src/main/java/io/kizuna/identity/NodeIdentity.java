package io.kizuna.identity;

import javax.net.ssl.SSLContext;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.transport.PeerId;

import org.osgi.annotation.versioning.ProviderType;

/**
 * This node's identity, registered as an OSGi service by the identity bundle.
 *
 * <p>The node key is Ed25519; the {@link PeerId} is its public key. For TLS the
 * node presents a self-signed certificate for an ephemeral key, carrying an
 * extension in which the node key signs that certificate's public key (as the
 * libp2p TLS handshake does). A peer that checks the extension knows which
 * PeerId holds the TLS key, without any certificate authority.
 */
@ProviderType
public interface NodeIdentity {

    /** @return this node's PeerId (its Ed25519 public key) */
    PeerId peerId();

    /**
     * Signs with the node key.
     *
     * @param data the bytes to sign
     * @return the 64-byte Ed25519 signature
     */
    byte[] sign(byte[] data);

    /** @return a key manager that presents this node's bound certificate, for clients and servers */
    X509ExtendedKeyManager keyManager();

    /**
     * @return a trust manager, for clients and servers, that accepts exactly the
     *         certificate chains {@link PeerCertificates#verify} accepts: one
     *         self-signed, currently valid certificate carrying a valid binding to
     *         some PeerId. It does not check which PeerId: the dialer compares it
     *         with the one it asked for after the handshake.
     */
    X509ExtendedTrustManager trustManager();

    /**
     * A new TLS context for plain JDK sockets and engines. Like any JDK context,
     * its sockets and engines are created with the JDK's default settings: callers
     * enable only {@code "TLSv1.3"} on them, and servers call
     * {@code setNeedClientAuth(true)} (without it the dialer stays anonymous, and
     * {@link PeerCertificates#peerId} refuses the session).
     *
     * @return a TLS 1.3 context built from {@link #keyManager()} and
     *         {@link #trustManager()}; servers using it must require client
     *         certificates
     */
    SSLContext sslContext();

    /**
     * Which TLS implementation transports should run their TLS on (since 1.2.0).
     * The identity's certificates and checks are the same with every engine.
     *
     * @return the configured engine; {@link TlsEngine#AUTO} unless configured otherwise
     */
    default TlsEngine tlsEngine() {
        return TlsEngine.AUTO;
    }
}
