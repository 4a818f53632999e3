package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

class ConnectionPunchChannelTest {

    static final PeerId PEER = Identities.generate().peerId();

    /** A connection whose reads hand out what the test feeds, at most {@code chunk} bytes at a time. */
    static final class Fed implements Connection {
        final ArrayDeque<Byte> bytes = new ArrayDeque<>();
        final int chunk;
        boolean ended;
        final java.io.ByteArrayOutputStream written = new java.io.ByteArrayOutputStream();
        CompletableFuture<Integer> pending;
        ByteBuffer pendingDst;

        Fed(int chunk) {
            this.chunk = chunk;
        }

        synchronized void feed(ByteBuffer b) {
            while (b.hasRemaining()) {
                bytes.add(b.get());
            }
            serve();
        }

        synchronized void end() {
            ended = true;
            serve();
        }

        private void serve() {
            if (pending == null || bytes.isEmpty() && !ended) {
                return;
            }
            CompletableFuture<Integer> p = pending;
            pending = null;
            p.complete(take(pendingDst));
        }

        private int take(ByteBuffer dst) {
            if (bytes.isEmpty()) {
                return -1;
            }
            int n = 0;
            while (n < chunk && dst.hasRemaining() && !bytes.isEmpty()) {
                dst.put(bytes.poll());
                n++;
            }
            return n;
        }

        @Override
        public synchronized CompletionStage<Integer> read(ByteBuffer dst) {
            if (!bytes.isEmpty() || ended) {
                return CompletableFuture.completedFuture(take(dst));
            }
            pending = new CompletableFuture<>();
            pendingDst = dst;
            return pending;
        }

        @Override
        public CompletionStage<Void> write(ByteBuffer src) {
            byte[] b = new byte[src.remaining()];
            src.get(b);
            written.writeBytes(b);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<Void> flush() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<Void> shutdownOutput() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<Void> close() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public boolean isConnected() {
            return true;
        }

        @Override
        public ConnectionInfo info() {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletionStage<Void> closeFuture() {
            return new CompletableFuture<>();
        }
    }

    static PunchMessage get(CompletionStage<PunchMessage> s) throws Exception {
        return s.toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    static Throwable failure(CompletionStage<PunchMessage> s) throws Exception {
        try {
            s.toCompletableFuture().get(5, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    void messagesWrittenAreReadBackWhateverTheReadSizes() throws Exception {
        for (int chunk : new int[] {1, 7, 4096}) {
            Fed sender = new Fed(chunk);
            ConnectionPunchChannel out = new ConnectionPunchChannel(sender, PEER);
            for (PunchMessage m : PunchCodecTest.samples()) {
                out.send(m).toCompletableFuture().get();
            }
            Fed receiver = new Fed(chunk);
            ConnectionPunchChannel in = new ConnectionPunchChannel(receiver, PEER);
            CompletionStage<PunchMessage> first = in.receive(); // waits for bytes
            receiver.feed(ByteBuffer.wrap(sender.written.toByteArray()));
            assertThat(get(first)).isEqualTo(PunchCodecTest.samples().get(0));
            for (PunchMessage m : PunchCodecTest.samples().subList(1, PunchCodecTest.samples().size())) {
                assertThat(get(in.receive())).isEqualTo(m);
            }
            receiver.end();
            assertThat(get(in.receive())).as("a clean end between frames").isNull();
            assertThat(in.peer()).isEqualTo(PEER);
        }
    }

    @Test
    void aBadHeaderIsRefusedBeforeThePayloadIsRead() throws Exception {
        Fed c = new Fed(4096);
        c.feed(ByteBuffer.wrap(new byte[] {1, 1, 0x7f, 0, 0, 0}));
        assertThat(failure(new ConnectionPunchChannel(c, PEER).receive()))
                .isInstanceOf(TransportException.ProtocolViolation.class).hasMessageContaining("at most");
    }

    @Test
    void anEndInsideAFrameIsAViolation() throws Exception {
        ByteBuffer frame = PunchCodec.encode(new PunchMessage.Sync(new byte[16], 1));
        frame.limit(frame.limit() - 3);
        Fed c = new Fed(4096);
        c.feed(frame);
        c.end();
        assertThat(failure(new ConnectionPunchChannel(c, PEER).receive()))
                .isInstanceOf(TransportException.ProtocolViolation.class)
                .hasMessage("punch stream ended inside a frame, 14 of 17 bytes read");
    }
}
