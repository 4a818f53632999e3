package io.kizuna.core.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.ProtocolViolation;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ControlCodecTest {

    private static final int MAX = ControlCodec.DEFAULT_MAX_FRAME_SIZE;
    private static final PeerId PEER = TestIds.randomPeerId();

    static Stream<ControlMessage> everyMessageType() throws Exception {
        List<Endpoint> listen = List.of(Endpoint.parse("tcp://127.0.0.1:7400"), Endpoint.parse("quic://[::1]:7401"),
                Endpoint.parse("tcp://10.1.2.3:0"), new Endpoint("memory", new InetSocketAddress(
                        java.net.Inet6Address.getByAddress(null, v4Mapped(), -1), 65535)));
        return Stream.of(
                new ControlMessage.Open("kizuna/control/1"),
                new ControlMessage.Open("myapp/chat/1 ünïcödé ✓"),
                new ControlMessage.OpenOk(),
                new ControlMessage.OpenRefused(ControlMessage.Codes.UNSUPPORTED_PROTOCOL, "no handler for 'x'"),
                new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT, "too many", "maxPerfBytes", 1L << 34),
                new ControlMessage.Hello(1, PEER, listen, List.of("tcp", "quic", "memory"),
                        Optional.of(Endpoint.parse("tcp://192.168.1.20:51000"))),
                new ControlMessage.Hello(7, PEER, List.of(), List.of(), Optional.empty()),
                new ControlMessage.Hello(1, PEER, List.of(), List.of("relay", "webrtc"), Optional.empty(),
                        List.of("webrtc")),
                new ControlMessage.Ping(0x0123456789abcdefL),
                new ControlMessage.Ping(-1L),
                new ControlMessage.Pong(42L),
                new ControlMessage.GoAway("transport tcp is leaving this node"),
                new ControlMessage.GoAway(""),
                new ControlMessage.Error(ControlMessage.Codes.PROTOCOL_VIOLATION, "bad frame"));
    }

    private static byte[] v4Mapped() {
        byte[] b = new byte[16];
        b[10] = (byte) 0xff;
        b[11] = (byte) 0xff;
        b[12] = 1;
        b[13] = 2;
        b[14] = 3;
        b[15] = 4;
        return b;
    }

    @ParameterizedTest
    @MethodSource("everyMessageType")
    void roundTripsInOneBuffer(ControlMessage m) throws Exception {
        ByteBuffer frame = ControlCodec.encode(m, MAX);
        assertThat(frame.get(0)).as("version byte").isEqualTo((byte) ControlCodec.VERSION);
        assertThat(frame.get(1) & 0xff).as("type byte").isEqualTo(m.type().code());
        assertThat(frame.getInt(2)).as("declared length").isEqualTo(frame.remaining() - ControlCodec.HEADER_LENGTH);

        FrameDecoder d = new FrameDecoder(MAX);
        ControlMessage back = d.decode(frame);
        assertThat(back).isEqualTo(m);
        assertThat(frame.hasRemaining()).isFalse();
        assertThat(d.midFrame()).isFalse();
        d.endOfStream(); // at a frame boundary: a clean end
    }

    @ParameterizedTest
    @MethodSource("everyMessageType")
    void roundTripsOneByteAtATime(ControlMessage m) throws Exception {
        ByteBuffer frame = ControlCodec.encode(m, MAX);
        FrameDecoder d = new FrameDecoder(MAX);
        ControlMessage back = null;
        int fed = 0;
        while (frame.hasRemaining()) {
            assertThat(back).as("no message before the last byte").isNull();
            ByteBuffer one = ByteBuffer.wrap(new byte[] {frame.get()});
            back = d.decode(one);
            fed++;
            assertThat(one.hasRemaining()).isFalse();
        }
        assertThat(back).isEqualTo(m);
        assertThat(fed).isEqualTo(ControlCodec.encode(m, MAX).remaining());
    }

    @ParameterizedTest
    @MethodSource("everyMessageType")
    void encodingIsCanonical(ControlMessage m) throws Exception {
        ByteBuffer frame = ControlCodec.encode(m, MAX);
        ControlMessage back = new FrameDecoder(MAX).decode(frame.duplicate());
        assertThat(ControlCodec.encode(back, MAX)).isEqualTo(frame);
    }

    @Test
    void decodesFramesBackToBackAndLeavesWhatFollows() throws Exception {
        List<ControlMessage> all = everyMessageType().toList();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ControlMessage m : all) {
            ByteBuffer f = ControlCodec.encode(m, MAX);
            out.write(f.array(), f.position(), f.remaining());
        }
        out.write("application bytes".getBytes(StandardCharsets.US_ASCII));
        ByteBuffer in = ByteBuffer.wrap(out.toByteArray());
        FrameDecoder d = new FrameDecoder(MAX);
        List<ControlMessage> back = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            back.add(d.decode(in));
        }
        assertThat(back).isEqualTo(all);
        assertThat(d.frames()).isEqualTo(all.size());
        byte[] rest = new byte[in.remaining()];
        in.get(rest);
        assertThat(new String(rest, StandardCharsets.US_ASCII)).as("bytes after the frames are not consumed")
                .isEqualTo("application bytes");
    }

    @Test
    void wantedTellsHowManyBytesTheFrameStillNeeds() throws Exception {
        ByteBuffer frame = ControlCodec.encode(new ControlMessage.GoAway("bye"), MAX);
        FrameDecoder d = new FrameDecoder(MAX);
        assertThat(d.wanted()).isEqualTo(ControlCodec.HEADER_LENGTH);
        d.decode(ByteBuffer.wrap(frame.array(), 0, 4));
        assertThat(d.wanted()).isEqualTo(2);
        d.decode(ByteBuffer.wrap(frame.array(), 4, 2));
        assertThat(d.wanted()).isEqualTo(frame.remaining() - ControlCodec.HEADER_LENGTH);
    }

    @Test
    void encoderRefusesWhatDoesNotFit() {
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.Open(""), MAX))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.Open("x".repeat(256)), MAX))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("255");
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.Open("a\nb"), MAX))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("control characters");
        List<Endpoint> many = new ArrayList<>();
        for (int i = 0; i < 65; i++) {
            many.add(Endpoint.parse("tcp://127.0.0.1:" + (1000 + i)));
        }
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.Hello(1, PEER, many, List.of(),
                Optional.empty()), MAX)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("64");
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.GoAway("x"), 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exceeds the frame limit");
    }

    @Test
    void longReasonsAreCutToTheLimit() throws Exception {
        String reason = "é".repeat(5000);
        ByteBuffer f = ControlCodec.encode(new ControlMessage.Error(1, reason), MAX);
        ControlMessage.Error back = (ControlMessage.Error) new FrameDecoder(MAX).decode(f);
        assertThat(back.reason().getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(ControlCodec.MAX_REASON);
        assertThat(back.reason()).endsWith("...").startsWith("éé");
    }

    @Test
    void theLargestHelloFitsTheSmallestFrameLimit() throws Exception {
        List<Endpoint> listen = new ArrayList<>();
        List<String> transports = new ArrayList<>();
        for (int i = 0; i < ControlCodec.MAX_LIST; i++) {
            listen.add(new Endpoint("t" + "x".repeat(30) + (i % 10), new InetSocketAddress(
                    InetAddress.getByName("2001:db8::" + Integer.toHexString(i + 1)), 65535)));
            transports.add("t" + "y".repeat(29) + String.format("%02d", i));
        }
        ControlMessage.Hello h = new ControlMessage.Hello(1, PEER, listen, transports, Optional.of(listen.get(0)),
                transports);
        ByteBuffer f = ControlCodec.encode(h, ControlCodec.MIN_MAX_FRAME_SIZE);
        assertThat(new FrameDecoder(ControlCodec.MIN_MAX_FRAME_SIZE).decode(f)).isEqualTo(h);
    }

    @Test
    void theSignaledTransportsAreLeftOutWhenThereAreNone() throws Exception {
        ControlMessage.Hello without = new ControlMessage.Hello(1, PEER, List.of(), List.of("tcp"), Optional.empty());
        ControlMessage.Hello with = new ControlMessage.Hello(1, PEER, List.of(), List.of("tcp"), Optional.empty(),
                List.of("webrtc"));
        byte[] a = bytes(ControlCodec.encode(without, MAX));
        byte[] b = bytes(ControlCodec.encode(with, MAX));
        // The same HELLO as before the field existed, then count 1 and "webrtc".
        assertThat(b.length).isEqualTo(a.length + 1 + 1 + "webrtc".length());
        assertThat(java.util.Arrays.copyOfRange(b, ControlCodec.HEADER_LENGTH, a.length))
                .isEqualTo(java.util.Arrays.copyOfRange(a, ControlCodec.HEADER_LENGTH, a.length));
    }

    @Test
    void anEmptyOrBadSignaledListIsRefused() {
        ControlMessage.Hello h = new ControlMessage.Hello(1, PEER, List.of(), List.of("tcp"), Optional.empty());
        byte[] plain = bytes(ControlCodec.encode(h, MAX));
        assertThat(violationOf(withTail(plain, new byte[] {0}), MAX, new RecordingAllocator()).getMessage())
                .contains("present but empty");
        assertThat(violationOf(withTail(plain, new byte[] {1, 2, 'W', 'X'}), MAX, new RecordingAllocator())
                .getMessage()).contains("signaled transport name 0");
        assertThat(violationOf(withTail(plain, new byte[] {2, 1, 'w'}), MAX, new RecordingAllocator())
                .getMessage()).contains("signaled transport 1");
        assertThatThrownBy(() -> ControlCodec.encode(new ControlMessage.Hello(1, PEER, List.of(), List.of(),
                Optional.empty(), List.of("Not valid")), MAX)).isInstanceOf(IllegalArgumentException.class);
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    /** The frame with bytes appended to its payload, its length field updated. */
    private static byte[] withTail(byte[] frame, byte[] tail) {
        byte[] out = java.util.Arrays.copyOf(frame, frame.length + tail.length);
        System.arraycopy(tail, 0, out, frame.length, tail.length);
        ByteBuffer.wrap(out).putInt(2, frame.length - ControlCodec.HEADER_LENGTH + tail.length);
        return out;
    }

    // ------------------------------------------------------------------ bad input

    private static ProtocolViolation violationOf(byte[] bytes, int max, RecordingAllocator alloc) {
        FrameDecoder d = new FrameDecoder(max, alloc);
        try {
            ControlMessage m = d.decode(ByteBuffer.wrap(bytes));
            d.endOfStream();
            throw new AssertionError("decoded " + m + " from bad bytes");
        } catch (ProtocolViolation v) {
            return v;
        }
    }

    private static byte[] header(int version, int type, long length) {
        return ByteBuffer.allocate(6).put((byte) version).put((byte) type).putInt((int) length).array();
    }

    @Test
    void garbageBytesAreRefusedAtTheFirstByte() {
        RecordingAllocator alloc = new RecordingAllocator();
        ProtocolViolation v = violationOf("GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII), MAX, alloc);
        assertThat(v).hasMessageContaining("not a control frame").hasMessageContaining("0x47");
        assertThat(alloc.count()).isZero();
    }

    @Test
    void unknownTypeIsRefusedFromTheHeader() {
        RecordingAllocator alloc = new RecordingAllocator();
        ProtocolViolation v = violationOf(header(1, 0x7f, 4), MAX, alloc);
        assertThat(v).hasMessageContaining("unknown control message type 0x7f");
        assertThat(alloc.count()).isZero();
    }

    @Test
    void declaredTwoGibibytesAreRefusedBeforeAnyAllocation() {
        RecordingAllocator alloc = new RecordingAllocator();
        ProtocolViolation v = violationOf(header(1, MessageType.HELLO.code(), 0x8000_0000L), MAX, alloc);
        assertThat(v).hasMessageContaining("2147483648").hasMessageContaining("maxFrameSize");
        assertThat(alloc.count()).as("allocations").isZero();
        ProtocolViolation v2 = violationOf(header(1, MessageType.HELLO.code(), 0xffff_ffffL), MAX, alloc);
        assertThat(v2).hasMessageContaining("4294967295");
        assertThat(alloc.count()).isZero();
    }

    @Test
    void justAboveTheLimitIsRefusedAndTheLimitItselfIsAllocatedExactly() throws Exception {
        int small = 100;
        RecordingAllocator alloc = new RecordingAllocator();
        assertThat(violationOf(header(1, MessageType.GOAWAY.code(), small + 1), small, alloc))
                .hasMessageContaining((small + 1) + "-byte").hasMessageContaining("maxFrameSize");
        assertThat(alloc.count()).isZero();
        FrameDecoder d = new FrameDecoder(small, alloc);
        assertThat(d.decode(ByteBuffer.wrap(header(1, MessageType.GOAWAY.code(), small)))).isNull();
        assertThat(alloc.max()).isEqualTo(small);
    }

    /**
     * Each type's own largest payload (from the field limits) is checked from the
     * header, before anything is allocated, however large {@code maxFrameSize} is.
     */
    @Test
    void eachTypeIsBoundedByItsOwnLargestPayloadBeforeAllocating() {
        Map<MessageType, Integer> largest = Map.of(MessageType.OPEN, 2 + 255, MessageType.OPEN_REFUSED,
                2 + 2 + 1024 + 1 + 64 + 8, MessageType.GOAWAY, 2 + 1024, MessageType.ERROR, 2 + 2 + 1024,
                MessageType.HELLO, 2 + 32 + 1 + 64 * 52 + 1 + 64 * 33 + 1 + 52 + 1 + 64 * 33);
        for (Map.Entry<MessageType, Integer> e : largest.entrySet()) {
            RecordingAllocator alloc = new RecordingAllocator();
            ProtocolViolation v = violationOf(header(1, e.getKey().code(), e.getValue() + 1),
                    ControlCodec.MAX_MAX_FRAME_SIZE, alloc);
            assertThat(v).as(e.getKey().name()).hasMessageContaining(e.getKey().name())
                    .hasMessageContaining("at most " + e.getValue());
            assertThat(alloc.count()).as(e.getKey() + " allocations").isZero();
        }
    }

    @Test
    void theLargestValidMessagesStillDecode() throws Exception {
        String name32 = "t" + "x".repeat(31);
        Endpoint v6 = new Endpoint(name32, new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 7400));
        List<Endpoint> listen = java.util.Collections.nCopies(64, v6);
        List<String> names = java.util.Collections.nCopies(64, name32);
        ControlMessage[] largest = {
            new ControlMessage.Open("p".repeat(255)),
            new ControlMessage.OpenRefused(2, "r".repeat(1024), "l".repeat(64), Long.MAX_VALUE),
            new ControlMessage.GoAway("g".repeat(1024)),
            new ControlMessage.Error(6, "e".repeat(1024)),
            new ControlMessage.Hello(1, PEER, listen, names, Optional.of(v6), names),
        };
        for (ControlMessage m : largest) {
            ByteBuffer f = ControlCodec.encode(m, ControlCodec.MIN_MAX_FRAME_SIZE);
            assertThat(new FrameDecoder(ControlCodec.MAX_MAX_FRAME_SIZE).decode(f)).isEqualTo(m);
        }
    }

    @Test
    void aHelloNamingAPointOfSmallOrderIsAViolation() {
        ByteBuffer f = ControlCodec.encode(new ControlMessage.Hello(1, PEER, List.of(), List.of("tcp"),
                Optional.empty(), List.of()), MAX);
        byte[] bytes = bytes(f);
        // The identity point (0, 1) where the PeerId goes, after the header and the version.
        java.util.Arrays.fill(bytes, ControlCodec.HEADER_LENGTH + 2, ControlCodec.HEADER_LENGTH + 2 + PeerId.LENGTH,
                (byte) 0);
        bytes[ControlCodec.HEADER_LENGTH + 2] = 1;
        assertThat(violationOf(bytes, MAX, new RecordingAllocator())).hasMessageContaining("peerId")
                .hasMessageContaining("small order");
    }

    @Test
    void fixedSizeTypesRefuseAnotherLength() {
        assertThat(violationOf(header(1, MessageType.PING.code(), 9), MAX, new RecordingAllocator()))
                .hasMessageContaining("PING").hasMessageContaining("8 bytes");
        assertThat(violationOf(header(1, MessageType.OPEN_OK.code(), 1), MAX, new RecordingAllocator()))
                .hasMessageContaining("OPEN_OK");
    }

    @Test
    void truncatedFrameIsAViolationAtEndOfStream() throws Exception {
        ByteBuffer f = ControlCodec.encode(new ControlMessage.GoAway("a reason of some length"), MAX);
        byte[] part = new byte[f.remaining() - 5];
        f.get(part);
        FrameDecoder d = new FrameDecoder(MAX);
        assertThat(d.decode(ByteBuffer.wrap(part))).isNull();
        assertThat(d.midFrame()).isTrue();
        assertThatThrownBy(d::endOfStream).isInstanceOf(ProtocolViolation.class)
                .hasMessageContaining("truncated GOAWAY frame").hasMessageContaining("of its 25 payload bytes");

        FrameDecoder h = new FrameDecoder(MAX);
        h.decode(ByteBuffer.wrap(new byte[] {1, 0x20, 0}));
        assertThatThrownBy(h::endOfStream).isInstanceOf(ProtocolViolation.class)
                .hasMessageContaining("3 of the 6 header bytes");
    }

    @Test
    void fieldLengthsInconsistentWithTheFrameAreViolations() {
        // OPEN whose string claims 50 bytes in a 10-byte payload
        ByteBuffer b = ByteBuffer.allocate(16).put(header(1, MessageType.OPEN.code(), 10)).putShort((short) 50)
                .put(new byte[8]);
        assertThat(violationOf(b.array(), MAX, new RecordingAllocator()))
                .hasMessageContaining("malformed OPEN frame").hasMessageContaining("needs 50 bytes");
        // GOAWAY with a byte left over after its reason
        ByteBuffer c = ByteBuffer.allocate(10).put(header(1, MessageType.GOAWAY.code(), 4)).putShort((short) 1)
                .put((byte) 'x').put((byte) 0);
        assertThat(violationOf(c.array(), MAX, new RecordingAllocator())).hasMessageContaining("left over");
        // OPEN with invalid UTF-8
        ByteBuffer u = ByteBuffer.allocate(10).put(header(1, MessageType.OPEN.code(), 4)).putShort((short) 2)
                .put((byte) 0xc3).put((byte) 0x28);
        assertThat(violationOf(u.array(), MAX, new RecordingAllocator())).hasMessageContaining("UTF-8");
        // HELLO with an address of 5 bytes
        ByteBuffer h = ByteBuffer.allocate(6 + 2 + 32 + 1 + 1 + 3 + 1 + 5 + 2)
                .put(header(1, MessageType.HELLO.code(), 2 + 32 + 1 + 1 + 3 + 1 + 5 + 2)).putShort((short) 1)
                .put(PEER.bytes()).put((byte) 1).put((byte) 3).put("tcp".getBytes(StandardCharsets.US_ASCII))
                .put((byte) 5).put(new byte[5]).putShort((short) 1);
        assertThat(violationOf(h.array(), MAX, new RecordingAllocator())).hasMessageContaining("address length 5");
    }

    @Test
    void aFailedDecoderStaysFailed() {
        FrameDecoder d = new FrameDecoder(MAX);
        assertThatThrownBy(() -> d.decode(ByteBuffer.wrap(new byte[] {9}))).isInstanceOf(ProtocolViolation.class);
        assertThatThrownBy(() -> d.decode(ControlCodec.encode(new ControlMessage.OpenOk(), MAX)))
                .isInstanceOf(ProtocolViolation.class);
    }

    /** Records the payload buffers a decoder asks for. */
    static final class RecordingAllocator implements java.util.function.IntFunction<ByteBuffer> {
        private final AtomicInteger count = new AtomicInteger();
        private final AtomicInteger max = new AtomicInteger();

        @Override
        public ByteBuffer apply(int size) {
            count.incrementAndGet();
            max.accumulateAndGet(size, Math::max);
            return ByteBuffer.allocate(size);
        }

        int count() {
            return count.get();
        }

        int max() {
            return max.get();
        }
    }
}
