package io.kizuna.relay.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;

import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.TransportException.ProtocolViolation;
import io.kizuna.transport.TransportException.RelayFailed;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.code_intelligence.jazzer.mutation.annotation.NotNull;

/**
 * Coverage-guided fuzzing (Jazzer) of what a relay reads from strangers: the
 * relay protocol's payloads and the relay tokens inside RESERVE and CONNECT.
 * The contract: {@link RelayCodec#decode} yields a message or throws
 * {@link ProtocolViolation} or {@link IllegalArgumentException} (which its
 * reader turns into a violation); a message it yields re-encodes to the same
 * payload (a REFUSED with a reason code this side does not know as OTHER's
 * code). {@link RelayToken#decode} and {@link RelayToken#parse} throw only
 * {@link RelayToken.Invalid}, which {@link Admission} turns into a BAD_TOKEN
 * refusal. Without {@code JAZZER_FUZZ} the inputs under
 * {@code RelayParsingJazzerTestInputs} are replayed.
 */
class RelayParsingJazzerTest {

    @FuzzTest
    void codec(FuzzedDataProvider data) {
        int type = data.consumeInt(0, 10);
        byte[] payload = data.consumeRemainingAsBytes();
        if (payload.length > RelayCodec.MAX_PAYLOAD) {
            return; // the reader refuses a longer frame before decoding
        }
        RelayMessage m;
        try {
            m = RelayCodec.decode(type, ByteBuffer.wrap(payload));
        } catch (ProtocolViolation | IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        ByteBuffer frame = RelayCodec.encode(m);
        assertThat(frame.get(0) & 0xff).isEqualTo(type);
        byte[] again = new byte[frame.remaining() - 3];
        frame.position(3).get(again);
        byte[] expected = payload.clone();
        if (m instanceof RelayMessage.Refused r && r.reason() == RelayFailed.Reason.OTHER) {
            expected[0] = 0; // a reason code this side does not know is read as OTHER (a newer relay's reason)
        }
        assertThat(again).as("%s re-encodes to its payload", m).isEqualTo(expected);
    }

    @FuzzTest
    void token(byte[] raw) throws RelayToken.Invalid {
        RelayToken t;
        try {
            t = RelayToken.decode(raw);
        } catch (RelayToken.Invalid expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        assertThat(t.encode()).isEqualTo(raw);
        assertThat(Arrays.equals(RelayToken.parse(t.text()).encode(), raw)).isTrue();
    }

    @FuzzTest
    void tokenText(@NotNull String text) {
        try {
            RelayToken.parse(text);
        } catch (RelayToken.Invalid expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
    }
}
