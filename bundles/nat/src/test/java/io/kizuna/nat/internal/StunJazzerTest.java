package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing (Jazzer) of {@link StunMessage#parse}, which reads
 * every datagram arriving on a STUN socket or shared with QUIC's. The contract:
 * only {@link StunMessage.MalformedException} escapes; a parsed message encodes to a
 * datagram that parses to an equal message (the encoding zeroes the padding,
 * so it is not byte-for-byte canonical); every address attribute decodes to an
 * address or to empty. Without {@code JAZZER_FUZZ} the inputs under
 * {@code StunJazzerTestInputs} are replayed: the RFC 5769 samples and what
 * fuzzing found.
 */
class StunJazzerTest {

    @FuzzTest
    void parse(byte[] datagram) throws StunMessage.MalformedException {
        StunMessage m;
        try {
            m = StunMessage.parse(datagram, 0, datagram.length);
        } catch (StunMessage.MalformedException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        byte[] again = m.encode();
        assertThat(again).hasSize(datagram.length);
        assertThat(StunMessage.parse(again, 0, again.length)).isEqualTo(m);
        for (StunMessage.Attribute a : m.attributes()) {
            assertThat(m.address(a.type())).isNotNull();
        }
        m.unknownRequired();
    }
}
