package io.kizuna.transport;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The name of a node: its 32-byte Ed25519 public key.
 *
 * <p>Because the key is the name, no directory is needed to check a peer: the
 * key a peer proves possession of during the handshake either is the PeerId the
 * caller asked for, or the connection is refused. The text form is the key in
 * lowercase RFC 4648 base32 without padding (52 characters).
 *
 * <p>A key that encodes a point of small order on edwards25519 is refused: a
 * signature can verify against such a key without its private key, so it would
 * let anyone pose as that PeerId.
 *
 * <p>Instances are immutable; {@link #bytes()} returns a copy.
 */
public final class PeerId implements Comparable<PeerId> {

    /** Length of an Ed25519 public key, and so of every PeerId, in bytes. */
    public static final int LENGTH = 32;

    /** Length of the text form: 32 bytes in base32 without padding. */
    public static final int TEXT_LENGTH = 52;

    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    /**
     * The y-coordinates, little-endian with the sign bit left out, of the eight
     * points of small order, in their canonical encodings and (the last two) as
     * y + p, as libsodium lists them. With either sign bit they cover every
     * encoding of such a point.
     */
    private static final byte[][] SMALL_ORDER = {
        hex("0100000000000000000000000000000000000000000000000000000000000000"), // order 1
        hex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // order 2
        hex("0000000000000000000000000000000000000000000000000000000000000000"), // order 4
        hex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), // order 8
        hex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), // order 8
        hex("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // p + 1 = 1
        hex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), // p = 0
    };

    private final byte[] key;

    private PeerId(byte[] key) {
        this.key = key;
    }

    /**
     * Wraps a raw public key.
     *
     * @param publicKey the 32-byte Ed25519 public key (copied)
     * @return the PeerId
     * @throws IllegalArgumentException if the key is not 32 bytes, or is a point of small order
     */
    public static PeerId of(byte[] publicKey) {
        if (publicKey == null || publicKey.length != LENGTH) {
            throw new IllegalArgumentException("a PeerId is a " + LENGTH + "-byte Ed25519 public key, got "
                    + (publicKey == null ? "null" : publicKey.length + " bytes"));
        }
        return checked(publicKey.clone());
    }

    private static PeerId checked(byte[] key) {
        for (byte[] bad : SMALL_ORDER) {
            int diff = (key[LENGTH - 1] & 0x7f) ^ bad[LENGTH - 1];
            for (int i = 0; i < LENGTH - 1; i++) {
                diff |= key[i] ^ bad[i];
            }
            if (diff == 0) {
                throw new IllegalArgumentException("key " + HexFormat.of().formatHex(key) + " is a point of small "
                        + "order on edwards25519, which no node's key is (a signature could verify against it "
                        + "without a private key)");
            }
        }
        return new PeerId(key);
    }

    private static byte[] hex(String h) {
        return HexFormat.of().parseHex(h);
    }

    /**
     * Parses the text form (lowercase base32, no padding; upper case is accepted).
     *
     * @param text the 52-character text form
     * @return the PeerId
     * @throws IllegalArgumentException naming what is wrong with the text
     */
    public static PeerId parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty PeerId: expected " + TEXT_LENGTH + " base32 characters");
        }
        String s = text.toLowerCase(Locale.ROOT);
        if (s.length() != TEXT_LENGTH) {
            throw new IllegalArgumentException("PeerId '" + abbreviate(text) + "' has " + s.length()
                    + " characters, expected " + TEXT_LENGTH + " (base32 of a 32-byte key)");
        }
        byte[] out = new byte[LENGTH];
        long buffer = 0;
        int bits = 0;
        int index = 0;
        for (int i = 0; i < s.length(); i++) {
            int v = ALPHABET.indexOf(s.charAt(i));
            if (v < 0) {
                throw new IllegalArgumentException("PeerId '" + abbreviate(text) + "' has '" + text.charAt(i)
                        + "' at position " + i + ": only a-z and 2-7 are base32");
            }
            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8) {
                bits -= 8;
                out[index++] = (byte) (buffer >>> bits);
            }
        }
        // 52 characters carry 260 bits: the 4 left over must be zero, so each key has one text form.
        if ((buffer & ((1 << bits) - 1)) != 0) {
            throw new IllegalArgumentException("PeerId '" + abbreviate(text) + "' is not canonical base32: "
                    + "its last character has non-zero padding bits");
        }
        return checked(out);
    }

    /** @return a copy of the 32-byte public key */
    public byte[] bytes() {
        return key.clone();
    }

    /** @return the first 8 characters of the text form, for tables and logs */
    public String shortForm() {
        return toString().substring(0, 8);
    }

    /** @return the text form: lowercase base32 without padding */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(TEXT_LENGTH);
        long buffer = 0;
        int bits = 0;
        for (byte b : key) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                sb.append(ALPHABET.charAt((int) ((buffer >>> bits) & 31)));
            }
        }
        if (bits > 0) {
            sb.append(ALPHABET.charAt((int) ((buffer << (5 - bits)) & 31)));
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PeerId other && Arrays.equals(key, other.key);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(key);
    }

    @Override
    public int compareTo(PeerId o) {
        return Arrays.compareUnsigned(key, o.key);
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
