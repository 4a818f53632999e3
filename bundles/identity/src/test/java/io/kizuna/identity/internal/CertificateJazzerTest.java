package io.kizuna.identity.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Instant;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing (Jazzer) of what reads a peer's TLS certificate: the
 * DER reader and {@link BoundCertificates#verify}. The contract: the reader
 * throws only {@link Der.DerException} and accepts only minimal lengths, so an
 * element it reads is exactly what {@link Der#tlv} writes for its content; a
 * certificate, whatever its bytes, is a PeerId or a
 * {@link CertificateException}. Without {@code JAZZER_FUZZ} the inputs under
 * {@code CertificateJazzerTestInputs} are replayed: a bound certificate and
 * what fuzzing found.
 */
class CertificateJazzerTest {

    /** Tags a certificate uses: SEQUENCE, SET, INTEGER, BIT STRING, OCTET STRING, OID, [0], [3], UTF8String. */
    private static final int[] TAGS = {0x30, 0x31, 0x02, 0x03, 0x04, 0x06, 0xa0, 0xa3, 0x0c};

    /** Within the bound certificates' validity (the seed was made on 2026-12-07). */
    private static final Instant NOW = Instant.parse("2026-12-08T00:00:00Z");

    @FuzzTest
    void der(FuzzedDataProvider data) {
        int[] path = new int[data.consumeInt(0, 16)];
        for (int i = 0; i < path.length; i++) {
            path[i] = data.consumeInt(0, TAGS.length * 2 - 1);
        }
        byte[] input = data.consumeRemainingAsBytes();
        Der.Reader r = new Der.Reader(input);
        try {
            for (int step : path) {
                int tag = TAGS[step % TAGS.length];
                if (step < TAGS.length) {
                    r = r.enter(tag);
                } else {
                    byte[] element = r.readElement(tag);
                    Der.Reader again = new Der.Reader(element);
                    assertThat(Der.tlv(tag, again.read(tag))).isEqualTo(element);
                    assertThat(again.atEnd()).isTrue();
                }
            }
        } catch (Der.DerException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }

    @FuzzTest
    void certificate(byte[] encoded) {
        Certificate cert;
        try {
            cert = CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(encoded));
        } catch (CertificateException | RuntimeException notACertificate) {
            return; // the JDK's parser, not the subject of this target
        }
        try {
            assertThat(BoundCertificates.verify(new Certificate[] {cert}, NOW)).isNotNull();
        } catch (CertificateException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }
}
