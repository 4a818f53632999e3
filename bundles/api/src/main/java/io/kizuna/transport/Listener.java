package io.kizuna.transport;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

import org.osgi.annotation.versioning.ConsumerType;

/** A bound transport endpoint that accepts incoming connections. */
@ConsumerType
public interface Listener {

    /** @return the bound address, with the real port when port 0 was asked for */
    InetSocketAddress localAddress();

    /** @return the endpoint peers dial, e.g. {@code tcp://127.0.0.1:7400} */
    Endpoint endpoint();

    /**
     * Stops accepting. Connections already accepted stay open.
     *
     * @return completes when the listening socket is closed
     */
    CompletionStage<Void> close();
}
