package io.kizuna.identity.internal;

import java.security.InvalidKeyException;
import java.security.KeyManagementException;
import java.security.KeyPair;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;

/**
 * A node identity held in memory: the Ed25519 key pair and the TLS certificate
 * bound to it. The certificate is made once and replaced a day before it expires,
 * so a node that runs for more than a year keeps presenting a valid one.
 */
public final class LocalIdentity implements NodeIdentity {

    /** Renew the certificate this long before it expires. */
    static final Duration RENEW_BEFORE = Duration.ofDays(1);

    private final KeyPair nodeKey;
    private final PeerId peerId;
    private final Clock clock;
    private final IdentityKeyManager keyManager;
    private final IdentityTrustManager trustManager;
    private volatile BoundCertificates.Bound bound;

    LocalIdentity(KeyPair nodeKey, Clock clock) {
        this.nodeKey = Objects.requireNonNull(nodeKey, "nodeKey");
        try {
            this.peerId = Ed25519.peerId(nodeKey.getPublic());
        } catch (InvalidKeyException e) {
            throw new IllegalArgumentException("the node key must be Ed25519: " + e.getMessage(), e);
        }
        this.clock = clock;
        this.bound = BoundCertificates.create(nodeKey, clock.instant());
        this.keyManager = new IdentityKeyManager(this);
        this.trustManager = new IdentityTrustManager(clock);
    }

    /**
     * @param nodeKey an Ed25519 key pair
     * @return the identity of that key
     */
    public static LocalIdentity of(KeyPair nodeKey) {
        return new LocalIdentity(nodeKey, Clock.systemUTC());
    }

    @Override
    public PeerId peerId() {
        return peerId;
    }

    @Override
    public byte[] sign(byte[] data) {
        return Ed25519.sign(nodeKey.getPrivate(), Objects.requireNonNull(data, "data"));
    }

    @Override
    public X509ExtendedKeyManager keyManager() {
        return keyManager;
    }

    @Override
    public X509ExtendedTrustManager trustManager() {
        return trustManager;
    }

    @Override
    public SSLContext sslContext() {
        try {
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(new KeyManager[] {keyManager}, new TrustManager[] {trustManager}, new SecureRandom());
            return context;
        } catch (NoSuchAlgorithmException | KeyManagementException e) {
            throw new IllegalStateException("this Java runtime cannot make a TLS 1.3 context: " + e.getMessage(), e);
        }
    }

    /** @return the current certificate and key, renewed when close to expiry */
    BoundCertificates.Bound bound() {
        BoundCertificates.Bound current = bound;
        Instant now = clock.instant();
        if (current.certificate().getNotAfter().toInstant().minus(RENEW_BEFORE).isBefore(now)) {
            synchronized (this) {
                current = bound;
                if (current.certificate().getNotAfter().toInstant().minus(RENEW_BEFORE).isBefore(now)) {
                    current = BoundCertificates.create(nodeKey, now);
                    bound = current;
                }
            }
        }
        return current;
    }

    @Override
    public String toString() {
        return "node identity " + peerId;
    }
}
