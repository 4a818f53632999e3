package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import dev.onvoid.webrtc.RTCDataChannelBuffer;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** DataChannel streams: bounded memory against fast writers and misbehaving peers, message size, more streams. */
@Timeout(60)
class StreamLimitsTest {

    private static final int KIB = 1024;
    private final NodeIdentity a = Identities.generate();
    private final NodeIdentity b = Identities.generate();
    private WebRtcTransport dialer;
    private WebRtcTransport listener;
    private WebRtcConnection out;
    private WebRtcConnection in;

    @BeforeEach
    void connect() throws Exception {
        WebRtcSettings s = WebRtcContractTest.loopbackSettings();
        dialer = new WebRtcTransport(a, s);
        listener = new WebRtcTransport(b, s);
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listener.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, TimeUnit.SECONDS);
        out = (WebRtcConnection) dialer.connect(PeerAddress.of(b.peerId(), l.endpoint()), Duration.ofSeconds(10))
                .toCompletableFuture().get(15, TimeUnit.SECONDS);
        in = (WebRtcConnection) accepted.poll(10, TimeUnit.SECONDS);
        assertThat(in).isNotNull();
    }

    @AfterEach
    void stop() {
        dialer.deactivate();
        listener.deactivate();
    }

    private static Map<String, Long> numbers(DataChannelStream s) throws Exception {
        String state = s.state().get(5, TimeUnit.SECONDS);
        java.util.LinkedHashMap<String, Long> m = new java.util.LinkedHashMap<>();
        for (String part : state.split(", ")) {
            String[] kv = part.split(" ");
            if (kv.length == 2 && kv[1].matches("\\d+")) {
                m.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        return m;
    }

    @Test
    void fastWriterAgainstAReaderThatReadsNothingStaysBounded() throws Exception {
        WebRtcSettings s = dialer.settings();
        ByteBuffer chunk = ByteBuffer.allocate(256 * KIB);
        long accepted = 0;
        CompletableFuture<Void> stuck = null;
        // 64 MiB offered as fast as writes complete; the reader reads nothing.
        for (int i = 0; i < 256; i++) {
            chunk.clear();
            CompletableFuture<Void> w = out.write(chunk).toCompletableFuture();
            try {
                w.get(2, TimeUnit.SECONDS);
                accepted += chunk.capacity();
            } catch (TimeoutException e) {
                stuck = w;
                break;
            }
        }
        assertThat(stuck).as("a write stays incomplete while nobody reads").isNotNull();
        long bound = (long) s.receiveWindow() + s.writeHighWaterMark() + s.maxMessageSize() + chunk.capacity();
        assertThat(accepted).as("bytes accepted from the writer").isLessThanOrEqualTo(bound);
        Map<String, Long> sender = numbers(out.first());
        Map<String, Long> receiver = numbers(in.first());
        System.out.printf("writer stalled after %d KiB: sender %s, receiver %s%n", accepted / KIB, sender, receiver);
        assertThat(sender.get("buffered")).as("libwebrtc's bufferedAmount")
                .isLessThanOrEqualTo((long) s.writeHighWaterMark() + s.maxMessageSize());
        assertThat(receiver.get("received") - receiver.get("consumed")).as("bytes queued at the reader")
                .isLessThanOrEqualTo(s.receiveWindow());
        // Reading releases the writer. The write completes when its last bytes are handed to libwebrtc, which
        // can be after the reader has them all: a read then waits for bytes that never come, so each read is
        // awaited only while the write is still stuck.
        ByteBuffer sink = ByteBuffer.allocate(64 * KIB);
        long read = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!stuck.isDone() && read < 64L * 1024 * KIB) {
            sink.clear();
            CompletableFuture<Integer> r = in.read(sink).toCompletableFuture();
            Integer n = null;
            while (n == null && !stuck.isDone()) {
                assertThat(System.nanoTime()).as("the writer is released within 20 s of reading").isLessThan(deadline);
                try {
                    n = r.get(100, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    // no bytes yet: look again whether the write completed meanwhile
                }
            }
            read += n == null ? 0 : n;
        }
        stuck.get(5, TimeUnit.SECONDS);
    }

    @Test
    void peerSendingBeyondItsCreditIsCutOff() throws Exception {
        // Play a peer that ignores the protocol: raw messages past the 1 MiB window.
        byte[] message = new byte[64 * KIB];
        for (int i = 0; i < 2 * dialer.settings().receiveWindow() / message.length; i++) {
            out.first().channel().send(new RTCDataChannelBuffer(ByteBuffer.wrap(message), true));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> in.closeFuture().toCompletableFuture().isDone());
        Map<String, Long> receiver = numbers(in.first());
        assertThat(receiver.get("received")).as("bytes the reader queued").isLessThanOrEqualTo(
                dialer.settings().receiveWindow());
    }

    @Test
    void messageAboveTheLimitClosesTheStream() throws Exception {
        byte[] big = new byte[dialer.settings().maxMessageSize() + 1];
        out.first().channel().send(new RTCDataChannelBuffer(ByteBuffer.wrap(big), true));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> in.read(ByteBuffer.allocate(16)).toCompletableFuture().get(10, TimeUnit.SECONDS));
        assertThat(e.getCause()).isInstanceOf(TransportException.Io.class)
                .hasMessageContaining("maxMessageSize");
    }

    @Test
    void unknownControlMessageClosesTheStream() throws Exception {
        out.first().channel().send(new RTCDataChannelBuffer(ByteBuffer.wrap("hello".getBytes(
                StandardCharsets.US_ASCII)), false));
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> in.read(ByteBuffer.allocate(16)).toCompletableFuture().get(10, TimeUnit.SECONDS));
        assertThat(e.getCause()).hasMessageContaining("unknown control message");
    }

    @Test
    void furtherStreamsAreFurtherDataChannelsOnTheSameConnection() throws Exception {
        BlockingQueue<Connection> incoming = new LinkedBlockingQueue<>();
        in.onStream(incoming::add);
        Connection s1 = out.openStream().toCompletableFuture().get(10, TimeUnit.SECONDS);
        Connection s2 = out.openStream().toCompletableFuture().get(10, TimeUnit.SECONDS);
        Connection first = incoming.poll(10, TimeUnit.SECONDS);
        Connection second = incoming.poll(10, TimeUnit.SECONDS);
        assertThat(first).isNotNull();
        assertThat(second).isNotNull();
        s2.write(ByteBuffer.wrap("two".getBytes(StandardCharsets.UTF_8))).toCompletableFuture().get(5,
                TimeUnit.SECONDS);
        s1.write(ByteBuffer.wrap("one".getBytes(StandardCharsets.UTF_8))).toCompletableFuture().get(5,
                TimeUnit.SECONDS);
        // The peer's streams may be handed over in either order: each carries its own bytes.
        String a1 = readString(first);
        String a2 = readString(second);
        assertThat(java.util.Set.of(a1, a2)).containsExactlyInAnyOrder("one", "two");
        Connection r1 = a1.equals("one") ? first : second;
        Connection r2 = r1 == first ? second : first;
        r1.write(ByteBuffer.wrap("back".getBytes(StandardCharsets.UTF_8))).toCompletableFuture().get(5,
                TimeUnit.SECONDS);
        assertThat(readString(s1)).isEqualTo("back");
        assertThat(r1.info().peerId()).isEqualTo(a.peerId());
        assertThat(s1.info().peerId()).isEqualTo(b.peerId());
        // Closing a further stream leaves the connection and its first stream open.
        s1.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
        out.write(ByteBuffer.wrap("still".getBytes(StandardCharsets.UTF_8))).toCompletableFuture().get(5,
                TimeUnit.SECONDS);
        assertThat(readString(in)).isEqualTo("still");
        // Closing the connection ends every stream.
        out.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
        s2.closeFuture().toCompletableFuture().get(10, TimeUnit.SECONDS);
        r2.closeFuture().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    void streamsBeyondTheLimitAreRefused() throws Exception {
        in.onStream(c -> { });
        int max = dialer.settings().maxStreams();
        for (int i = 1; i < max; i++) {
            out.openStream().toCompletableFuture().get(10, TimeUnit.SECONDS);
        }
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class,
                () -> out.openStream().toCompletableFuture().get(10, TimeUnit.SECONDS));
        assertThat(e.getCause()).isInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("maxStreamsPerConnection");
    }

    private static String readString(Connection c) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(64);
        int n = c.read(buf).toCompletableFuture().get(10, TimeUnit.SECONDS);
        return new String(buf.array(), 0, n, StandardCharsets.UTF_8);
    }
}
