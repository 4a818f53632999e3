package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;

import io.kizuna.transport.TransportException;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.code_intelligence.jazzer.mutation.annotation.NotNull;

/**
 * Coverage-guided fuzzing (Jazzer) of what a WebRTC node reads from its
 * signaling peer: the JSON of a signal, the signal itself and the SDP in its
 * body. The contract: {@link Json#parseObject} throws only
 * {@link IllegalArgumentException}, and what it parses writes to JSON that
 * parses to the same members; {@link Signal#parse} throws only
 * {@link TransportException.ProtocolViolation}, and a parsed signal's JSON
 * parses to an equal signal; the SDP readers throw at most
 * {@link IllegalArgumentException}. Without {@code JAZZER_FUZZ} the inputs
 * under {@code SignalingJazzerTestInputs} are replayed.
 */
class SignalingJazzerTest {

    /** The default largest signaling message. */
    private static final int MAX_CHARS = 64 * 1024;

    @FuzzTest
    void json(@NotNull String text) {
        Map<String, Object> members;
        try {
            members = Json.parseObject(text);
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        assertThat(Json.parseObject(Json.write(members))).isEqualTo(members);
    }

    @FuzzTest
    void signal(@NotNull String text) throws TransportException.ProtocolViolation {
        Signal s;
        try {
            s = Signal.parse(text, MAX_CHARS);
        } catch (TransportException.ProtocolViolation expected) {
            assertThat(expected.getMessage()).isNotBlank();
            return;
        }
        Signal again = Signal.parse(s.toJson(), MAX_CHARS);
        assertThat(again.toJson()).isEqualTo(s.toJson());
        s.verifies();
    }

    @FuzzTest
    void sdp(@NotNull String sdp) {
        try {
            assertThat(Sdp.fingerprint(sdp)).startsWith("sha-256 ");
        } catch (IllegalArgumentException expected) {
            assertThat(expected.getMessage()).isNotBlank();
        }
        Sdp.maxMessageSize(sdp).ifPresent(max -> assertThat(max).isNotNegative());
        assertThat(Sdp.withCandidates(sdp, c -> true)).isEqualTo(sdp);
    }
}
