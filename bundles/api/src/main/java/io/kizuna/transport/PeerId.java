package io.kizuna.transport;

import java.util.Arrays;
import java.util.Locale;

/**
 * The name of a node: its 32-byte Ed25519 public key.
 *
 * <p>Because the key is the name, no directory is needed to check a peer: the
 * key a peer proves possession of during the handshake either is the PeerId the
 * caller asked for, or the connection is refused. The text form is the key in
 * lowercase RFC 4648 base32 without padding (52 characters).
 *
 * <p>Instances are immutable; {@link #bytes()} returns a copy.
 */
public final class PeerId implements Comparable<PeerId> {

    /** Length of an Ed25519 public key, and so of every PeerId, in bytes. */
    public static final int LENGTH = 32;

    /** Length of the text form: 32 bytes in base32 without padding. */
    public static final int TEXT_LENGTH = 52;

    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

    private final byte[] key;

    private PeerId(byte[] key) {
        this.key = key;
    }

    /**
     * Wraps a raw public key.
     *
     * @param publicKey the 32-byte Ed25519 public key (copied)
     * @return the PeerId
     * @throws IllegalArgumentException if the key is not 32 bytes
     */
    public static PeerId of(byte[] publicKey) {
        if (publicKey == null || publicKey.length != LENGTH) {
            throw new IllegalArgumentException("a PeerId is a " + LENGTH + "-byte Ed25519 public key, got "
                    + (publicKey == null ? "null" : publicKey.length + " bytes"));
        }
        return new PeerId(publicKey.clone());
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
        return new PeerId(out);
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
