package io.kizuna.nat.internal.punch;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * A {@link PunchChannel} over a stream: frames written as {@link PunchCodec}
 * encodes them, read header first (checked before the payload buffer exists)
 * and then exactly the payload, so no byte after a frame is consumed.
 */
final class ConnectionPunchChannel implements PunchChannel {

    private final Connection connection;
    private final PeerId peer;

    /**
     * @param connection the {@code kizuna/punch/1} stream, opened and accepted
     * @param peer       the PeerId the connection authenticated
     */
    ConnectionPunchChannel(Connection connection, PeerId peer) {
        this.connection = connection;
        this.peer = peer;
    }

    @Override
    public PeerId peer() {
        return peer;
    }

    @Override
    public CompletionStage<Void> send(PunchMessage message) {
        return connection.write(PunchCodec.encode(message)).thenCompose(v -> connection.flush());
    }

    @Override
    public CompletionStage<PunchMessage> receive() {
        ByteBuffer header = ByteBuffer.allocate(PunchCodec.HEADER_LENGTH);
        return fill(header, true).thenCompose(clean -> {
            if (clean) {
                return CompletableFuture.completedFuture(null);
            }
            header.flip();
            int length;
            try {
                length = PunchCodec.payloadLength(header);
            } catch (TransportException.ProtocolViolation v) {
                return CompletableFuture.failedFuture(v);
            }
            int type = header.get(1) & 0xFF;
            ByteBuffer payload = ByteBuffer.allocate(length);
            return fill(payload, false).thenCompose(ignored -> {
                try {
                    return CompletableFuture.completedFuture(PunchCodec.decodePayload(type, payload.flip()));
                } catch (TransportException.ProtocolViolation v) {
                    return CompletableFuture.failedFuture(v);
                }
            });
        });
    }

    /**
     * Reads until {@code into} is full, in a loop for reads that complete at once.
     *
     * @return true when the stream ended before the first byte and that is allowed (between frames)
     */
    private CompletableFuture<Boolean> fill(ByteBuffer into, boolean endAllowed) {
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        pump(into, endAllowed, done);
        return done;
    }

    private void pump(ByteBuffer into, boolean endAllowed, CompletableFuture<Boolean> done) {
        while (into.hasRemaining()) {
            CompletableFuture<Integer> read;
            try {
                read = connection.read(into).toCompletableFuture();
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
                return;
            }
            if (!read.isDone()) {
                read.whenComplete((n, e) -> {
                    if (e != null) {
                        done.completeExceptionally(e instanceof CompletionException c ? c.getCause() : e);
                    } else if (ended(n, into, endAllowed, done)) {
                        pump(into, endAllowed, done);
                    }
                });
                return;
            }
            int n;
            try {
                n = read.join();
            } catch (CompletionException e) {
                done.completeExceptionally(e.getCause());
                return;
            }
            if (!ended(n, into, endAllowed, done)) {
                return;
            }
        }
        done.complete(false);
    }

    /** @return whether to go on reading; otherwise {@code done} was completed */
    private static boolean ended(int n, ByteBuffer into, boolean endAllowed, CompletableFuture<Boolean> done) {
        if (n >= 0) {
            return true;
        }
        if (endAllowed && into.position() == 0) {
            done.complete(true);
        } else {
            done.completeExceptionally(new TransportException.ProtocolViolation("punch stream ended inside a frame, "
                    + into.position() + " of " + into.capacity() + " bytes read"));
        }
        return false;
    }

    @Override
    public void close() {
        connection.close();
    }
}
