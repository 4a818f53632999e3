package io.kizuna.core.internal.protocol;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import io.kizuna.transport.Connection;
import io.kizuna.transport.TransportException;

/**
 * Reads control messages from a {@link Connection}, asynchronously.
 *
 * <p>In exact mode every read asks the connection for no more bytes than the
 * frame being decoded still needs, so nothing after the frame is consumed: use
 * it while opening a stream whose application bytes follow the frame. In
 * buffered mode reads fill a buffer and the messages are taken from it, for
 * connections that carry nothing but frames.
 *
 * <p>One {@link #next()} at a time. Reads that complete at once are handled in a
 * loop, not by recursion, so a fast connection cannot grow the stack.
 */
public final class FrameReader {

    private final Connection connection;
    private final FrameDecoder decoder;
    private final ByteBuffer buffer;
    private final boolean exact;

    /**
     * @param connection where to read
     * @param decoder    the decoder, at a frame boundary
     * @param bufferSize bytes read at most per call to the connection
     * @param exact      whether to read no byte past the end of a frame
     */
    public FrameReader(Connection connection, FrameDecoder decoder, int bufferSize, boolean exact) {
        this.connection = connection;
        this.decoder = decoder;
        this.buffer = ByteBuffer.allocate(bufferSize);
        this.buffer.flip(); // empty, in read mode
        this.exact = exact;
    }

    /** @return the decoder */
    public FrameDecoder decoder() {
        return decoder;
    }

    /**
     * Reads the next message.
     *
     * @return the message; null when the connection ended cleanly between frames;
     *         fails with {@link TransportException.ProtocolViolation} on bad bytes or
     *         an end of stream inside a frame, or with the read's failure
     */
    public CompletableFuture<ControlMessage> next() {
        CompletableFuture<ControlMessage> result = new CompletableFuture<>();
        pump(result, null, null);
        return result;
    }

    private void pump(CompletableFuture<ControlMessage> result, Integer justRead, Throwable readFailure) {
        Integer n = justRead;
        Throwable failure = readFailure;
        try {
            while (true) {
                if (failure != null) {
                    result.completeExceptionally(unwrap(failure));
                    return;
                }
                if (n != null) {
                    if (n < 0) {
                        decoder.endOfStream();
                        result.complete(null);
                        return;
                    }
                    buffer.flip();
                    n = null;
                }
                ControlMessage m = decoder.decode(buffer);
                if (m != null) {
                    result.complete(m);
                    return;
                }
                // The buffer is used up: read more.
                buffer.clear();
                if (exact) {
                    buffer.limit(Math.min(buffer.capacity(), Math.max(1, decoder.wanted())));
                }
                CompletableFuture<Integer> read;
                try {
                    read = connection.read(buffer).toCompletableFuture();
                } catch (RuntimeException e) {
                    read = CompletableFuture.failedFuture(e);
                }
                if (!read.isDone()) {
                    read.whenComplete((r, e) -> pump(result, r, e));
                    return;
                }
                try {
                    n = read.join();
                } catch (CompletionException | java.util.concurrent.CancellationException e) {
                    failure = e;
                }
            }
        } catch (TransportException.ProtocolViolation v) {
            result.completeExceptionally(v);
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
    }

    private static Throwable unwrap(Throwable t) {
        Throwable c = t;
        while (c instanceof CompletionException && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }
}
