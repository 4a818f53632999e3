package io.kizuna.identity.internal;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;

import io.kizuna.transport.PeerId;

/**
 * Ed25519 verification that remembers the signatures it found valid. The JDK's
 * Ed25519 is pure Java and costs as much as the rest of a TLS handshake's checks
 * together; a peer that reconnects presents the very same signed bytes again.
 *
 * <p>An entry is the SHA-256 of signer, signature and signed bytes, so a hit
 * stands for exactly the verification it replaces. Only valid signatures are
 * kept, the least recently used goes first, and the count is bounded.
 */
final class VerifiedSignatures {

    private final int capacity;
    private final Map<ByteBuffer, Boolean> valid;

    /** @param capacity how many valid signatures are remembered */
    VerifiedSignatures(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, got " + capacity);
        }
        this.capacity = capacity;
        this.valid = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<ByteBuffer, Boolean> eldest) {
                return size() > VerifiedSignatures.this.capacity;
            }
        };
    }

    /**
     * @param signer    the PeerId (public key) that is said to have signed
     * @param data      the signed bytes
     * @param signature the signature
     * @return what {@link Ed25519#verify} returns for these arguments
     */
    boolean verify(PeerId signer, byte[] data, byte[] signature) {
        if (signature == null || signature.length != Ed25519.SIGNATURE_LENGTH) {
            return false;
        }
        ByteBuffer key = digest(signer, data, signature);
        synchronized (valid) {
            if (valid.containsKey(key)) {
                return true;
            }
        }
        if (!Ed25519.verify(signer, data, signature)) {
            return false;
        }
        synchronized (valid) {
            valid.put(key, Boolean.TRUE);
        }
        return true;
    }

    /** @return how many valid signatures are remembered now */
    int size() {
        synchronized (valid) {
            return valid.size();
        }
    }

    private static ByteBuffer digest(PeerId signer, byte[] data, byte[] signature) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(signer.bytes());
            sha.update(signature);
            sha.update(data);
            return ByteBuffer.wrap(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no SHA-256", e);
        }
    }
}
