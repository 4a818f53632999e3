package io.kizuna.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Keys that are no node's key: the points of small order on edwards25519. */
class PeerIdTest {

    /**
     * The eight points of small order (the curve's torsion subgroup), each in its
     * canonical encoding, little-endian: against such a key a forged signature
     * can verify, so no node may be named by one.
     */
    static final List<String> SMALL_ORDER = List.of(
            "0100000000000000000000000000000000000000000000000000000000000000", // (0, 1), order 1
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, -1), order 2
            "0000000000000000000000000000000000000000000000000000000000000000", // y = 0, order 4
            "0000000000000000000000000000000000000000000000000000000000000080", // y = 0, other x, order 4
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"); // order 8

    /** Non-canonical encodings of small-order points: y = p + 1 (= 1), y = p (= 0), and (0, 1) with x's sign set. */
    static final List<String> SMALL_ORDER_NON_CANONICAL = List.of(
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "0100000000000000000000000000000000000000000000000000000000000080");

    private static final HexFormat HEX = HexFormat.of();

    @Test
    void smallOrderPointsAreNoPeerIds() {
        for (String hex : concat()) {
            byte[] key = HEX.parseHex(hex);
            assertThatThrownBy(() -> PeerId.of(key)).as(hex).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("small order");
            String text = textOf(key);
            assertThatThrownBy(() -> PeerId.parse(text)).as(text).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("small order");
        }
    }

    @Test
    void aKeyOneBitAwayIsStillAPeerId() {
        byte[] key = HEX.parseHex(SMALL_ORDER.get(4));
        key[0] ^= 1;
        assertThat(PeerId.parse(PeerId.of(key).toString()).bytes()).isEqualTo(key);
    }

    private static List<String> concat() {
        return java.util.stream.Stream.concat(SMALL_ORDER.stream(), SMALL_ORDER_NON_CANONICAL.stream()).toList();
    }

    /** Base32 as PeerId writes it, computed here so the text does not come from PeerId itself. */
    private static String textOf(byte[] key) {
        String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        StringBuilder sb = new StringBuilder();
        long buffer = 0;
        int bits = 0;
        for (byte b : key) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                sb.append(alphabet.charAt((int) ((buffer >>> bits) & 31)));
            }
        }
        sb.append(alphabet.charAt((int) ((buffer << (5 - bits)) & 31)));
        return sb.toString();
    }
}
