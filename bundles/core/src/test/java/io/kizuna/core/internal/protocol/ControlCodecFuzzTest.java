package io.kizuna.core.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.TransportException.ProtocolViolation;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Property tests of the decoder on random and mutated input: whatever the bytes,
 * the decoder yields valid messages (which encode back to exactly the bytes they
 * came from) or a {@link ProtocolViolation}, never another exception, and never
 * asks for a buffer larger than the frame limit. Each property runs for a
 * bounded time and number of iterations and prints how many it ran.
 */
class ControlCodecFuzzTest {

    /** A small limit, so that random lengths hit it and also fit under it. */
    private static final int MAX = ControlCodec.MIN_MAX_FRAME_SIZE;
    private static final long BUDGET_NANOS = TimeUnit.SECONDS.toNanos(3);
    private static final int MAX_ITERATIONS = 300_000;

    private final ControlCodecTest.RecordingAllocator allocator = new ControlCodecTest.RecordingAllocator();

    private static List<ByteBuffer> seeds() throws Exception {
        List<ByteBuffer> out = new ArrayList<>();
        for (ControlMessage m : ControlCodecTest.everyMessageType().toList()) {
            out.add(ControlCodec.encode(m, MAX));
        }
        return out;
    }

    /** Feeds bytes in random slices; checks every outcome. */
    private Outcome feed(byte[] input, SplittableRandom r) {
        FrameDecoder d = new FrameDecoder(MAX, allocator);
        ByteBuffer in = ByteBuffer.wrap(input);
        int messages = 0;
        int consumedBefore = 0;
        try {
            while (in.hasRemaining()) {
                int slice = 1 + r.nextInt(Math.min(in.remaining(), 64));
                ByteBuffer part = in.slice();
                part.limit(slice);
                while (part.hasRemaining()) {
                    int start = in.position() + part.position();
                    ControlMessage m = d.decode(part);
                    if (m != null) {
                        messages++;
                        int end = in.position() + part.position();
                        checkCanonical(m, input, consumedBefore, end);
                        consumedBefore = end;
                    } else if (part.hasRemaining()) {
                        fail("the decoder returned no message but left bytes of its slice at " + start);
                    }
                }
                in.position(in.position() + slice);
            }
            d.endOfStream();
            return new Outcome(messages, false);
        } catch (ProtocolViolation v) {
            assertThat(v.getMessage()).isNotBlank();
            return new Outcome(messages, true);
        }
    }

    private static void checkCanonical(ControlMessage m, byte[] input, int from, int to) {
        ByteBuffer again = ControlCodec.encode(m, MAX);
        ByteBuffer original = ByteBuffer.wrap(input, from, to - from);
        assertThat(again).as("%s encodes back to the bytes it was decoded from", m).isEqualTo(original);
    }

    private record Outcome(int messages, boolean violation) {
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void randomBytesYieldOnlyMessagesOrViolations() {
        SplittableRandom r = new SplittableRandom(0x6b697a756e61L);
        long start = System.nanoTime();
        int iterations = 0;
        int violations = 0;
        int messages = 0;
        while (iterations < MAX_ITERATIONS && System.nanoTime() - start < BUDGET_NANOS) {
            byte[] input = new byte[r.nextInt(1, 200)];
            r.nextBytes(input);
            if (r.nextInt(4) == 0) {
                input[0] = (byte) ControlCodec.VERSION; // get past the first check now and then
                if (input.length > 1) {
                    MessageType t = MessageType.values()[r.nextInt(MessageType.values().length)];
                    input[1] = (byte) t.code();
                    if (input.length >= 6 && r.nextBoolean()) {
                        // a length that fits what follows, so that some random payloads decode
                        int len = t.fixedLength() >= 0 ? t.fixedLength() : r.nextInt(input.length - 5);
                        ByteBuffer.wrap(input).putInt(2, len);
                    }
                }
            }
            Outcome o = feed(input, r);
            violations += o.violation() ? 1 : 0;
            messages += o.messages();
            iterations++;
        }
        System.out.printf("fuzz random bytes: %d iterations, %d violations, %d messages decoded, largest "
                + "allocation %d bytes%n", iterations, violations, messages, allocator.max());
        assertThat(iterations).isGreaterThan(1000);
        assertThat(violations).isPositive();
        assertThat(messages).as("some random payloads are valid messages (e.g. PING)").isPositive();
        assertThat(allocator.max()).isLessThanOrEqualTo(MAX);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void mutatedValidFramesYieldOnlyMessagesOrViolations() throws Exception {
        List<ByteBuffer> seeds = seeds();
        SplittableRandom r = new SplittableRandom(0x5eedL);
        long start = System.nanoTime();
        int iterations = 0;
        int violations = 0;
        int clean = 0;
        while (iterations < MAX_ITERATIONS && System.nanoTime() - start < BUDGET_NANOS) {
            // one to three valid frames, back to back, then mutated
            int frames = r.nextInt(1, 4);
            ByteBuffer joined = ByteBuffer.allocate(frames * 2048);
            for (int i = 0; i < frames; i++) {
                joined.put(seeds.get(r.nextInt(seeds.size())).duplicate());
            }
            byte[] input = new byte[joined.position()];
            joined.flip().get(input);
            input = mutate(input, r);
            Outcome o = feed(input, r);
            if (o.violation()) {
                violations++;
            } else {
                clean++;
            }
            iterations++;
        }
        System.out.printf("fuzz mutated frames: %d iterations, %d violations, %d decoded cleanly, largest "
                + "allocation %d bytes%n", iterations, violations, clean, allocator.max());
        assertThat(iterations).isGreaterThan(1000);
        assertThat(violations).isPositive();
        assertThat(clean).as("some mutations still decode (e.g. a changed nonce)").isPositive();
        assertThat(allocator.max()).isLessThanOrEqualTo(MAX);
    }

    private static byte[] mutate(byte[] in, SplittableRandom r) {
        byte[] b = in.clone();
        int kind = r.nextInt(6);
        switch (kind) {
            case 0 -> { // flip bits
                for (int i = 0, n = r.nextInt(1, 4); i < n; i++) {
                    int at = r.nextInt(b.length);
                    b[at] ^= (byte) (1 << r.nextInt(8));
                }
            }
            case 1 -> b[r.nextInt(b.length)] = (byte) r.nextInt(256); // replace a byte
            case 2 -> { // truncate
                b = java.util.Arrays.copyOf(b, r.nextInt(b.length));
            }
            case 3 -> { // insert random bytes
                int at = r.nextInt(b.length + 1);
                byte[] extra = new byte[r.nextInt(1, 8)];
                r.nextBytes(extra);
                byte[] out = new byte[b.length + extra.length];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(extra, 0, out, at, extra.length);
                System.arraycopy(b, at, out, at + extra.length, b.length - at);
                b = out;
            }
            case 4 -> { // corrupt a length field in the first header
                if (b.length >= 6) {
                    ByteBuffer.wrap(b).putInt(2, r.nextInt());
                }
            }
            default -> { // change a payload byte only (leaves the header valid)
                if (b.length > 6) {
                    b[6 + r.nextInt(b.length - 6)] = (byte) r.nextInt(256);
                }
            }
        }
        return b;
    }
}
