package io.kizuna.transport;

import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A connection that carries several independent streams (QUIC, WebRTC). The
 * connection itself behaves as its first stream; {@link #openStream()} opens
 * more without a new handshake.
 */
@ConsumerType
public interface MultiplexedConnection extends Connection {

    /** @return a new outgoing stream to the same peer */
    CompletionStage<Connection> openStream();

    /**
     * Sets who receives streams the peer opens after the first.
     *
     * @param acceptor receives each incoming stream; must not block
     */
    void onStream(Consumer<Connection> acceptor);
}
