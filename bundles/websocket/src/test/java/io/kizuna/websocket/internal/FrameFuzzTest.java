package io.kizuna.websocket.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.java_websocket.WebSocket;
import org.java_websocket.WebSocketAdapter;
import org.java_websocket.WebSocketImpl;
import org.java_websocket.drafts.Draft;
import org.java_websocket.framing.Framedata;
import org.java_websocket.handshake.Handshakedata;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * The listener's protocol engine (Java-WebSocket's {@code WebSocketImpl} with
 * {@link KizunaDraft}, permessage-deflate negotiated) fed random frames after a
 * valid upgrade, in random pieces: well-formed, with reserved bits and opcodes,
 * lengths that lie, oversize control frames, stray continuations, random Close
 * codes, plain garbage. Whatever comes, nothing escapes as an exception, no
 * message passes the bound, and once closed the engine stays closed, having
 * named an RFC 6455 close code.
 */
class FrameFuzzTest {

    private static final int MAX_FRAME = 1024;
    private static final int MAX_MESSAGE = 4096;
    static final byte[] UPGRADE = ("GET /kizuna HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + "Sec-WebSocket-Protocol: kizuna.v1\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);

    /** Java-WebSocket logs every malformed frame at SEVERE with a stack trace: thousands here. */
    private static final Logger ENGINE_LOG = Logger.getLogger("org.java_websocket");
    private static Level engineLevel;

    @BeforeContainer
    static void quiet() {
        engineLevel = ENGINE_LOG.getLevel();
        ENGINE_LOG.setLevel(Level.OFF);
    }

    @AfterContainer
    static void loud() {
        ENGINE_LOG.setLevel(engineLevel);
    }

    /** Records what the engine reports; drains what it sends. */
    static final class Recorder extends WebSocketAdapter {
        final List<Integer> messages = new ArrayList<>();
        final List<Integer> closeCodes = new ArrayList<>();
        boolean open;

        @Override
        public void onWebsocketOpen(WebSocket conn, Handshakedata d) {
            open = true;
        }

        @Override
        public void onWebsocketMessage(WebSocket conn, String message) {
            messages.add(message.length());
        }

        @Override
        public void onWebsocketMessage(WebSocket conn, ByteBuffer message) {
            messages.add(message.remaining());
        }

        @Override
        public void onWebsocketClosing(WebSocket conn, int code, String reason, boolean remote) {
            closeCodes.add(code);
        }

        @Override
        public void onWebsocketClose(WebSocket conn, int code, String reason, boolean remote) {
        }

        @Override
        public void onWebsocketCloseInitiated(WebSocket conn, int code, String reason) {
        }

        @Override
        public void onWebsocketError(WebSocket conn, Exception ex) {
        }

        @Override
        public void onWriteDemand(WebSocket conn) {
            ((WebSocketImpl) conn).outQueue.clear();
        }

        @Override
        public InetSocketAddress getLocalSocketAddress(WebSocket conn) {
            return new InetSocketAddress("127.0.0.1", 1);
        }

        @Override
        public InetSocketAddress getRemoteSocketAddress(WebSocket conn) {
            return new InetSocketAddress("127.0.0.1", 2);
        }

        @Override
        public void onWebsocketPing(WebSocket conn, Framedata f) {
            // no pong needed here
        }
    }

    @Property(tries = 3000)
    void randomFramesNeverEscapeTheBounds(@ForAll("streams") byte[] stream, @ForAll("pieces") int piece) {
        Recorder r = new Recorder();
        WebSocketImpl engine = new WebSocketImpl(r, List.<Draft>of(new KizunaDraft(MAX_FRAME, MAX_MESSAGE, true)));
        engine.decode(ByteBuffer.wrap(UPGRADE.clone()));
        assertThat(r.open).as("the upgrade is accepted").isTrue();

        for (int at = 0; at < stream.length; at += piece) {
            byte[] chunk = java.util.Arrays.copyOfRange(stream, at, Math.min(stream.length, at + piece));
            engine.decode(ByteBuffer.wrap(chunk)); // nothing may escape
        }

        assertThat(r.messages).allSatisfy(n -> assertThat(n).isBetween(0, MAX_MESSAGE));
        assertThat(r.closeCodes).as("closed once at most").hasSizeLessThanOrEqualTo(1);
        for (int code : r.closeCodes) {
            assertThat(code).as("an RFC 6455 close code").satisfiesAnyOf(
                    c -> assertThat(c).isBetween(1000, 1003),
                    c -> assertThat(c).isBetween(1005, 1011),
                    c -> assertThat(c).isBetween(3000, 4999));
        }
        if (!r.closeCodes.isEmpty()) {
            assertThat(engine.isOpen()).isFalse();
        }
    }

    @Provide
    Arbitrary<Integer> pieces() {
        return Arbitraries.oneOf(Arbitraries.integers().between(1, 7), Arbitraries.integers().between(8, 4096));
    }

    @Provide
    Arbitrary<byte[]> streams() {
        return frame().list().ofMinSize(1).ofMaxSize(12).map(frames -> {
            int n = frames.stream().mapToInt(f -> f.length).sum();
            ByteBuffer b = ByteBuffer.allocate(n);
            frames.forEach(b::put);
            return b.array();
        });
    }

    /** One frame, masked as a client's; or sometimes garbage. */
    private static Arbitrary<byte[]> frame() {
        Arbitrary<byte[]> payload = Arbitraries.bytes().array(byte[].class).ofMaxSize(1500);
        Arbitrary<Integer> opcode = Arbitraries.frequency(
                net.jqwik.api.Tuple.of(6, 2), net.jqwik.api.Tuple.of(3, 0), net.jqwik.api.Tuple.of(2, 9),
                net.jqwik.api.Tuple.of(2, 10), net.jqwik.api.Tuple.of(2, 8), net.jqwik.api.Tuple.of(1, 1),
                net.jqwik.api.Tuple.of(1, 3), net.jqwik.api.Tuple.of(1, 11));
        Arbitrary<Integer> rsv = Arbitraries.frequency(net.jqwik.api.Tuple.of(6, 0), net.jqwik.api.Tuple.of(2, 4),
                net.jqwik.api.Tuple.of(1, 2), net.jqwik.api.Tuple.of(1, 1));
        Arbitrary<Long> lie = Arbitraries.frequency(net.jqwik.api.Tuple.of(8, 0L), net.jqwik.api.Tuple.of(1, 1L),
                net.jqwik.api.Tuple.of(1, 1L << 40));
        Arbitrary<byte[]> framed = Combinators.combine(Arbitraries.of(true, false), rsv, opcode, payload, lie)
                .as((fin, r, op, p, extra) -> RawClient.frame(fin, r, op, p.length + extra, p));
        return Arbitraries.frequency(net.jqwik.api.Tuple.of(9, framed), net.jqwik.api.Tuple.of(1, payload))
                .flatMap(a -> a);
    }
}
