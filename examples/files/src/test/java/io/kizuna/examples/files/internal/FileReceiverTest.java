package io.kizuna.examples.files.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.PeerId;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The stream handler: transfers off the caller's thread, and the busy refusal naming maxTransfers. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class FileReceiverTest {

    private static final PeerId PEER;

    static {
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) 7);
        PEER = PeerId.of(key);
    }

    @TempDir
    Path dir;

    private final ExecutorService io = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        io.shutdownNow();
    }

    /** One side of an in-memory stream: what is written to {@link #peerOut} the handler reads, and back. */
    private final class PipeStream implements Connection {
        final PipedInputStream handlerIn = new PipedInputStream(64 * 1024);
        final PipedOutputStream peerOut;
        final PipedInputStream peerIn = new PipedInputStream(64 * 1024);
        final PipedOutputStream handlerOut;
        final CompletableFuture<Void> closed = new CompletableFuture<>();

        PipeStream() throws IOException {
            peerOut = new PipedOutputStream(handlerIn);
            handlerOut = new PipedOutputStream(peerIn);
        }

        @Override
        public CompletionStage<Integer> read(ByteBuffer dst) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    byte[] b = new byte[dst.remaining()];
                    int n = handlerIn.read(b);
                    if (n > 0) {
                        dst.put(b, 0, n);
                    }
                    return n;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, io);
        }

        @Override
        public CompletionStage<Void> write(ByteBuffer src) {
            return CompletableFuture.runAsync(() -> {
                try {
                    byte[] b = new byte[src.remaining()];
                    src.get(b);
                    handlerOut.write(b);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, io);
        }

        @Override
        public CompletionStage<Void> flush() {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<Void> shutdownOutput() {
            try {
                handlerOut.close();
            } catch (IOException e) {
                return CompletableFuture.failedFuture(e);
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletionStage<Void> close() {
            shutdownOutput();
            closed.complete(null);
            return closed;
        }

        @Override
        public boolean isConnected() {
            return !closed.isDone();
        }

        @Override
        public ConnectionInfo info() {
            return new ConnectionInfo("pipe", PEER, "memory", ConnectionInfo.Direction.INBOUND,
                    new InetSocketAddress("127.0.0.1", 1), new InetSocketAddress("127.0.0.1", 2), Instant.now(), 0,
                    0, Optional.empty(), Optional.empty());
        }

        @Override
        public CompletionStage<Void> closeFuture() {
            return closed;
        }
    }

    @Test
    void anOfferBeyondMaxTransfersIsRefusedNamingTheLimitAndTheFirstStillCompletes() throws Exception {
        FileReceiver receiver = new FileReceiver(new FilesSettings(dir.resolve("in"), 1000, 1, 5000));
        try {
            PipeStream first = new PipeStream();
            receiver.handle(first, FileProtocol.PROTOCOL); // returns at once; the transfer runs elsewhere
            FileProtocol.writeOffer(first.peerOut, new FileProtocol.Offer("a.txt", 3));
            assertThat(FileProtocol.readReply(first.peerIn).code()).isEqualTo(FileProtocol.Code.ACCEPTED);

            // the one transfer slot is taken while the first sender has not sent its bytes
            PipeStream second = new PipeStream();
            receiver.handle(second, FileProtocol.PROTOCOL);
            FileProtocol.writeOffer(second.peerOut, new FileProtocol.Offer("b.txt", 3));
            FileProtocol.Reply busy = FileProtocol.readReply(second.peerIn);
            assertThat(busy.code()).isEqualTo(FileProtocol.Code.REFUSED);
            assertThat(busy.message()).isEqualTo("this node is receiving 1 files already (maxTransfers=1); "
                    + "try again later");
            second.closed.get(10, TimeUnit.SECONDS);

            first.peerOut.write(new byte[] {'a', 'b', 'c'});
            first.peerOut.close();
            FileProtocol.Reply stored = FileProtocol.readReply(first.peerIn);
            assertThat(stored.code()).isEqualTo(FileProtocol.Code.STORED);
            assertThat(stored.message()).startsWith("a.txt ");
            first.closed.get(10, TimeUnit.SECONDS);
            assertThat(dir.resolve("in/a.txt")).hasContent("abc");
            assertThat(Files.exists(dir.resolve("in/b.txt"))).isFalse();
        } finally {
            receiver.deactivate();
        }
    }
}
