package io.kizuna.examples.files.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Sender and receiver over a pair of pipes: what the stream carries, the limits, the names. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TransferTest {

    @TempDir
    Path dir;

    private final ExecutorService receiverThread = Executors.newSingleThreadExecutor();

    @AfterEach
    void stop() {
        receiverThread.shutdownNow();
    }

    /** Two pipes: what the sender writes the receiver reads, and back. */
    private static final class Wire {
        final PipedInputStream toReceiver = new PipedInputStream(64 * 1024);
        final PipedOutputStream senderOut;
        final PipedInputStream toSender = new PipedInputStream(64 * 1024);
        final PipedOutputStream receiverOut;

        Wire() throws IOException {
            senderOut = new PipedOutputStream(toReceiver);
            receiverOut = new PipedOutputStream(toSender);
        }
    }

    private Future<String> receiver(Wire w, FilesSettings settings) {
        return receiverThread.submit(() -> {
            try {
                return new Receiving(settings).receive(w.toReceiver, w.receiverOut);
            } finally {
                w.receiverOut.close();
            }
        });
    }

    private FilesSettings settings(long maxFileBytes) {
        return new FilesSettings(dir.resolve("in"), maxFileBytes, 2, 1000);
    }

    private Path file(String name, int size) throws IOException {
        byte[] data = new byte[size];
        new Random(size).nextBytes(data);
        Path p = Files.createDirectories(dir.resolve("out")).resolve(name);
        Files.write(p, data);
        return p;
    }

    private static Runnable closing(OutputStream out) {
        return () -> {
            try {
                out.close();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }

    @Test
    void aFileArrivesWholeUnderItsNameAndASecondCopyIsNumbered() throws Exception {
        Path src = file("data.bin", 300_001);
        for (String expected : new String[] {"data.bin", "data-1.bin"}) {
            Wire w = new Wire();
            Future<String> received = receiver(w, settings(1 << 20));
            Sending.Sent sent = Sending.send(src, w.toSender, w.senderOut, closing(w.senderOut));
            assertThat(sent.storedAs()).isEqualTo(expected);
            assertThat(sent.bytes()).isEqualTo(300_001);
            assertThat(received.get(10, TimeUnit.SECONDS)).startsWith("stored 'data.bin' as ")
                    .contains("300001 bytes");
            assertThat(Files.readAllBytes(dir.resolve("in").resolve(expected))).isEqualTo(Files.readAllBytes(src));
        }
        try (var files = Files.list(dir.resolve("in"))) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("data.bin",
                    "data-1.bin");
        }
    }

    @Test
    void aFileOverTheLimitIsRefusedNamingTheLimitAndNothingIsStored() throws Exception {
        Path src = file("big.bin", 2000);
        Wire w = new Wire();
        Future<String> received = receiver(w, settings(1999));
        assertThatThrownBy(() -> Sending.send(src, w.toSender, w.senderOut, closing(w.senderOut)))
                .isInstanceOf(Sending.Refused.class)
                .hasMessage("the file of 2000 bytes is larger than this node accepts (maxFileBytes=1999)");
        assertThat(received.get(10, TimeUnit.SECONDS)).startsWith("refused 'big.bin'");
        assertThat(dir.resolve("in")).as("refused before the folder is even made").doesNotExist();
    }

    @Test
    void anUnsafeNameIsStoredUnderItsSafeForm() throws Exception {
        Wire w = new Wire();
        Future<String> received = receiver(w, settings(100));
        // a hostile sender, speaking the protocol by hand
        FileProtocol.writeOffer(w.senderOut, new FileProtocol.Offer("../../.ssh/authorized_keys", 3));
        assertThat(FileProtocol.readReply(w.toSender).code()).isEqualTo(FileProtocol.Code.ACCEPTED);
        w.senderOut.write("key".getBytes(StandardCharsets.UTF_8));
        w.senderOut.close();
        FileProtocol.Reply done = FileProtocol.readReply(w.toSender);
        assertThat(done.code()).isEqualTo(FileProtocol.Code.STORED);
        assertThat(done.message()).startsWith("authorized_keys ");
        assertThat(received.get(10, TimeUnit.SECONDS)).contains(dir.resolve("in/authorized_keys").toString());
        assertThat(dir.resolve("in/authorized_keys")).hasContent("key");
    }

    @Test
    void aStreamEndingEarlyFailsAndLeavesNoPartFile() throws Exception {
        Wire w = new Wire();
        Future<String> received = receiver(w, settings(100));
        FileProtocol.writeOffer(w.senderOut, new FileProtocol.Offer("short.txt", 10));
        assertThat(FileProtocol.readReply(w.toSender).code()).isEqualTo(FileProtocol.Code.ACCEPTED);
        w.senderOut.write(new byte[4]);
        w.senderOut.close();
        FileProtocol.Reply done = FileProtocol.readReply(w.toSender);
        assertThat(done.code()).isEqualTo(FileProtocol.Code.FAILED);
        assertThat(done.message()).isEqualTo("the stream ended after 4 of 10 bytes");
        assertThat(received.get(10, TimeUnit.SECONDS)).startsWith("failed 'short.txt'");
        try (var files = Files.list(dir.resolve("in"))) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void moreBytesThanOfferedFail() throws Exception {
        Wire w = new Wire();
        Future<String> received = receiver(w, settings(100));
        FileProtocol.writeOffer(w.senderOut, new FileProtocol.Offer("long.txt", 2));
        assertThat(FileProtocol.readReply(w.toSender).code()).isEqualTo(FileProtocol.Code.ACCEPTED);
        w.senderOut.write(new byte[3]);
        w.senderOut.close();
        assertThat(FileProtocol.readReply(w.toSender).message())
                .isEqualTo("the sender sent more than the 2 bytes it offered");
        assertThat(received.get(10, TimeUnit.SECONDS)).startsWith("failed");
    }

    @Test
    void anOversizedNameOnTheWireIsRejectedBeforeItIsRead() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        new DataOutputStream(bytes).writeShort(FileProtocol.MAX_NAME_BYTES + 1);
        InputStream in = new java.io.ByteArrayInputStream(bytes.toByteArray());
        assertThatThrownBy(() -> FileProtocol.readOffer(in)).isInstanceOf(IOException.class)
                .hasMessage("the offered name takes 1025 bytes; at most 1024");
    }
}
