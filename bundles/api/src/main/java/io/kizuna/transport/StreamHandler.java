package io.kizuna.transport;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard service through which applications receive incoming streams.
 *
 * <p>Register an implementation with the {@link #PROTOCOL} service property set
 * to the application protocol names it serves (String or String[]), for example
 * {@code myapp/chat/1}. When a peer opens a stream with that name, the manager
 * calls {@link #handle}. Names starting with {@code kizuna/} are reserved.
 */
@ConsumerType
public interface StreamHandler {

    /** Service property: the application protocol name(s) this handler serves. */
    String PROTOCOL = "kizuna.stream.protocol";

    /**
     * Takes over an incoming stream. Must not block: do the work asynchronously
     * and close the stream when done.
     *
     * @param stream   the stream, already authenticated ({@code stream.info().peerId()})
     * @param protocol the application protocol the peer asked for
     */
    void handle(Connection stream, String protocol);
}
