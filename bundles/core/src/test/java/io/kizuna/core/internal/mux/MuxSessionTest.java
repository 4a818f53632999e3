package io.kizuna.core.internal.mux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.kizuna.core.internal.memory.MemoryHub;
import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The multiplexer's behaviour between two sessions over a memory connection, and
 * against a raw peer that writes frames by hand (violations, truncation,
 * keep-alive, GO_AWAY on the wire).
 */
@Timeout(60)
class MuxSessionTest {

    private static final Duration STEP = Duration.ofSeconds(20);
    private static final MuxSettings DEFAULTS = new MuxSettings(MuxFrame.INITIAL_WINDOW, 0, 64, Duration.ZERO,
            Duration.ofSeconds(5));

    private final MemoryHub hub = new MemoryHub();
    private final MemoryTransport ta = new MemoryTransport(TestIds.newPeerId(), "mem", 10, 256 * 1024, 64, hub);
    private final MemoryTransport tb = new MemoryTransport(TestIds.newPeerId(), "mem", 10, 256 * 1024, 64, hub);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    private final List<TransportException.ProtocolViolation> violations = new CopyOnWriteArrayList<>();
    private final LinkedBlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();

    @AfterEach
    void stop() {
        ta.shutdown();
        tb.shutdown();
        timer.shutdownNow();
    }

    /** @return the dialer's session at [0], the acceptor's at [1] */
    private MuxSession[] pair(MuxSettings dialer, MuxSettings acceptor) throws Exception {
        Connection[] p = ta.pairWith(tb);
        MuxSession a = MuxSession.dialer(p[0], dialer, timer, (c, v) -> violations.add(v));
        MuxSession b = MuxSession.acceptor(p[1], acceptor, timer, (c, v) -> violations.add(v));
        b.onStream(accepted::add);
        return new MuxSession[] {a, b};
    }

    /** @return the raw far end; the session is the dialer */
    private Connection raw(MuxSession[] session, MuxSettings settings) throws Exception {
        Connection[] p = ta.pairWith(tb);
        session[0] = MuxSession.dialer(p[0], settings, timer, (c, v) -> violations.add(v));
        session[0].onStream(accepted::add);
        return p[1];
    }

    // ------------------------------------------------------------------ streams

