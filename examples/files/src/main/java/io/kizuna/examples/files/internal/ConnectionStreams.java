package io.kizuna.examples.files.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.kizuna.transport.Connection;

/**
 * Blocking streams over a {@link Connection}, for code that runs on its own
 * thread (never on a transport's I/O thread): every step waits at most the
 * step timeout, and a failure becomes an {@link IOException} with the
 * transport's message.
 */
final class ConnectionStreams {

    private final Connection connection;
    private final long stepMillis;

    /**
     * @param connection the stream
     * @param stepMillis how long one read or write may wait
     */
    ConnectionStreams(Connection connection, long stepMillis) {
        this.connection = connection;
        this.stepMillis = stepMillis;
    }

    /** @return the stream's input; -1 at its end */
    InputStream in() {
        return new InputStream() {
            private final byte[] one = new byte[1];

            @Override
            public int read() throws IOException {
                int n = read(one, 0, 1);
                return n < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n;
                do {
                    n = await(connection.read(ByteBuffer.wrap(b, off, len)), "reading");
                } while (n == 0);
                return n;
            }
        };
    }

    /** @return the stream's output; {@link OutputStream#flush()} flushes the connection */
    OutputStream out() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer src = ByteBuffer.wrap(b, off, len);
                while (src.hasRemaining()) {
                    await(connection.write(src), "writing");
                }
            }

            @Override
            public void flush() throws IOException {
                await(connection.flush(), "flushing");
            }
        };
    }

    /** Ends this side's output: the peer reads the end of the stream. */
    void endOutput() throws IOException {
        await(connection.shutdownOutput(), "ending the stream");
    }

    private <T> T await(CompletionStage<T> stage, String doing) throws IOException {
        try {
            return stage.toCompletableFuture().get(stepMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new IOException(doing + " waited more than " + stepMillis + " ms for the peer (stepTimeoutMillis)");
        } catch (ExecutionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IOException(doing + " failed: " + c.getMessage(), c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException(doing + " was interrupted");
        }
    }
}
