package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * A path for signaling messages to one peer: a WebSocket to its {@code webrtc://}
 * endpoint, or a stream over a connection the manager already has to it. Messages
 * are JSON texts of {@link Signal}s; the channel only carries them (the signatures,
 * not the channel, authenticate them).
 */
interface SignalingChannel {

    /**
     * Sends one message; a failure closes the channel.
     *
     * @param json the message
     */
    void send(String json);

    /**
     * Sets who receives the messages; called once, before any arrives is delivered.
     *
     * @param receiver called for each message, in order, never concurrently
     */
    void onMessage(Consumer<String> receiver);

    /** @return completes when the channel is closed */
    CompletionStage<Void> closeFuture();

    /** Closes the channel. */
    void close();

    /** @return the local address of the path */
    InetSocketAddress localAddress();

    /** @return the remote address of the path */
    InetSocketAddress remoteAddress();
}
