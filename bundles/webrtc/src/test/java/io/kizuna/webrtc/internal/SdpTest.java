package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SdpTest {

    private static final String FP = "AB:".repeat(31) + "CD";
    private static final String SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
            + "a=candidate:1 1 udp 2122262783 fd00::2 38700 typ host generation 0\r\n"
            + "a=candidate:2 1 udp 2122262783 127.0.0.1 38701 typ host generation 0\r\n"
            + "a=candidate:3 1 udp 2122262783 abc.local 38702 typ host generation 0\r\n"
            + "a=fingerprint:sha-256 " + FP + "\r\na=max-message-size:262144\r\n";

    @Test
    void candidatesInTheSdpPassTheSameFilterAsTrickledOnes() {
        String kept = Sdp.withCandidates(SDP, c -> c.contains(" 127.0.0.1 "));
        assertThat(kept).contains("127.0.0.1 38701").doesNotContain("fd00::2").doesNotContain("abc.local")
                .contains("a=fingerprint:sha-256 " + FP + "\r\n").startsWith("v=0\r\n");
    }

    @Test
    void fingerprintAndMessageSize() {
        assertThat(Sdp.fingerprint(SDP)).isEqualTo("sha-256 " + FP);
        assertThat(Sdp.maxMessageSize(SDP)).hasValue(262144);
        assertThatThrownBy(() -> Sdp.fingerprint("v=0\r\n")).hasMessageContaining("no DTLS fingerprint");
        assertThatThrownBy(() -> Sdp.fingerprint(SDP + "a=fingerprint:sha-256 " + FP.replace("CD", "CE") + "\r\n"))
                .hasMessageContaining("two DTLS fingerprints");
        assertThatThrownBy(() -> Sdp.fingerprint("a=fingerprint:sha-1 AB:CD\r\n")).hasMessageContaining("not SHA-256");
    }
}
