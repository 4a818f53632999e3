package io.kizuna.transport;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A reliable, ordered, authenticated and encrypted byte stream to one peer.
 *
 * <p>Reads and writes are asynchronous and each side allows one operation in
 * flight at a time: a second {@link #read} before the first completed, or a
 * second {@link #write} before the first completed, fails with
 * {@link IllegalStateException}. The buffer passed to an operation belongs to the
 * connection until the returned stage completes.
 *
 * <p>Memory is bounded in both directions. A write completes once the transport
 * has taken the bytes; it holds back completion while more than its high-water
 * mark of bytes wait to be sent, so a writer facing a slow reader is slowed down,
 * not buffered without limit. Incoming bytes are read from the network only as
 * the application asks for them.
 */
@ConsumerType
public interface Connection {

    /**
     * Reads at least one byte into {@code dst}, from its position up to its limit.
     *
     * @param dst the buffer to fill; must have space remaining
     * @return the number of bytes read, or -1 once the peer has closed its side and
     *         everything it sent has been read
     */
    CompletionStage<Integer> read(ByteBuffer dst);

    /**
     * Writes all remaining bytes of {@code src}.
     *
     * @param src the bytes to send, from position to limit; the position is
     *            advanced to the limit when the stage completes
     * @return completes when the transport has taken every byte
     */
    CompletionStage<Void> write(ByteBuffer src);

    /** @return completes when everything written so far has been handed to the network */
    CompletionStage<Void> flush();

    /**
     * Closes this side for writing (TCP half-close, QUIC FIN): the peer reads end
     * of stream after the bytes already written, and this side can still read.
     *
     * @return completes when the end of stream has been sent
     */
    CompletionStage<Void> shutdownOutput();

    /**
     * Closes gracefully: pending writes are flushed, the peer sees an orderly end
     * of stream, and the stage completes when the connection is closed.
     *
     * @return completes when closed
     */
    CompletionStage<Void> close();

    /** @return whether the connection is still open in at least one direction */
    boolean isConnected();

    /** @return a snapshot of what is known about this connection now */
    ConnectionInfo info();

    /**
     * @return completes when the connection has closed, for whatever reason;
     *         completes exceptionally when it failed rather than closed in order
     */
    CompletionStage<Void> closeFuture();
}
