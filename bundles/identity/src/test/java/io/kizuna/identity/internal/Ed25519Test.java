package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.KeyPair;
import java.util.Arrays;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;

import org.junit.jupiter.api.Test;

class Ed25519Test {

    @Test
    void peerIdTextAndBytesRoundTripForGeneratedKeys() throws Exception {
        for (int i = 0; i < 50; i++) {
            KeyPair pair = Ed25519.generate();
            PeerId id = Ed25519.peerId(pair.getPublic());
            byte[] spki = pair.getPublic().getEncoded();
            assertThat(id.bytes()).isEqualTo(Arrays.copyOfRange(spki, 12, 44));
            String text = id.toString();
            assertThat(text).hasSize(PeerId.TEXT_LENGTH).matches("[a-z2-7]+");
            assertThat(PeerId.parse(text)).isEqualTo(id);
            assertThat(PeerId.parse(text).bytes()).isEqualTo(id.bytes());
            assertThat(PeerId.parse(text.toUpperCase(java.util.Locale.ROOT))).isEqualTo(id);
            assertThat(PeerId.of(id.bytes()).toString()).isEqualTo(text);
            assertThat(Ed25519.publicKey(id).getEncoded()).isEqualTo(spki);
        }
    }

    @Test
    void generatedIdentitiesDiffer() {
        assertThat(Identities.generate().peerId()).isNotEqualTo(Identities.generate().peerId());
    }

    @Test
    void signaturesVerifyOnlyForTheSignerAndTheData() {
        NodeIdentity a = Identities.generate();
        NodeIdentity b = Identities.generate();
        byte[] data = "signed by a".getBytes(StandardCharsets.US_ASCII);
        byte[] sig = a.sign(data);
        assertThat(sig).hasSize(64);
        assertThat(Identities.verify(a.peerId(), data, sig)).isTrue();
        assertThat(Identities.verify(b.peerId(), data, sig)).isFalse();
        assertThat(Identities.verify(a.peerId(), "other".getBytes(StandardCharsets.US_ASCII), sig)).isFalse();
        byte[] flipped = sig.clone();
        flipped[10] ^= 1;
        assertThat(Identities.verify(a.peerId(), data, flipped)).isFalse();
        assertThat(Identities.verify(a.peerId(), data, Arrays.copyOf(sig, 63))).isFalse();
        assertThat(Identities.verify(a.peerId(), data, null)).isFalse();
        assertThat(Identities.verify(a.peerId(), data, new byte[64])).isFalse();
    }

    @Test
    void aPeerIdThatIsNoCurvePointVerifiesNothing() {
        // All ones with the sign bit clear encodes y = 2^255 - 1, which is not below p = 2^255 - 19.
        byte[] notAPoint = new byte[32];
        Arrays.fill(notAPoint, (byte) 0xff);
        notAPoint[31] = 0x7f;
        PeerId bogus = PeerId.of(notAPoint);
        assertThat(Identities.verify(bogus, new byte[] {1}, new byte[64])).isFalse();
    }

    @Test
    void aKeyOfSmallOrderHasNoPeerId() throws Exception {
        // The identity point (0, 1), which the JDK decodes as an Ed25519 key.
        byte[] spki = java.util.HexFormat.of().parseHex("302a300506032b6570032100"
                + "0100000000000000000000000000000000000000000000000000000000000000");
        java.security.PublicKey key = java.security.KeyFactory.getInstance("Ed25519")
                .generatePublic(new java.security.spec.X509EncodedKeySpec(spki));
        assertThatThrownBy(() -> Ed25519.peerId(key)).isInstanceOf(InvalidKeyException.class)
                .hasMessageContaining("small order");
    }

    @Test
    void nonEd25519KeysHaveNoPeerId() throws Exception {
        KeyPair ec = BoundCertificates.ecKeyPair();
        assertThatThrownBy(() -> Ed25519.peerId(ec.getPublic())).isInstanceOf(InvalidKeyException.class)
                .hasMessageContaining("not an Ed25519 public key (algorithm EC");
    }
}
