package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

import io.kizuna.transport.Connection;

/**
 * Load without pause over one echo stream: a writer sends random 64 KiB chunks
 * until {@link #finish} is called, then half-closes; a reader reads the echo to
 * its end. Both run on threads of their own, since the writer blocks while the
 * echo's buffers are full until the reader drains them.
 */
final class EchoLoad {

    private static final int CHUNK = 64 * 1024;
    private static final Duration STEP = Duration.ofSeconds(20);

    private final Connection stream;
    private final String over;
    private final AtomicBoolean more = new AtomicBoolean(true);
    private final MessageDigest sent = sha256();
    private final CompletableFuture<Long> writer;
    private final CompletableFuture<Object[]> reader;

    /**
     * Starts the load.
     *
     * @param stream an echo stream
     * @param over   its transport, for messages
     */
    EchoLoad(Connection stream, String over) {
        this.stream = stream;
        this.over = over;
        ExecutorService threads = Executors.newFixedThreadPool(2);
        writer = CompletableFuture.supplyAsync(this::write, threads);
        reader = CompletableFuture.supplyAsync(this::read, threads);
        threads.shutdown();
    }

    /** @return whether the echo has ended already (it should not, before {@link #finish}) */
    boolean ended() {
        return reader.isDone();
    }

    /**
     * Stops writing, waits for the echo's end, and checks that every byte came back.
     *
     * @return the bytes that went each way
     * @throws AssertionError when a byte was lost or changed
     */
    long finish() {
        more.set(false);
        long written = join(writer, STEP, "the writer over " + over + " to finish");
        Object[] back = join(reader, STEP, "the echo over " + over + " to end");
        if ((long) back[0] != written || !Arrays.equals(sent.digest(), (byte[]) back[1])) {
            throw new AssertionError("the echo over " + over + " returned " + back[0] + " bytes of " + written
                    + (back[0].equals(written) ? ", with another SHA-256" : ""));
        }
        return written;
    }

    private long write() {
        java.util.Random random = new java.util.Random(7);
        byte[] chunk = new byte[CHUNK];
        long total = 0;
        while (more.get()) {
            random.nextBytes(chunk);
            sent.update(chunk);
            join(stream.write(ByteBuffer.wrap(chunk)), STEP, "writing to the echo stream over " + over);
            total += CHUNK;
        }
        join(stream.shutdownOutput(), STEP, "half-closing the echo stream over " + over);
        return total;
    }

    private Object[] read() {
        MessageDigest digest = sha256();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
        long total = 0;
        while (true) {
            buffer.clear();
            int n = join(stream.read(buffer), STEP, "reading the echo over " + over + " after " + total + " bytes");
            if (n < 0) {
                return new Object[] {total, digest.digest()};
            }
            digest.update(buffer.array(), 0, n);
            total += n;
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