    @Test
    void manyStreamsRunAtOnceOnOneConnectionAndResettingOneLeavesTheOthers() throws Exception {
        MuxSession[] s = pair(DEFAULTS, DEFAULTS);
        int n = 8;
        int size = 512 * 1024;
        List<Connection> mine = new ArrayList<>();
        List<CompletableFuture<Void>> sent = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            mine.add(get(s[0].openStream()));
            sent.add(writeAll(mine.get(i), bytes(size, i)));
        }
        // Streams arrive in the order they were opened.
        List<Connection> theirs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Connection t = accepted.poll(20, TimeUnit.SECONDS);
            assertThat(t).as("stream %d arrived", i).isNotNull();
            assertThat(((MuxStream) t).id).isEqualTo(((MuxStream) mine.get(i)).id);
            theirs.add(t);
        }
        // The third stream's reader resets it; the others read everything, all at once.
        ((MuxStream) theirs.get(2)).reset();
        List<CompletableFuture<byte[]>> received = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            received.add(i == 2 ? null : readExactly(theirs.get(i), size));
        }
        for (int i = 0; i < n; i++) {
            if (i != 2) {
                assertThat(received.get(i).get(20, TimeUnit.SECONDS)).as("stream %d", i).isEqualTo(bytes(size, i));
                get(sent.get(i));
            }
        }
        Throwable reset = failure(sent.get(2).thenCompose(v -> mine.get(2).read(ByteBuffer.allocate(1))));
        assertThat(reset).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining("reset by the peer");
        assertThat(s[0].isConnected()).isTrue();
        assertThat(ta.dialCount() + tb.dialCount()).as("no dial: one connection paired by hand").isZero();
        assertThat(ta.openConnections()).hasSize(1);
        assertThat(violations).isEmpty();
    }

    @Test
    void theFirstStreamIsTheConnectionItself() throws Exception {
        MuxSession[] s = pair(DEFAULTS, DEFAULTS);
        get(s[0].write(ascii("hello")));
        assertThat(new String(get(readExactly(s[1], 5)), StandardCharsets.US_ASCII)).isEqualTo("hello");
        get(s[1].write(ascii("back")));
        assertThat(new String(get(readExactly(s[0], 4)), StandardCharsets.US_ASCII)).isEqualTo("back");
        assertThat(s[0].info().id()).isEqualTo(ta.openConnections().get(0).info().id());
        assertThat(s[0].info().bytesSent()).isEqualTo(5);
        assertThat(accepted).as("the first stream is not handed out as another").isEmpty();
    }

    @Test
    void aSlowReaderHoldsTheWriterAtOneWindowUntilItReads() throws Exception {
        MuxSession[] s = pair(DEFAULTS, DEFAULTS);
        Connection out = get(s[0].openStream());
        byte[] data = bytes(4 * 1024 * 1024, 7);
        CompletableFuture<Void> writing = writeAll(out, data);
        Connection in = accepted.poll(20, TimeUnit.SECONDS);
        await().atMost(STEP).until(() -> out.info().bytesSent() == MuxFrame.INITIAL_WINDOW);
        // Nothing reads: the writer stays at one window, however long it waits.
        Thread.sleep(300);
        assertThat(out.info().bytesSent()).isEqualTo(MuxFrame.INITIAL_WINDOW);
        assertThat(writing).isNotDone();
        byte[] got = get(readExactly(in, data.length));
        assertThat(got).isEqualTo(data);
        get(writing);
    }

    @Test
    void aWindowThatHoldsTheSenderBackDoublesUpToItsLimit() throws Exception {
        int max = 1024 * 1024;
        MuxSettings growing = new MuxSettings(max, 16 * 1024 * 1024, 64, Duration.ZERO, Duration.ofSeconds(5));
        MuxSession[] s = pair(growing, growing);
        // A long round trip, as on a distant path: every grant then comes within two round trips.
        await().atMost(STEP).until(() -> s[1].rttNanos() > 0);
        s[1].assumeRtt(Duration.ofSeconds(10));
        Connection out = get(s[0].openStream());
        byte[] data = bytes(8 * 1024 * 1024, 5);
        CompletableFuture<Void> writing = writeAll(out, data);
        MuxStream in = (MuxStream) accepted.poll(20, TimeUnit.SECONDS);
        assertThat(get(readExactly(in, data.length))).isEqualTo(data);
        get(writing);
        assertThat(in.window()).as("doubled from 256 KiB, never above muxWindowBytes").isEqualTo(max);
        assertThat(s[1].grownWindows()).isEqualTo(max - MuxFrame.INITIAL_WINDOW);

        // With the reader stopped, the writer gets at most one grown window ahead (less what was read
        // but not yet granted back), more than the initial window.
        long before = out.info().bytesSent();
        writeAll(out, bytes(4 * max, 6));
        await().atMost(STEP).until(() -> out.info().bytesSent() - before > MuxFrame.INITIAL_WINDOW);
        Thread.sleep(300);
        assertThat(out.info().bytesSent() - before).isGreaterThan(MuxFrame.INITIAL_WINDOW).isLessThanOrEqualTo(max);
    }

    @Test
    void windowsGrowWithinTheConnectionsBudget() throws Exception {
        int budget = 512 * 1024;
        MuxSettings growing = new MuxSettings(4 * 1024 * 1024, budget, 64, Duration.ZERO, Duration.ofSeconds(5));
        MuxSession[] s = pair(growing, growing);
        await().atMost(STEP).until(() -> s[1].rttNanos() > 0);
        s[1].assumeRtt(Duration.ofSeconds(10));
        List<CompletableFuture<byte[]>> reads = new ArrayList<>();
        List<MuxStream> ins = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Connection out = get(s[0].openStream());
            writeAll(out, bytes(4 * 1024 * 1024, 10 + i));
            MuxStream in = (MuxStream) accepted.poll(20, TimeUnit.SECONDS);
            ins.add(in);
            reads.add(readExactly(in, 4 * 1024 * 1024));
        }
        for (int i = 0; i < 3; i++) {
            assertThat(get(reads.get(i))).isEqualTo(bytes(4 * 1024 * 1024, 10 + i));
        }
        long grown = ins.stream().mapToLong(in -> in.window() - MuxFrame.INITIAL_WINDOW).sum();
        assertThat(grown).as("growth of the three windows together").isEqualTo(budget);
        assertThat(s[1].grownWindows()).isEqualTo(budget);
        for (MuxStream in : ins) {
            in.reset();
        }
        await().atMost(STEP).until(() -> s[1].grownWindows() == 0);
    }

    @Test
    void halfCloseLetsThePeerAnswerAndBothFinsEndTheStream() throws Exception {
        MuxSession[] s = pair(DEFAULTS, DEFAULTS);
        Connection out = get(s[0].openStream());
        get(out.write(ascii("question")));
        get(out.shutdownOutput());
        Connection in = accepted.poll(20, TimeUnit.SECONDS);
        assertThat(new String(get(readToEnd(in)), StandardCharsets.US_ASCII)).isEqualTo("question");
        assertThat(failure(in.write(ascii("x")).thenCompose(v -> out.write(ascii("more")))))
                .hasMessageContaining("output was shut down");
        get(in.write(ascii("answer")));
        get(in.shutdownOutput());
        assertThat(new String(get(readToEnd(out)), StandardCharsets.US_ASCII)).isEqualTo("xanswer");
        get(out.closeFuture());
        get(in.closeFuture());
        await().atMost(STEP).until(() -> s[0].openStreams() == 1 && s[1].openStreams() == 1);
    }

    @Test
    void closingWithUnreadDataStillDeliversWhatWasWrittenThenResetsTheWriter() throws Exception {
        MuxSession[] s = pair(DEFAULTS, DEFAULTS);
        Connection out = get(s[0].openStream());
        get(out.write(ascii("unread")));
        Connection in = accepted.poll(20, TimeUnit.SECONDS);
        await().atMost(STEP).until(() -> in.info().bytesReceived() == 6);
        get(in.write(ascii("the tail")));
        get(in.close());
        // What the closing side wrote arrives whole, then end of stream.
        assertThat(new String(get(readToEnd(out)), StandardCharsets.US_ASCII)).isEqualTo("the tail");
        // Writing on into the closed stream: the peer resets it.
        Throwable t = failure(writeAll(out, bytes(1024 * 1024, 3)));
        assertThat(t).isInstanceOf(TransportException.ConnectionFailed.class).hasMessageContaining("reset by the peer");
        await().atMost(STEP).until(() -> s[0].openStreams() == 1 && s[1].openStreams() == 1);
    }

    // ------------------------------------------------------------------ limits, GO_AWAY

    @Test
    void theStreamLimitIsReportedOnBothSides() throws Exception {
        MuxSettings two = new MuxSettings(MuxFrame.INITIAL_WINDOW, 0, 2, Duration.ZERO, Duration.ofSeconds(5));
        MuxSession[] s = pair(DEFAULTS, two);
        Connection second = get(s[0].openStream());
        get(second.write(ascii("ok")));
        Connection third = get(s[0].openStream());
        Throwable refused = failure(third.read(ByteBuffer.allocate(1)));
        assertThat(refused).isInstanceOf(TransportException.ConnectionFailed.class)
                .hasMessageContaining("refused").hasMessageContaining("maxStreamsPerConnection");
        assertThat(s[1].refusedStreams()).isEqualTo(1);
        assertThat(violations).isEmpty();

        MuxSession[] t = pair(two, DEFAULTS);
        get(t[0].openStream());
        Throwable local = failure(t[0].openStream());
        assertThat(local).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxStreamsPerConnection=2");
        assertThat(((TransportException.LimitExceeded) local).limit()).isEqualTo("maxStreamsPerConnection");
    }

    @Test
    void closingSendsGoAwayAfterWhatWasQueuedAndThePeerEndsInOrder() throws Exception {
        MuxSession[] s = new MuxSession[1];
        Connection raw = raw(s, new MuxSettings(MuxFrame.INITIAL_WINDOW, 0, 64, Duration.ZERO,
                Duration.ofMillis(300)));
        get(s[0].write(ascii("last words")));
        s[0].close();
        List<Object[]> frames = framesUntilEnd(raw);
        assertThat(frames.get(0)).containsExactly(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 1, 0L, "");
        assertThat(frames.get(1)).as("the PING that measures the round trip").containsExactly(MuxFrame.PING,
                MuxFrame.SYN, 0, 1L, "");
        frames.remove(1);
        assertThat(frames.get(1)).containsExactly(MuxFrame.DATA, 0, 1, 10L, "last words");
        assertThat(frames.get(2)).as("open streams end in order, after what was queued").containsExactly(
                MuxFrame.WINDOW_UPDATE, MuxFrame.FIN, 1, 0L, "");
        assertThat(frames.get(frames.size() - 1)).containsExactly(MuxFrame.GO_AWAY, 0, 0,
                (long) MuxFrame.GO_AWAY_NORMAL, "");
        get(s[0].closeFuture());

        MuxSession[] p = pair(DEFAULTS, DEFAULTS);
        Connection open = get(p[1].openStream());
        CompletableFuture<Integer> pending = p[1].read(ByteBuffer.allocate(1)).toCompletableFuture();
        get(p[0].close());
        get(p[1].closeFuture()); // GO_AWAY first: an orderly end, not a failure
        assertThat(get(pending)).as("the peer's stream ended in order: its read gets the end of stream")
                .isEqualTo(-1);
        assertThat(failure(p[1].openStream())).hasMessageContaining("closing");
        assertThat(open.isConnected()).isFalse();
    }

    // ------------------------------------------------------------------ violations, truncation

    @Test
    void malformedFramesCloseTheConnectionWithAReason() throws Exception {
        Object[][] cases = {
            {frame(MuxFrame.DATA, 0, 2, "abc"), "stream 2, which was never opened"},
            {concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 2, ""), frame(MuxFrame.DATA, 0, 2,
                    "x".repeat(MuxFrame.INITIAL_WINDOW + 1))), "exceeds its receive window of 262144 bytes"},
            {frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 3, ""), "an id of this side's"},
            {concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 4, ""), frame(MuxFrame.WINDOW_UPDATE,
                    MuxFrame.SYN, 2, "")), "not above the last stream the peer opened (4)"},
            {concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 2, ""), frame(MuxFrame.DATA, MuxFrame.FIN, 2, ""),
                    frame(MuxFrame.DATA, 0, 2, "late")), "after its FIN"},
            {new MuxFrame(MuxFrame.WINDOW_UPDATE, 0, 1, 0x7FFF_FFFFL).encode().array(), "raises its window"},
            {frame(MuxFrame.DATA, MuxFrame.ACK, 2, ""), "which was never opened"},
            {new byte[] {1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}, "version 1"},
        };
        for (Object[] c : cases) {
            violations.clear();
            MuxSession[] s = new MuxSession[1];
            Connection raw = raw(s, DEFAULTS);
            get(raw.write(ByteBuffer.wrap((byte[]) c[0])));
            List<Object[]> frames = framesUntilEnd(raw);
            assertThat(frames.get(frames.size() - 1)).as("%s", c[1]).containsExactly(MuxFrame.GO_AWAY, 0, 0,
                    (long) MuxFrame.GO_AWAY_PROTOCOL_ERROR, "");
            assertThat(violations).as("%s", c[1]).singleElement().satisfies(v -> assertThat(v.getMessage())
                    .contains((String) c[1]));
            assertThat(failure(s[0].closeFuture())).isInstanceOf(TransportException.ProtocolViolation.class);
        }
    }

    @Test
    void framesSplitAtEveryByteArriveWhole() throws Exception {
        byte[] wire = concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 2, ""),
                frame(MuxFrame.DATA, 0, 2, "hello, "), frame(MuxFrame.DATA, MuxFrame.FIN, 2, "world"));
        for (int cut = 1; cut < wire.length; cut++) {
            accepted.clear();
            MuxSession[] s = new MuxSession[1];
            Connection raw = raw(s, DEFAULTS);
            get(raw.write(ByteBuffer.wrap(Arrays.copyOfRange(wire, 0, cut))));
            get(raw.write(ByteBuffer.wrap(Arrays.copyOfRange(wire, cut, wire.length))));
            Connection in = accepted.poll(20, TimeUnit.SECONDS);
            assertThat(new String(get(readToEnd(in)), StandardCharsets.US_ASCII)).as("cut at %d", cut)
                    .isEqualTo("hello, world");
            s[0].close();
        }
        assertThat(violations).isEmpty();
    }

    @Test
    void aConnectionEndingInsideAFrameFailsItsStreams() throws Exception {
        byte[] wire = concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 2, ""),
                frame(MuxFrame.DATA, MuxFrame.FIN, 2, "complete"));
        for (int cut = MuxFrame.HEADER_BYTES; cut < wire.length; cut++) {
            accepted.clear();
            MuxSession[] s = new MuxSession[1];
            Connection raw = raw(s, DEFAULTS);
            get(raw.write(ByteBuffer.wrap(Arrays.copyOfRange(wire, 0, cut))));
            Connection in = accepted.poll(20, TimeUnit.SECONDS);
            get(raw.close());
            Throwable t = failure(readToEnd(in));
            // The memory transport reports the peer's close as end of stream or as a failed connection.
            assertThat(t).as("cut at %d", cut).isInstanceOfAny(TransportException.ConnectionFailed.class,
                    TransportException.Io.class).hasMessageContaining("closed");
        }
    }

    @Test
    void mutatedFrameSequencesEndInOrderOrAsAViolationAndNeverHang() throws Exception {
        byte[] valid = concat(frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 2, ""),
                frame(MuxFrame.DATA, 0, 2, "payload"), new MuxFrame(MuxFrame.PING, MuxFrame.SYN, 0, 7).encode().array(),
                new MuxFrame(MuxFrame.WINDOW_UPDATE, 0, 1, 1000).encode().array(),
                frame(MuxFrame.DATA, MuxFrame.FIN, 2, "end"), frame(MuxFrame.WINDOW_UPDATE, MuxFrame.SYN, 4, ""),
                frame(MuxFrame.DATA, MuxFrame.RST, 4, "x"), new MuxFrame(MuxFrame.GO_AWAY, 0, 0, 0).encode().array());
        Random random = new Random(20261208);
        for (int i = 0; i < 200; i++) {
            byte[] input = valid.clone();
            int flips = 1 + random.nextInt(4);
            for (int k = 0; k < flips; k++) {
                input[random.nextInt(input.length)] = (byte) random.nextInt(256);
            }
            input = Arrays.copyOf(input, 1 + random.nextInt(input.length));
            violations.clear();
            accepted.clear();
            MuxSession[] s = new MuxSession[1];
            Connection raw = raw(s, DEFAULTS);
            get(raw.write(ByteBuffer.wrap(input)));
            raw.close();
            CompletableFuture<Void> closed = s[0].closeFuture().toCompletableFuture();
            try {
                closed.get(STEP.toSeconds(), TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                assertThat(MuxSession.unwrap(e)).as("input %d", i).isInstanceOf(TransportException.class);
            }
            assertThat(violations).allSatisfy(v -> assertThat(v.getMessage()).startsWith("stream multiplexer: "));
            for (Connection c : accepted) {
                // Every stream the input opened ends: with what it got, or with a failure.
                readToEnd(c).handle((b, e) -> null).get(STEP.toSeconds(), TimeUnit.SECONDS);
            }
        }
    }

    // ------------------------------------------------------------------ keep-alive

    @Test
    void keepAlivePingsAreAnsweredAndAPeerThatNeverAnswersIsDropped() throws Exception {
        MuxSettings ka = new MuxSettings(MuxFrame.INITIAL_WINDOW, 0, 64, Duration.ofMillis(100), Duration.ofSeconds(5));
        MuxSession[] s = pair(ka, ka);
        Thread.sleep(600);
        assertThat(s[0].isConnected()).as("pings answered: still up after six intervals").isTrue();
        assertThat(s[1].isConnected()).isTrue();
        get(s[0].write(ascii("alive")));
        assertThat(new String(get(readExactly(s[1], 5)), StandardCharsets.US_ASCII)).isEqualTo("alive");

        MuxSession[] lone = new MuxSession[1];
        Connection raw = raw(lone, ka);
        Throwable t = failure(lone[0].closeFuture());
        assertThat(t).isInstanceOf(TransportException.ConnectionTimeout.class).hasMessageContaining("keep-alive");
        List<Object[]> frames = framesUntilEnd(raw);
        assertThat(frames).anySatisfy(f -> assertThat(f).containsExactly(MuxFrame.PING, MuxFrame.SYN, 0, 1L, ""));
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] frame(int type, int flags, int stream, String payload) {
        byte[] p = payload.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(MuxFrame.HEADER_BYTES + p.length);
        new MuxFrame(type, flags, stream, type == MuxFrame.DATA ? p.length : 0).encodeInto(b);
        return b.put(p).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Reads the raw end until the session closes it: each frame as type, flags, stream, length, payload. */
    private static List<Object[]> framesUntilEnd(Connection raw) throws Exception {
        byte[] all = get(readToEnd(raw));
        ByteBuffer b = ByteBuffer.wrap(all);
        List<Object[]> out = new ArrayList<>();
        while (b.remaining() >= MuxFrame.HEADER_BYTES) {
            MuxFrame f = MuxFrame.decode(b);
            String payload = "";
            if (f.type() == MuxFrame.DATA) {
                byte[] p = new byte[(int) f.length()];
                b.get(p);
                payload = new String(p, StandardCharsets.US_ASCII);
            }
            out.add(new Object[] {f.type(), f.flags(), f.streamId(), f.length(), payload});
        }
        assertThat(b.hasRemaining()).as("whole frames only").isFalse();
        return out;
    }

    private static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static CompletableFuture<Void> writeAll(Connection c, byte[] data) {
        return c.write(ByteBuffer.wrap(data)).toCompletableFuture();
    }

    private static CompletableFuture<byte[]> readExactly(Connection c, int n) {
        ByteBuffer dst = ByteBuffer.allocate(n);
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        readInto(c, dst, result, false);
        return result;
    }

    private static CompletableFuture<byte[]> readToEnd(Connection c) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        readChunks(c, out, result);
        return result;
    }

    private static void readInto(Connection c, ByteBuffer dst, CompletableFuture<byte[]> result, boolean unused) {
        c.read(dst).whenComplete((n, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            } else if (n < 0) {
                result.completeExceptionally(new AssertionError("end of stream after " + dst.position() + " bytes"));
            } else if (dst.hasRemaining()) {
                readInto(c, dst, result, unused);
            } else {
                result.complete(dst.array());
            }
        });
    }

    private static void readChunks(Connection c, ByteArrayOutputStream out, CompletableFuture<byte[]> result) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        c.read(buf).whenComplete((n, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            } else if (n < 0) {
                result.complete(out.toByteArray());
            } else {
                out.write(buf.array(), 0, n);
                readChunks(c, out, result);
            }
        });
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        try {
            return stage.toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = MuxSession.unwrap(e);
            if (c instanceof Exception x) {
                throw x;
            }
            throw e;
        }
    }

    private static Throwable failure(CompletionStage<?> stage) throws Exception {
        try {
            Object v = stage.toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            throw new AssertionError("expected a failure, got " + v);
        } catch (ExecutionException e) {
            return MuxSession.unwrap(e);
        }
    }
}
