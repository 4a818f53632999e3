package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.Stream;

import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.protocol.MessageType;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input from a peer: garbage bytes, a truncated frame, an unknown message
 * type and a declared 2 GiB length, each before the stream named its protocol
 * and inside an established control session. Each gets a protocol violation: an
 * ERROR frame saying what was wrong, that connection closed, the violation
 * counted, no allocation above the frame limit; and a healthy connection to the
 * same node keeps working during and after.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class BadInputTest extends ManagerTestSupport {

    private static final int MAX_FRAME = ControlCodec.DEFAULT_MAX_FRAME_SIZE;

    enum Phase { BEFORE_OPEN, IN_SESSION }

    enum Bad {
        GARBAGE("not a control frame"),
        TRUNCATED("truncated"),
        UNKNOWN_TYPE("unknown control message type 0x7f"),
        TWO_GIB("2147483648");

        final String expected;

        Bad(String expected) {
            this.expected = expected;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Phase p : Phase.values()) {
            for (Bad b : Bad.values()) {
                out.add(Arguments.of(p, b));
            }
        }
        return out.stream();
    }

    /** Records the payload buffers the node's decoders ask for. */
    static final class Allocations implements IntFunction<ByteBuffer> {
        final AtomicInteger largest = new AtomicInteger();
        final AtomicInteger count = new AtomicInteger();

        @Override
        public ByteBuffer apply(int size) {
            count.incrementAndGet();
            largest.accumulateAndGet(size, Math::max);
            return ByteBuffer.allocate(size);
        }
    }

    private final Allocations allocations = new Allocations();

    private Node target() {
        return node(Node.settings().maxFrameSize(MAX_FRAME).frameAllocator(allocations), "mem-a:100");
    }

    private static ByteBuffer header(int version, int type, long length) {
        return ByteBuffer.allocate(6).put((byte) version).put((byte) type).putInt((int) length).flip();
    }

    private static ByteBuffer bytes(Bad bad) {
        return switch (bad) {
            case GARBAGE -> ByteBuffer.wrap("GET / HTTP/1.1\r\nHost: kizuna\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            case TRUNCATED -> RawPeer.concat(header(1, MessageType.GOAWAY.code(), 100), ByteBuffer.wrap(new byte[10]));
            case UNKNOWN_TYPE -> header(1, 0x7f, 0);
            case TWO_GIB -> header(1, MessageType.HELLO.code(), 0x8000_0000L);
        };
    }

    @ParameterizedTest(name = "{1} {0}")
    @MethodSource("cases")
    void badInputClosesThatConnectionOnly(Phase phase, Bad bad) throws Exception {
        Node node = target();
        Node healthy = node("mem-a:10");
        get(healthy.manager.connectToPeer(node.address()));
        String healthyId = healthy.manager.connections().get(0).id();
        RawPeer attacker = RawPeer.dialer(hub, "mem-a");
        try {
            Connection c = attacker.dial(node.address());
            if (phase == Phase.IN_SESSION) {
                RawPeer.write(c, RawPeer.frame(new ControlMessage.Open(ConnectionManagerImpl.CONTROL)));
                assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.OpenOk.class);
                RawPeer.write(c, RawPeer.frame(attacker.hello(c)));
                assertThat(RawPeer.read(c)).isInstanceOfSatisfying(ControlMessage.Hello.class,
                        h -> assertThat(h.peerId()).isEqualTo(node.id));
                await().atMost(Duration.ofSeconds(5)).until(() -> node.manager.connections(attacker.id).size() == 1);
            }
            long before = node.manager.protocolViolations();

            RawPeer.write(c, bytes(bad));
            if (bad == Bad.TRUNCATED) {
                get(c.shutdownOutput()); // the frame ends early
            }
            // During: the healthy connection answers.
            assertThat(get(healthy.manager.ping(PeerAddress.of(node.id))).rtt()).isPositive();

            ControlMessage reply = RawPeer.read(c);
            assertThat(reply).as("the node says what was wrong").isInstanceOfSatisfying(ControlMessage.Error.class,
                    e -> {
                        assertThat(e.code()).isEqualTo(ControlMessage.Codes.PROTOCOL_VIOLATION);
                        assertThat(e.reason()).contains(bad.expected);
                    });
            assertThat(RawPeer.read(c)).as("then closes the connection: end of stream").isNull();
            assertThat(node.manager.protocolViolations()).isEqualTo(before + 1);
            await().atMost(Duration.ofSeconds(5)).until(() -> node.manager.connections(attacker.id).isEmpty());
            assertThat(allocations.largest.get()).as("largest payload buffer the node allocated")
                    .isLessThanOrEqualTo(MAX_FRAME);
            if (bad == Bad.TWO_GIB || bad == Bad.UNKNOWN_TYPE || bad == Bad.GARBAGE) {
                assertThat(allocations.largest.get()).as("nothing near the declared size").isLessThan(4096);
            }

            // After: the healthy connection is the same one, and works both ways.
            assertThat(get(healthy.manager.ping(PeerAddress.of(node.id))).rtt()).isPositive();
            assertThat(get(node.manager.ping(PeerAddress.of(healthy.id))).rtt()).isPositive();
            assertThat(healthy.manager.connections()).extracting(i -> i.id()).containsExactly(healthyId);
        } finally {
            attacker.close();
        }
    }

    @Test
    void aHelloNamingAnotherPeerIdIsAViolation() throws Exception {
        Node node = target();
        RawPeer attacker = RawPeer.dialer(hub, "mem-a");
        try {
            Connection c = attacker.dial(node.address());
            RawPeer.write(c, RawPeer.frame(new ControlMessage.Open(ConnectionManagerImpl.CONTROL)));
            assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.OpenOk.class);
            RawPeer.write(c, RawPeer.frame(new ControlMessage.Hello(1, TestIds.randomPeerId(), List.of(), List.of(),
                    java.util.Optional.empty())));
            assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.Hello.class);
            assertThat(RawPeer.read(c)).isInstanceOfSatisfying(ControlMessage.Error.class,
                    e -> assertThat(e.reason()).contains("HELLO claims PeerId").contains(attacker.id.toString()));
            assertThat(RawPeer.read(c)).isNull();
            assertThat(node.manager.connections()).isEmpty();
            assertThat(node.manager.knownPeerCount()).as("nothing learned from a lying hello").isZero();
        } finally {
            attacker.close();
        }
    }

    @Test
    void messagesOutOfOrderAreViolations() throws Exception {
        Node node = target();
        RawPeer attacker = RawPeer.dialer(hub, "mem-a");
        try {
            // A stream that does not start with OPEN.
            Connection first = attacker.dial(node.address());
            RawPeer.write(first, RawPeer.frame(new ControlMessage.Ping(1)));
            assertThat(RawPeer.read(first)).isInstanceOfSatisfying(ControlMessage.Error.class,
                    e -> assertThat(e.reason()).contains("expected OPEN"));
            assertThat(RawPeer.read(first)).isNull();

            // A session whose first message is not HELLO.
            Connection second = attacker.dial(node.address());
            RawPeer.write(second, RawPeer.frame(new ControlMessage.Open(ConnectionManagerImpl.CONTROL)));
            assertThat(RawPeer.read(second)).isInstanceOf(ControlMessage.OpenOk.class);
            RawPeer.write(second, RawPeer.frame(new ControlMessage.Ping(2)));
            assertThat(RawPeer.read(second)).isInstanceOf(ControlMessage.Hello.class);
            assertThat(RawPeer.read(second)).isInstanceOfSatisfying(ControlMessage.Error.class,
                    e -> assertThat(e.reason()).contains("expected HELLO"));
            assertThat(RawPeer.read(second)).isNull();
            assertThat(node.manager.protocolViolations()).isEqualTo(2);
        } finally {
            attacker.close();
        }
    }

    @Test
    void aPeerAnsweringOpenWithGarbageFailsTheDialClearly() throws Exception {
        Node node = target();
        RawPeer liar = RawPeer.listen(hub, "mem-a");
        try {
            var connecting = node.manager.connectToPeer(liar.address());
            Connection c = liar.nextControl();
            RawPeer.write(c, ByteBuffer.wrap(new byte[] {(byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef}));

            Throwable t = failure(connecting);

            assertThat(t).isInstanceOf(TransportException.ConnectionFailed.class)
                    .hasMessageContaining("not a control frame");
            assertThat(t.getCause()).isInstanceOf(TransportException.ProtocolViolation.class);
            assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.Error.class);
            assertThat(RawPeer.read(c)).isNull();
            assertThat(node.manager.protocolViolations()).isEqualTo(1);
        } finally {
            liar.close();
        }
    }
}
