package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.time.Instant;
import java.util.HexFormat;

import org.junit.jupiter.api.Test;

class DerTest {

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    @Test
    void encodesKnownValues() {
        assertThat(hex(Der.oid("1.2.840.10045.4.3.2"))).isEqualTo("06082a8648ce3d040302");
        assertThat(hex(Der.oid("2.5.4.3"))).isEqualTo("0603550403");
        // 2.25.x: first octet 2*40+25, then base 128 of a 127-bit number in 19 groups
        byte[] uuidOid = Der.oid("2.25.125854707417634875816287046089160904174");
        assertThat(uuidOid[2]).isEqualTo((byte) 0x69);
        assertThat(uuidOid[1]).isEqualTo((byte) (uuidOid.length - 2));
        assertThat(hex(Der.integer(BigInteger.TWO))).isEqualTo("020102");
        assertThat(hex(Der.integer(BigInteger.valueOf(128)))).isEqualTo("02020080");
        assertThat(hex(Der.bool(true))).isEqualTo("0101ff");
        assertThat(hex(Der.bitString(new byte[] {1}))).isEqualTo("03020001");
        assertThat(hex(Der.explicit(3, new byte[] {5}))).isEqualTo("a30105");
    }

    @Test
    void encodesLengthsMinimally() {
        assertThat(hex(Der.octetString(new byte[127])).substring(0, 4)).isEqualTo("047f");
        assertThat(hex(Der.octetString(new byte[128])).substring(0, 6)).isEqualTo("048180");
        assertThat(hex(Der.octetString(new byte[256])).substring(0, 8)).isEqualTo("04820100");
        assertThat(hex(Der.octetString(new byte[65536])).substring(0, 10)).isEqualTo("0483010000");
    }

    @Test
    void usesUtcTimeBefore2050AndGeneralizedTimeFrom2050() {
        assertThat(new String(Der.time(Instant.parse("2049-12-31T23:59:59.750Z")), 2, 13,
                java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("491231235959Z");
        assertThat(Der.time(Instant.parse("2049-12-31T23:59:59Z"))[0]).isEqualTo((byte) Der.UTC_TIME);
        byte[] later = Der.time(Instant.parse("2050-01-01T00:00:00Z"));
        assertThat(later[0]).isEqualTo((byte) Der.GENERALIZED_TIME);
        assertThat(new String(later, 2, 15, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("20500101000000Z");
    }

    @Test
    void readsWhatItWrites() throws Exception {
        byte[] big = new byte[300];
        big[299] = 7;
        Der.Reader r = new Der.Reader(Der.sequence(Der.octetString(new byte[] {1, 2}), Der.octetString(big)))
                .enter(Der.SEQUENCE);
        assertThat(r.read(Der.OCTET_STRING)).containsExactly(1, 2);
        assertThat(r.read(Der.OCTET_STRING)).isEqualTo(big);
        assertThat(r.atEnd()).isTrue();
    }

    @Test
    void refusesMalformedInput() {
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("0405010203")).read(Der.OCTET_STRING))
                .isInstanceOf(Der.DerException.class).hasMessageContaining("runs past the end");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("04810101")).read(Der.OCTET_STRING))
                .hasMessageContaining("non-minimal length");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("0482000501")).read(Der.OCTET_STRING))
                .hasMessageContaining("non-minimal length");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("0480")).read(Der.OCTET_STRING))
                .hasMessageContaining("unsupported length encoding");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("0484ffffffff")).read(Der.OCTET_STRING))
                .hasMessageContaining("unsupported length encoding");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("04")).read(Der.OCTET_STRING))
                .hasMessageContaining("truncated");
        assertThatThrownBy(() -> new Der.Reader(HexFormat.of().parseHex("0401ff")).read(Der.SEQUENCE))
                .hasMessageContaining("expected tag 0x30, found 0x4");
    }
}
