package io.kizuna.websocket.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.java_websocket.WebSocketImpl;
import org.java_websocket.drafts.Draft;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing (Jazzer) of the listener's protocol engine
 * (Java-WebSocket's {@code WebSocketImpl} with {@link KizunaDraft},
 * permessage-deflate offered): the upgrade request, and frames after a valid
 * upgrade, fed in pieces whose size the input chooses. The contract is
 * {@link FrameFuzzTest}'s: nothing escapes as an exception, no message is
 * larger than the bound, the engine closes at most once and with an RFC 6455
 * code, and stays closed. Without {@code JAZZER_FUZZ} the inputs under
 * {@code WebSocketJazzerTestInputs} are replayed.
 */
class WebSocketJazzerTest {

    private static final int MAX_FRAME = 1024;
    private static final int MAX_MESSAGE = 4096;

    /** Java-WebSocket logs every malformed frame at SEVERE with a stack trace. */
    private static final Logger ENGINE_LOG = Logger.getLogger("org.java_websocket");
    private static Level engineLevel;

    @BeforeAll
    static void quiet() {
        engineLevel = ENGINE_LOG.getLevel();
        ENGINE_LOG.setLevel(Level.OFF);
    }

    @AfterAll
    static void loud() {
        ENGINE_LOG.setLevel(engineLevel);
    }

    @FuzzTest
    void frames(FuzzedDataProvider data) {
        int piece = data.consumeInt(1, 4096);
        byte[] stream = data.consumeRemainingAsBytes();
        FrameFuzzTest.Recorder r = new FrameFuzzTest.Recorder();
        WebSocketImpl engine = engine(r);
        engine.decode(ByteBuffer.wrap(FrameFuzzTest.UPGRADE.clone()));
        assertThat(r.open).as("the upgrade is accepted").isTrue();
        feed(engine, stream, piece);
        check(r, engine);
    }

    @FuzzTest
    void handshake(FuzzedDataProvider data) {
        int piece = data.consumeInt(1, 4096);
        byte[] request = data.consumeRemainingAsBytes();
        FrameFuzzTest.Recorder r = new FrameFuzzTest.Recorder();
        WebSocketImpl engine = engine(r);
        feed(engine, request, piece);
        check(r, engine);
    }

    private static WebSocketImpl engine(FrameFuzzTest.Recorder r) {
        return new WebSocketImpl(r, List.<Draft>of(new KizunaDraft(MAX_FRAME, MAX_MESSAGE, true)));
    }

    private static void feed(WebSocketImpl engine, byte[] bytes, int piece) {
        for (int at = 0; at < bytes.length; at += piece) {
            engine.decode(ByteBuffer.wrap(Arrays.copyOfRange(bytes, at, Math.min(bytes.length, at + piece))));
        }
    }

    private static void check(FrameFuzzTest.Recorder r, WebSocketImpl engine) {
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
}
