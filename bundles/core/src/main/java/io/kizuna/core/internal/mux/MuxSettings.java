package io.kizuna.core.internal.mux;

import java.time.Duration;
import java.util.Objects;

/**
 * The stream multiplexer's limits.
 *
 * @param windowBytes  each stream's receive window: what the peer may send on it before this side
 *                     reads; at least yamux's initial {@value MuxFrame#INITIAL_WINDOW}, at most
 *                     {@value #MAX_WINDOW}
 * @param maxStreams   streams open at once on one connection, both directions, the first included
 * @param keepAlive    interval of the keep-alive PING; a PING unanswered for one interval closes the
 *                     connection; zero sends none
 * @param closeTimeout how long a stream this side closed waits for the peer's FIN before it is reset,
 *                     and a closing connection for its last frames to be written
 */
public record MuxSettings(int windowBytes, int maxStreams, Duration keepAlive, Duration closeTimeout) {

    /** The largest receive window per stream. */
    public static final int MAX_WINDOW = 16 * 1024 * 1024;
    /** The most streams per connection. */
    public static final int MAX_STREAMS = 65_536;

    /** Checks the values. */
    public MuxSettings {
        if (windowBytes < MuxFrame.INITIAL_WINDOW || windowBytes > MAX_WINDOW) {
            throw new IllegalArgumentException("muxWindowBytes is " + windowBytes + "; it must be "
                    + MuxFrame.INITIAL_WINDOW + " to " + MAX_WINDOW);
        }
        if (maxStreams < 1 || maxStreams > MAX_STREAMS) {
            throw new IllegalArgumentException("maxStreamsPerConnection is " + maxStreams + "; it must be 1 to "
                    + MAX_STREAMS);
        }
        Objects.requireNonNull(keepAlive, "keepAlive");
        Objects.requireNonNull(closeTimeout, "closeTimeout");
        if (keepAlive.isNegative() || closeTimeout.isNegative() || closeTimeout.isZero()) {
            throw new IllegalArgumentException("keepAlive must be 0 or more and closeTimeout more than 0: "
                    + keepAlive + ", " + closeTimeout);
        }
    }
}
