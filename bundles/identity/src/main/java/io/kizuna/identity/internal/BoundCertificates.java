package io.kizuna.identity.internal;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.io.ByteArrayInputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HashSet;
import java.util.Set;

import io.kizuna.transport.PeerId;

/**
 * TLS certificates bound to a node key, in the manner of the libp2p TLS handshake
 * (libp2p specs, {@code tls/tls.md}), with Kizuna's own extension.
 *
 * <p>Each node makes an ephemeral ECDSA P-256 key and a self-signed X.509 v3
 * certificate for it (random 128-bit serial, valid from one hour ago for one
 * year, subject and issuer {@code CN=<PeerId>}). The certificate carries the
 * <em>Kizuna identity extension</em>:
 *
 * <pre>
 * OID   2.25.125854707417634875816287046089160904174   (a UUID OID, ITU-T X.667;
 *       UUID 5eaebc26-b781-4ad9-bf3e-eeac9039cdee), not critical
 * value KizunaIdentity ::= SEQUENCE {
 *           publicKey  OCTET STRING (SIZE (32)),  -- raw Ed25519 node key = PeerId
 *           signature  OCTET STRING (SIZE (64))   -- Ed25519 by that key over
 *       }                                         --   "kizuna-tls-handshake:" || SPKI
 * </pre>
 *
 * where SPKI is the DER SubjectPublicKeyInfo exactly as it appears in the
 * certificate. The libp2p OID ({@code 1.3.6.1.4.1.53594.1.1}) is not used because
 * the encoding differs (libp2p wraps the key in protobuf and signs another prefix).
 * The extension is not critical so generic X.509 tooling can still display the
 * certificate; Kizuna peers require it regardless.
 *
 * <p>The TLS handshake proves the peer holds the certificate's private key; the
 * extension proves the node key vouched for that certificate key. Together they
 * prove the peer holds (or was delegated by) the node key, so the PeerId is
 * authenticated without any certificate authority.
 */
public final class BoundCertificates {

    /** The identity extension's OID. */
    public static final String EXTENSION_OID = io.kizuna.identity.PeerCertificates.EXTENSION_OID;

    /** What the node key signs, before the certificate's SubjectPublicKeyInfo. */
    static final byte[] SIGNATURE_PREFIX = "kizuna-tls-handshake:".getBytes(StandardCharsets.US_ASCII);

    /** How long before notBefore-now a certificate starts, to tolerate clock skew. */
    static final Duration BACKDATE = Duration.ofHours(1);

    /** How long a certificate is valid. */
    static final Duration LIFETIME = Duration.ofDays(365);

    private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
    private static final String COMMON_NAME = "2.5.4.3";
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * A node keeps its certificate for as long as it runs, so a peer that connects
     * again shows the same binding: it is verified once, not on every handshake.
     */
    private static final VerifiedSignatures VERIFIED = new VerifiedSignatures(1024);

    private BoundCertificates() {
    }

    /** An ephemeral TLS key and the certificate that binds it to a node key. */
    public record Bound(X509Certificate certificate, PrivateKey privateKey) {
    }

