package io.kizuna.identity.internal;

import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.SignatureException;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;

import io.kizuna.transport.PeerId;

/**
 * Ed25519 with the JDK's own provider (Java 15+): key generation, the PeerId of a
 * public key, signing and verifying, and reading a PKCS#8 private key.
 */
public final class Ed25519 {

    /** Length of an Ed25519 signature. */
    public static final int SIGNATURE_LENGTH = 64;

    /**
     * DER of SubjectPublicKeyInfo for id-Ed25519 (RFC 8410) up to the key: SEQUENCE,
     * AlgorithmIdentifier {1.3.101.112}, BIT STRING of 33 bytes (0 unused bits + key).
     */
    private static final byte[] SPKI_PREFIX = {
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    };

    private static final String ALGORITHM = "Ed25519";

    private Ed25519() {
    }

    /** @return a fresh key pair from the JDK's default SecureRandom */
    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no Ed25519 (Java 15 or later is needed)", e);
        }
    }

    /**
     * @param key an Ed25519 public key
     * @return its PeerId: the raw 32-byte key
     * @throws InvalidKeyException if it is not an Ed25519 key in the standard encoding, or a point of small order
     */
    public static PeerId peerId(PublicKey key) throws InvalidKeyException {
        byte[] spki = key.getEncoded();
        if (spki == null || spki.length != SPKI_PREFIX.length + PeerId.LENGTH
                || !Arrays.equals(spki, 0, SPKI_PREFIX.length, SPKI_PREFIX, 0, SPKI_PREFIX.length)) {
            throw new InvalidKeyException("not an Ed25519 public key (algorithm " + key.getAlgorithm()
                    + ", " + (spki == null ? "no" : spki.length + "-byte") + " encoding)");
        }
        try {
            return PeerId.of(Arrays.copyOfRange(spki, SPKI_PREFIX.length, spki.length));
        } catch (IllegalArgumentException e) {
            throw new InvalidKeyException(e.getMessage(), e);
        }
    }

    /**
     * @param peerId a PeerId
     * @return the Ed25519 public key it names
     * @throws InvalidKeyException if the 32 bytes are not a valid Ed25519 point
     */
    public static PublicKey publicKey(PeerId peerId) throws InvalidKeyException {
        byte[] spki = Der.concat(SPKI_PREFIX, peerId.bytes());
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(spki));
        } catch (InvalidKeySpecException e) {
            throw new InvalidKeyException("PeerId " + peerId + " is not a valid Ed25519 public key", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no Ed25519", e);
        }
    }

    /**
     * @param key  an Ed25519 private key
     * @param data the bytes to sign
     * @return the 64-byte signature
     */
    public static byte[] sign(PrivateKey key, byte[] data) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(data);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed: " + e.getMessage(), e);
        }
    }

    /**
     * @param signer    the PeerId (public key) that is said to have signed
     * @param data      the signed bytes
     * @param signature the signature
     * @return true only if {@code signature} is a valid Ed25519 signature of {@code data} by {@code signer}
     */
    public static boolean verify(PeerId signer, byte[] data, byte[] signature) {
        if (signature == null || signature.length != SIGNATURE_LENGTH) {
            return false;
        }
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(publicKey(signer));
            s.update(data);
            return s.verify(signature);
        } catch (InvalidKeyException | SignatureException e) {
            // A PeerId that is no curve point, or a malformed signature: not valid.
            return false;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no Ed25519", e);
        }
    }

    /**
     * Reads a PKCS#8 (RFC 5208 / RFC 8410) Ed25519 private key and rebuilds its key
     * pair. The JDK has no call that derives the public key from a private one, but
     * its generator derives the pair from 32 random bytes: fed the stored seed, it
     * yields the stored pair. A test signature proves the two halves belong together.
     *
     * @param pkcs8 the DER of the PrivateKeyInfo
     * @return the key pair
     * @throws InvalidKeySpecException if the bytes are not an Ed25519 private key
     */
    public static KeyPair fromPkcs8(byte[] pkcs8) throws InvalidKeySpecException {
        try {
            PrivateKey stored = KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            if (!(stored instanceof EdECPrivateKey edec) || edec.getBytes().isEmpty()) {
                throw new InvalidKeySpecException("not an Ed25519 private key");
            }
            byte[] seed = edec.getBytes().get();
            KeyPairGenerator generator = KeyPairGenerator.getInstance(ALGORITHM);
            generator.initialize(java.security.spec.NamedParameterSpec.ED25519, new SeedRandom(seed));
            KeyPair pair = generator.generateKeyPair();
            Arrays.fill(seed, (byte) 0);
            byte[] probe = "kizuna key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            if (!verify(peerId(pair.getPublic()), probe, sign(stored, probe))) {
                throw new InvalidKeySpecException("the public key derived from the private key does not match it");
            }
            return new KeyPair(pair.getPublic(), stored);
        } catch (InvalidKeyException | java.security.InvalidAlgorithmParameterException e) {
            throw new InvalidKeySpecException("not an Ed25519 private key: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no Ed25519", e);
        } catch (RuntimeException e) {
            // Providers report some malformed encodings as runtime exceptions.
            throw new InvalidKeySpecException("not an Ed25519 private key: " + e, e);
        }
    }

    /** Hands out a fixed seed once, so the generator rebuilds a known key pair. */
    private static final class SeedRandom extends SecureRandom {
        private static final long serialVersionUID = 1L;
        private byte[] seed;

        SeedRandom(byte[] seed) {
            this.seed = seed.clone();
        }

        @Override
        public synchronized void nextBytes(byte[] bytes) {
            if (seed == null || bytes.length != seed.length) {
                throw new IllegalStateException("unexpected request for " + bytes.length + " random bytes");
            }
            System.arraycopy(seed, 0, bytes, 0, bytes.length);
            Arrays.fill(seed, (byte) 0);
            seed = null;
        }
    }
}
