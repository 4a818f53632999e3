package io.kizuna.nat.internal.punch;

import java.util.concurrent.CompletionStage;

import io.kizuna.transport.PeerId;

/**
 * The control channel of one punch: the {@code kizuna/punch/1} stream over the
 * connection the two peers share already (a relay circuit), carrying
 * {@link PunchMessage}s in order, both ways ({@link ConnectionPunchChannel}).
 */
interface PunchChannel {

    /** @return the peer at the other end, as the connection authenticated it */
    PeerId peer();

    /**
     * Sends one message; one send at a time (the next after this one completed).
     *
     * @param message the message
     * @return completes when the connection took it
     */
    CompletionStage<Void> send(PunchMessage message);

    /**
     * Reads the next message; one receive at a time.
     *
     * @return the message; null when the peer closed the stream between messages; fails with
     *         {@link io.kizuna.transport.TransportException.ProtocolViolation} for bad bytes, or with
     *         the connection's failure
     */
    CompletionStage<PunchMessage> receive();

    /** Closes the stream. */
    void close();
}