    /**
     * Makes a fresh ephemeral key and its certificate, signed by the node key.
     *
     * @param nodeKey the node's Ed25519 key pair
     * @param now     the current time
     * @return the key and certificate
     */
    public static Bound create(KeyPair nodeKey, Instant now) {
        try {
            PeerId peerId = Ed25519.peerId(nodeKey.getPublic());
            KeyPair tlsKey = ecKeyPair();
            byte[] spki = tlsKey.getPublic().getEncoded();
            byte[] signature = Ed25519.sign(nodeKey.getPrivate(), Der.concat(SIGNATURE_PREFIX, spki));
            X509Certificate cert = certificate(tlsKey, extension(peerId.bytes(), signature),
                    now.minus(BACKDATE), now.plus(LIFETIME), peerId.toString());
            return new Bound(cert, tlsKey.getPrivate());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not make the TLS certificate for the node key: " + e.getMessage(),
                    e);
        }
    }

    /** @return a new ECDSA P-256 key pair */
    static KeyPair ecKeyPair() throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return generator.generateKeyPair();
    }

    /** @return the DER of the extension value (the KizunaIdentity SEQUENCE) */
    static byte[] extension(byte[] publicKey, byte[] signature) {
        return Der.sequence(Der.octetString(publicKey), Der.octetString(signature));
    }

    /**
     * Builds and signs a self-signed X.509 v3 certificate with SHA256withECDSA.
     *
     * @param key        the certificate's EC key pair (its private half signs)
     * @param extension  the identity extension value, or null for none
     * @param notBefore  start of validity
     * @param notAfter   end of validity
     * @param commonName the subject's and issuer's CN
     * @return the certificate
     */
    static X509Certificate certificate(KeyPair key, byte[] extension, Instant notBefore, Instant notAfter,
            String commonName) throws GeneralSecurityException {
        byte[] serial = new byte[16];
        RANDOM.nextBytes(serial);
        byte[] algorithm = Der.sequence(Der.oid(ECDSA_WITH_SHA256));
        byte[] name = Der.sequence(Der.set(Der.sequence(Der.oid(COMMON_NAME), Der.utf8String(commonName))));
        byte[] extensions = extension == null ? new byte[0]
                : Der.explicit(3, Der.sequence(Der.sequence(Der.oid(EXTENSION_OID), Der.octetString(extension))));
        byte[] tbs = Der.sequence(
                Der.explicit(0, Der.integer(BigInteger.TWO)),
                Der.integer(new BigInteger(1, serial).setBit(0)), // never zero, always positive
                algorithm,
                name,
                Der.sequence(Der.time(notBefore), Der.time(notAfter)),
                name,
                key.getPublic().getEncoded(),
                extensions);
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(key.getPrivate());
        signer.update(tbs);
        byte[] der = Der.sequence(tbs, algorithm, Der.bitString(signer.sign()));
        return (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(der));
    }

    /**
     * Checks a peer's chain: exactly one self-signed X.509 v3 certificate, valid
     * now, whose identity extension holds a node key and that key's valid signature
     * over the certificate's public key.
     *
     * @param chain the chain the peer presented
     * @param now   the time to check validity at
     * @return the node key's PeerId
     * @throws CertificateException with the precise reason
     */
    public static PeerId verify(Certificate[] chain, Instant now) throws CertificateException {
        try {
            return check(chain, now);
        } catch (RuntimeException e) {
            // Whatever a provider throws on odd input, the peer is refused, never let through.
            throw new CertificateException("cannot check the peer's certificate: " + e, e);
        }
    }

    private static PeerId check(Certificate[] chain, Instant now) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the peer presented no certificate");
        }
        if (chain.length != 1) {
            throw new CertificateException("the peer presented " + chain.length
                    + " certificates; a kizuna peer presents exactly one, self-signed");
        }
        if (!(chain[0] instanceof X509Certificate cert)) {
            throw new CertificateException("the peer's certificate is of type " + chain[0].getType()
                    + ", not X.509");
        }
        if (cert.getVersion() != 3) {
            throw new CertificateException("the peer's certificate is X.509 v" + cert.getVersion() + ", not v3");
        }
        try {
            cert.checkValidity(Date.from(now));
        } catch (CertificateExpiredException e) {
            throw new CertificateException("the peer's certificate expired at " + cert.getNotAfter().toInstant()
                    + " (now " + now + ")", e);
        } catch (CertificateNotYetValidException e) {
            throw new CertificateException("the peer's certificate is not valid before "
                    + cert.getNotBefore().toInstant() + " (now " + now + "); check the clocks", e);
        }
        try {
            cert.verify(cert.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new CertificateException("the peer's certificate is not self-signed: its signature does not "
                    + "verify with its own public key (" + e.getMessage() + ")", e);
        }
        // A certificate without extensions gives null here.
        Set<String> critical = new HashSet<>();
        if (cert.getCriticalExtensionOIDs() != null) {
            critical.addAll(cert.getCriticalExtensionOIDs());
        }
        critical.remove(EXTENSION_OID);
        if (!critical.isEmpty()) {
            throw new CertificateException("the peer's certificate has critical extensions this node does not "
                    + "understand: " + critical);
        }
        byte[] wrapped = cert.getExtensionValue(EXTENSION_OID);
        if (wrapped == null) {
            throw new CertificateException("the peer's certificate carries no kizuna identity extension (OID "
                    + EXTENSION_OID + "), so it is not bound to any PeerId");
        }
        byte[] publicKey;
        byte[] signature;
        try {
            Der.Reader outer = new Der.Reader(wrapped);
            byte[] value = outer.read(Der.OCTET_STRING);
            require(outer.atEnd(), "bytes after the extension value");
            Der.Reader body = new Der.Reader(value);
            Der.Reader identity = body.enter(Der.SEQUENCE);
            require(body.atEnd(), "bytes after the KizunaIdentity sequence");
            publicKey = identity.read(Der.OCTET_STRING);
            signature = identity.read(Der.OCTET_STRING);
            require(identity.atEnd(), "extra fields in the KizunaIdentity sequence");
            require(publicKey.length == PeerId.LENGTH, "the public key has " + publicKey.length
                    + " bytes, not " + PeerId.LENGTH);
            require(signature.length == Ed25519.SIGNATURE_LENGTH, "the signature has " + signature.length
                    + " bytes, not " + Ed25519.SIGNATURE_LENGTH);
        } catch (Der.DerException e) {
            throw new CertificateException("the peer's kizuna identity extension is malformed: " + e.getMessage(), e);
        }
        PeerId peerId;
        try {
            peerId = PeerId.of(publicKey);
        } catch (IllegalArgumentException e) {
            throw new CertificateException("the peer's certificate names no usable PeerId: " + e.getMessage(), e);
        }
        byte[] spki = subjectPublicKeyInfo(cert);
        if (!VERIFIED.verify(peerId, Der.concat(SIGNATURE_PREFIX, spki), signature)) {
            throw new CertificateException("the peer's certificate names PeerId " + peerId
                    + " but that key's signature over the certificate's public key does not verify: "
                    + "the certificate key is not bound to that PeerId");
        }
        return peerId;
    }

    /** @return the SubjectPublicKeyInfo exactly as encoded in the certificate */
    static byte[] subjectPublicKeyInfo(X509Certificate cert) throws CertificateException {
        try {
            Der.Reader tbs = new Der.Reader(cert.getTBSCertificate()).enter(Der.SEQUENCE);
            tbs.skip(0xa0); // [0] version, present in v3
            tbs.skip(Der.INTEGER); // serialNumber
            tbs.skip(Der.SEQUENCE); // signature algorithm
            tbs.skip(Der.SEQUENCE); // issuer
            tbs.skip(Der.SEQUENCE); // validity
            tbs.skip(Der.SEQUENCE); // subject
            return tbs.readElement(Der.SEQUENCE);
        } catch (CertificateEncodingException | Der.DerException e) {
            throw new CertificateException("cannot read the public key of the peer's certificate: " + e.getMessage(),
                    e);
        }
    }

    private static void require(boolean condition, String problem) throws Der.DerException {
        if (!condition) {
            throw new Der.DerException(problem);
        }
    }
}
