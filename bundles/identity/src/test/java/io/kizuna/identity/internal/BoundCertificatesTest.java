package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.KeyPair;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Arrays;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.PeerId;

import org.junit.jupiter.api.Test;

class BoundCertificatesTest {

    private final KeyPair node = Ed25519.generate();
    private final Instant now = Instant.now();

    @Test
    void aFreshCertificateIsSelfSignedV3BoundToTheNodeKey() throws Exception {
        BoundCertificates.Bound bound = BoundCertificates.create(node, now);
        X509Certificate cert = bound.certificate();
        PeerId peerId = Ed25519.peerId(node.getPublic());

        assertThat(cert.getVersion()).isEqualTo(3);
        assertThat(cert.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(cert.getPublicKey()).isInstanceOf(ECPublicKey.class);
        assertThat(((ECPublicKey) cert.getPublicKey()).getParams().getCurve().getField().getFieldSize())
                .isEqualTo(256);
        assertThat(cert.getSubjectX500Principal()).isEqualTo(cert.getIssuerX500Principal());
        assertThat(cert.getSubjectX500Principal().getName()).isEqualTo("CN=" + peerId);
        cert.verify(cert.getPublicKey());
        assertThat(cert.getNotBefore().toInstant()).isEqualTo(now.minus(Duration.ofHours(1))
                .truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        assertThat(cert.getNotAfter().toInstant()).isEqualTo(now.plus(Duration.ofDays(365))
                .truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
        assertThat(cert.getSerialNumber()).isPositive();
        assertThat(cert.getSerialNumber().bitLength()).isLessThanOrEqualTo(128);
        assertThat(cert.getNonCriticalExtensionOIDs()).containsExactly(PeerCertificates.EXTENSION_OID);
        assertThat(cert.getCriticalExtensionOIDs()).isNullOrEmpty();
        assertThat(bound.privateKey().getAlgorithm()).isEqualTo("EC");

        assertThat(PeerCertificates.verify(new Certificate[] {cert})).isEqualTo(peerId);
    }

    @Test
    void serialsAreRandom() {
        BigInteger a = BoundCertificates.create(node, now).certificate().getSerialNumber();
        BigInteger b = BoundCertificates.create(node, now).certificate().getSerialNumber();
        assertThat(a).isNotEqualTo(b);
    }

    @Test
    void theExtensionHoldsTheRawKeyAndItsSignatureOverPrefixAndSpki() throws Exception {
        X509Certificate cert = BoundCertificates.create(node, now).certificate();
        Der.Reader value = new Der.Reader(new Der.Reader(cert.getExtensionValue(BoundCertificates.EXTENSION_OID))
                .read(Der.OCTET_STRING)).enter(Der.SEQUENCE);
        byte[] key = value.read(Der.OCTET_STRING);
        byte[] signature = value.read(Der.OCTET_STRING);
        assertThat(value.atEnd()).isTrue();
        assertThat(key).isEqualTo(Ed25519.peerId(node.getPublic()).bytes());
        byte[] signed = Der.concat("kizuna-tls-handshake:".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                cert.getPublicKey().getEncoded());
        assertThat(Ed25519.verify(PeerId.of(key), signed, signature)).isTrue();
        assertThat(BoundCertificates.subjectPublicKeyInfo(cert)).isEqualTo(cert.getPublicKey().getEncoded());
    }

    @Test
    void theOidIsTheDocumentedUuidOid() {
        // 2.25 + the integer value of UUID 5eaebc26-b781-4ad9-bf3e-eeac9039cdee (ITU-T X.667)
        java.util.UUID uuid = java.util.UUID.fromString("5eaebc26-b781-4ad9-bf3e-eeac9039cdee");
        BigInteger value = new BigInteger(1, java.nio.ByteBuffer.allocate(16)
                .putLong(uuid.getMostSignificantBits()).putLong(uuid.getLeastSignificantBits()).array());
        assertThat(PeerCertificates.EXTENSION_OID).isEqualTo("2.25." + value);
    }

    @Test
    void chainsOfOtherShapesAreRefused() throws Exception {
        X509Certificate a = BoundCertificates.create(node, now).certificate();
        X509Certificate b = BoundCertificates.create(Ed25519.generate(), now).certificate();
        assertThatThrownBy(() -> PeerCertificates.verify(null)).hasMessage("the peer presented no certificate");
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[0]))
                .hasMessage("the peer presented no certificate");
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[] {a, b}))
                .isInstanceOf(CertificateException.class)
                .hasMessageContaining("presented 2 certificates; a kizuna peer presents exactly one");
    }

    @Test
    void aCertificateNotYetValidIsRefused() throws Exception {
        X509Certificate cert = BoundCertificates.create(node, now.plus(Duration.ofDays(2))).certificate();
        assertThatThrownBy(() -> BoundCertificates.verify(new Certificate[] {cert}, now))
                .isInstanceOf(CertificateException.class).hasMessageContaining("is not valid before");
    }

    @Test
    void aCertificateIsValidFromAnHourBackToAYearAhead() throws Exception {
        X509Certificate cert = BoundCertificates.create(node, now).certificate();
        PeerId peerId = Ed25519.peerId(node.getPublic());
        assertThat(BoundCertificates.verify(new Certificate[] {cert}, now.minus(Duration.ofMinutes(59))))
                .isEqualTo(peerId);
        assertThat(BoundCertificates.verify(new Certificate[] {cert}, now.plus(Duration.ofDays(364))))
                .isEqualTo(peerId);
        assertThatThrownBy(() -> BoundCertificates.verify(new Certificate[] {cert}, now.plus(Duration.ofDays(366))))
                .hasMessageContaining("expired");
    }

    @Test
    void aCertificateNotSignedByItsOwnKeyIsRefused() throws Exception {
        // Built for one EC key, then re-signed (outer signature) by another: issuer != subject key.
        KeyPair tls = BoundCertificates.ecKeyPair();
        KeyPair other = BoundCertificates.ecKeyPair();
        byte[] signature = Ed25519.sign(node.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        X509Certificate genuine = BoundCertificates.certificate(tls,
                BoundCertificates.extension(Ed25519.peerId(node.getPublic()).bytes(), signature),
                now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)), "x");
        X509Certificate resigned = resign(genuine, other);
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[] {resigned}))
                .isInstanceOf(CertificateException.class).hasMessageContaining("is not self-signed");
    }

    @Test
    void malformedExtensionsAreRefused() throws Exception {
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] key = Ed25519.peerId(node.getPublic()).bytes();
        byte[] sig = Ed25519.sign(node.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        assertMalformed(tls, BoundCertificates.extension(Arrays.copyOf(key, 31), sig), "the public key has 31 bytes");
        assertMalformed(tls, BoundCertificates.extension(key, Arrays.copyOf(sig, 63)), "the signature has 63 bytes");
        assertMalformed(tls, Der.sequence(Der.octetString(key)), "truncated");
        assertMalformed(tls, Der.sequence(Der.octetString(key), Der.octetString(sig), Der.octetString(sig)),
                "extra fields");
        assertMalformed(tls, Der.octetString(key), "expected tag 0x30, found 0x4");
        assertMalformed(tls, Der.concat(BoundCertificates.extension(key, sig), new byte[] {0}),
                "bytes after the KizunaIdentity sequence");
        assertMalformed(tls, new byte[0], "truncated");
    }

    @Test
    void aSignatureOverAnotherPrefixIsRefused() throws Exception {
        // The libp2p prefix: a libp2p binding must not pass for a kizuna one.
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] sig = Ed25519.sign(node.getPrivate(), Der.concat(
                "libp2p-tls-handshake:".getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                tls.getPublic().getEncoded()));
        X509Certificate cert = BoundCertificates.certificate(tls,
                BoundCertificates.extension(Ed25519.peerId(node.getPublic()).bytes(), sig),
                now.minus(Duration.ofHours(1)), now.plus(Duration.ofDays(1)), "x");
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[] {cert}))
                .hasMessageContaining("does not verify");
    }

    @Test
    void unknownCriticalExtensionsAreRefused() throws Exception {
        BoundCertificates.Bound bound = BoundCertificates.create(node, now);
        // Rebuild the same certificate with an extra critical extension.
        KeyPair tls = BoundCertificates.ecKeyPair();
        byte[] sig = Ed25519.sign(node.getPrivate(),
                Der.concat(BoundCertificates.SIGNATURE_PREFIX, tls.getPublic().getEncoded()));
        byte[] binding = Der.sequence(Der.oid(BoundCertificates.EXTENSION_OID),
                Der.octetString(BoundCertificates.extension(Ed25519.peerId(node.getPublic()).bytes(), sig)));
        byte[] unknown = Der.sequence(Der.oid("1.2.3.4"), Der.bool(true), Der.octetString(Der.sequence()));
        X509Certificate cert = certificateWithExtensions(tls, Der.concat(binding, unknown));
        assertThat(bound.certificate()).isNotNull();
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[] {cert}))
                .hasMessageContaining("critical extensions this node does not understand: [1.2.3.4]");
    }

    @Test
    void theIdentityRenewsItsCertificateBeforeItExpires() throws Exception {
        MutableClock clock = new MutableClock(now);
        LocalIdentity identity = new LocalIdentity(node, clock);
        X509Certificate first = identity.keyManager().getCertificateChain(IdentityKeyManager.ALIAS)[0];
        clock.now = now.plus(Duration.ofDays(300));
        assertThat(identity.keyManager().getCertificateChain(IdentityKeyManager.ALIAS)[0]).isSameAs(first);
        clock.now = now.plus(Duration.ofDays(364).plusHours(1));
        X509Certificate renewed = identity.keyManager().getCertificateChain(IdentityKeyManager.ALIAS)[0];
        assertThat(renewed).isNotEqualTo(first);
        assertThat(renewed.getNotAfter()).isAfter(first.getNotAfter());
        assertThat(identity.keyManager().getPrivateKey(IdentityKeyManager.ALIAS).getAlgorithm()).isEqualTo("EC");
        assertThat(BoundCertificates.verify(new Certificate[] {renewed}, clock.now))
                .isEqualTo(identity.peerId());
        // the key manager's key is the renewed certificate's key
        var signer = java.security.Signature.getInstance("SHA256withECDSA");
        signer.initSign(identity.keyManager().getPrivateKey(IdentityKeyManager.ALIAS));
        signer.update(new byte[] {1, 2, 3});
        byte[] s = signer.sign();
        signer.initVerify(renewed.getPublicKey());
        signer.update(new byte[] {1, 2, 3});
        assertThat(signer.verify(s)).isTrue();
    }

    @Test
    void theKeyManagerPresentsTheCertificateWhateverIsAsked() {
        LocalIdentity identity = LocalIdentity.of(node);
        var km = identity.keyManager();
        assertThat(km.chooseClientAlias(new String[] {"RSA"}, null, null)).isEqualTo(IdentityKeyManager.ALIAS);
        assertThat(km.chooseEngineClientAlias(new String[] {"EC"}, null, null)).isEqualTo(IdentityKeyManager.ALIAS);
        assertThat(km.chooseServerAlias("EC", null, null)).isEqualTo(IdentityKeyManager.ALIAS);
        assertThat(km.chooseEngineServerAlias("RSA", null, null)).isEqualTo(IdentityKeyManager.ALIAS);
        assertThat(km.getCertificateChain("other")).isNull();
        assertThat(km.getPrivateKey("other")).isNull();
        assertThat(identity.trustManager().getAcceptedIssuers()).isEmpty();
    }

    private void assertMalformed(KeyPair tls, byte[] extension, String reason) throws Exception {
        X509Certificate cert = BoundCertificates.certificate(tls, extension, now.minus(Duration.ofHours(1)),
                now.plus(Duration.ofDays(1)), "x");
        assertThatThrownBy(() -> PeerCertificates.verify(new Certificate[] {cert}))
                .isInstanceOf(CertificateException.class)
                .hasMessageContaining("identity extension is malformed")
                .hasMessageContaining(reason);
    }

    /** @return {@code cert}'s TBSCertificate signed by {@code signer} instead of its own key */
    private static X509Certificate resign(X509Certificate cert, KeyPair signer) throws Exception {
        byte[] tbs = cert.getTBSCertificate();
        var s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initSign(signer.getPrivate());
        s.update(tbs);
        byte[] der = Der.sequence(tbs, Der.sequence(Der.oid("1.2.840.10045.4.3.2")), Der.bitString(s.sign()));
        return (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificate(new java.io.ByteArrayInputStream(der));
    }

    private X509Certificate certificateWithExtensions(KeyPair tls, byte[] extensions) throws Exception {
        byte[] algorithm = Der.sequence(Der.oid("1.2.840.10045.4.3.2"));
        byte[] name = Der.sequence(Der.set(Der.sequence(Der.oid("2.5.4.3"), Der.utf8String("x"))));
        byte[] tbs = Der.sequence(Der.explicit(0, Der.integer(BigInteger.TWO)), Der.integer(BigInteger.TEN),
                algorithm, name,
                Der.sequence(Der.time(now.minus(Duration.ofHours(1))), Der.time(now.plus(Duration.ofDays(1)))),
                name, tls.getPublic().getEncoded(), Der.explicit(3, Der.sequence(extensions)));
        var s = java.security.Signature.getInstance("SHA256withECDSA");
        s.initSign(tls.getPrivate());
        s.update(tbs);
        byte[] der = Der.sequence(tbs, algorithm, Der.bitString(s.sign()));
        return (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificate(new java.io.ByteArrayInputStream(der));
    }

    static final class MutableClock extends Clock {
        volatile Instant now;

        MutableClock(Instant now) {
            this.now = now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
