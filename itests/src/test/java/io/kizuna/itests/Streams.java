package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

import io.kizuna.transport.Connection;

/** Drives an echo stream: writes random bytes while reading them back, and checks they match. */
final class Streams {

    private static final int CHUNK = 64 * 1024;
    private static final Duration STEP = Duration.ofSeconds(20);

    private Streams() {
    }

    /**
     * Sends {@code total} random bytes, half-closes, and reads until end of
     * stream; the bytes read must equal those sent (SHA-256).
     *
     * @param stream a stream to an echo handler
     * @param total  bytes to send
     */
    static void echo(Connection stream, long total) {
        MessageDigest sent = sha256();
        // the reader runs beside the writer: an echo blocks once its write buffer is full
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> readAll(stream, total));
        Random random = new Random(total);
        byte[] chunk = new byte[CHUNK];
        long left = total;
        while (left > 0) {
            int n = (int) Math.min(CHUNK, left);
            random.nextBytes(chunk);
            sent.update(chunk, 0, n);
            join(stream.write(ByteBuffer.wrap(chunk, 0, n)), STEP, "writing to the echo stream");
            left -= n;
        }
        join(stream.flush(), STEP, "flushing the echo stream");
        join(stream.shutdownOutput(), STEP, "half-closing the echo stream");
        assertArrayEquals("the echo returned the bytes sent", sent.digest(),
                join(received, STEP.multipliedBy(3), "reading the echo back"));
    }

    /**
     * Writes a few bytes and reads them back, leaving the stream open.
     *
     * @param stream a stream to an echo handler
     * @param text   what to send
     */
    static void roundTrip(Connection stream, String text) {
        byte[] bytes = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        join(stream.write(ByteBuffer.wrap(bytes)), STEP, "writing to the echo stream");
        join(stream.flush(), STEP, "flushing the echo stream");
        ByteBuffer back = ByteBuffer.allocate(bytes.length);
        while (back.hasRemaining()) {
            int n = join(stream.read(back), STEP, "reading the echo");
            if (n < 0) {
                throw new AssertionError("the echo stream ended after " + back.position() + " of " + bytes.length
                        + " bytes");
            }
        }
        assertEquals(text, new String(back.array(), java.nio.charset.StandardCharsets.UTF_8));
    }

    private static byte[] readAll(Connection stream, long expected) {
        MessageDigest digest = sha256();
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
        long total = 0;
        while (true) {
            buffer.clear();
            int n = join(stream.read(buffer), STEP, "reading the echo after " + total + " bytes");
            if (n < 0) {
                break;
            }
            digest.update(buffer.array(), 0, n);
            total += n;
            if (total > expected) {
                throw new AssertionError("the echo returned more than the " + expected + " bytes sent");
            }
        }
        assertEquals("bytes echoed before end of stream", expected, total);
        return digest.digest();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
