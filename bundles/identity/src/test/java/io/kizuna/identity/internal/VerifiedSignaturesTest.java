package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;

import io.kizuna.transport.PeerId;

import org.junit.jupiter.api.Test;

class VerifiedSignaturesTest {

    private final KeyPair key = Ed25519.generate();
    private final PeerId signer = peerId(key);
    private final byte[] data = "kizuna-tls-handshake:spki".getBytes(StandardCharsets.US_ASCII);
    private final byte[] signature = Ed25519.sign(key.getPrivate(), data);

    @Test
    void aValidSignatureIsRememberedAndStillValid() {
        VerifiedSignatures verified = new VerifiedSignatures(8);
        assertThat(verified.verify(signer, data, signature)).isTrue();
        assertThat(verified.size()).isEqualTo(1);
        assertThat(verified.verify(signer, data, signature)).isTrue();
        assertThat(verified.size()).isEqualTo(1);
    }

    @Test
    void aRememberedSignatureVouchesForNothingElse() {
        VerifiedSignatures verified = new VerifiedSignatures(8);
        assertThat(verified.verify(signer, data, signature)).isTrue();
        byte[] otherData = data.clone();
        otherData[0] ^= 1;
        byte[] otherSignature = signature.clone();
        otherSignature[10] ^= 1;
        PeerId otherSigner = peerId(Ed25519.generate());
        assertThat(verified.verify(signer, otherData, signature)).isFalse();
        assertThat(verified.verify(signer, data, otherSignature)).isFalse();
        assertThat(verified.verify(otherSigner, data, signature)).isFalse();
        assertThat(verified.verify(signer, data, null)).isFalse();
        assertThat(verified.verify(signer, data, new byte[63])).isFalse();
        assertThat(verified.size()).as("invalid signatures are not remembered").isEqualTo(1);
    }

    @Test
    void theLeastRecentlyUsedGoesFirstAtCapacity() {
        VerifiedSignatures verified = new VerifiedSignatures(2);
        byte[][] messages = new byte[3][];
        byte[][] signatures = new byte[3][];
        for (int i = 0; i < 3; i++) {
            messages[i] = ("message " + i).getBytes(StandardCharsets.US_ASCII);
            signatures[i] = Ed25519.sign(key.getPrivate(), messages[i]);
            assertThat(verified.verify(signer, messages[i], signatures[i])).isTrue();
        }
        assertThat(verified.size()).isEqualTo(2);
        assertThat(verified.verify(signer, messages[0], signatures[0])).as("verified again, not looked up").isTrue();
        assertThat(verified.size()).isEqualTo(2);
    }

    @Test
    void capacityMustBePositive() {
        assertThatThrownBy(() -> new VerifiedSignatures(0)).hasMessageContaining("at least 1");
    }

    private static PeerId peerId(KeyPair pair) {
        try {
            return Ed25519.peerId(pair.getPublic());
        } catch (java.security.InvalidKeyException e) {
            throw new AssertionError(e);
        }
    }
}
