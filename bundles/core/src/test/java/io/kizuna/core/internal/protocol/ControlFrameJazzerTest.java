package io.kizuna.core.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;

import io.kizuna.transport.TransportException.ProtocolViolation;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing (Jazzer) of the control frame decoder, which reads
 * whatever a peer sends on a control stream. The contract: the bytes yield
 * messages, each of which encodes back to exactly the bytes it came from (the
 * format is canonical), or a {@link ProtocolViolation} with a message, never
 * another exception; no payload buffer is larger than the frame limit. Without
 * {@code JAZZER_FUZZ} the inputs under {@code ControlFrameJazzerTestInputs}
 * are replayed: a valid frame of every type and what fuzzing found.
 */
class ControlFrameJazzerTest {

    /** The smallest limit a node accepts, so that fuzzed lengths hit it as well as fit under it. */
    private static final int MAX = ControlCodec.MIN_MAX_FRAME_SIZE;

    @FuzzTest
    void decode(byte[] input) {
        ControlCodecTest.RecordingAllocator allocator = new ControlCodecTest.RecordingAllocator();
        FrameDecoder decoder = new FrameDecoder(MAX, allocator);
        ByteBuffer in = ByteBuffer.wrap(input);
        try {
            while (in.hasRemaining()) {
                int from = in.position();
                ControlMessage m = decoder.decode(in);
                if (m == null) {
                    assertThat(in.hasRemaining()).as("no message while bytes are left").isFalse();
                } else {
                    ByteBuffer again = ControlCodec.encode(m, MAX);
                    assertThat(again).as("%s encodes back to its bytes", m)
                            .isEqualTo(ByteBuffer.wrap(input, from, in.position() - from));
                }
            }
            decoder.endOfStream();
        } catch (ProtocolViolation v) {
            assertThat(v.getMessage()).isNotBlank();
        }
        assertThat(allocator.max()).isLessThanOrEqualTo(MAX);
    }
}
