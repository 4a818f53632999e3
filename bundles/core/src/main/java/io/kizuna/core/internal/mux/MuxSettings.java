package io.kizuna.core.internal.mux;

import java.time.Duration;
import java.util.Objects;

/**
 * The stream multiplexer's limits.
 *
 * @param windowBytes           the most a stream's receive window grows to (it starts at yamux's
 *                              {@value MuxFrame#INITIAL_WINDOW}): what the peer may send on one stream
 *                              before this side reads; {@value MuxFrame#INITIAL_WINDOW} to
 *                              {@value #MAX_WINDOW}
 * @param connectionWindowBytes how far the windows of all streams of one connection may grow beyond
 *                              their first {@value MuxFrame#INITIAL_WINDOW} bytes together; 0 to
 *                              {@value #MAX_CONNECTION_WINDOW}
 * @param maxStreams            streams open at once on one connection, both directions, the first included
 * @param keepAlive             interval of the keep-alive PING; a PING unanswered for one interval closes
 *                              the connection; zero sends none
 * @param closeTimeout          how long a stream this side closed waits for the peer's FIN before it is
 *                              reset, and a closing connection for the peer's end of stream
 */
public record MuxSettings(int windowBytes, int connectionWindowBytes, int maxStreams, Duration keepAlive,
        Duration closeTimeout) {

    /** The largest receive window per stream. */
    public static final int MAX_WINDOW = 16 * 1024 * 1024;
    /** The largest growth of all windows of a connection together. */
    public static final int MAX_CONNECTION_WINDOW = 256 * 1024 * 1024;
    /** The most streams per connection. */
    public static final int MAX_STREAMS = 65_536;

    /** Checks the values. */
    public MuxSettings {
        if (windowBytes < MuxFrame.INITIAL_WINDOW || windowBytes > MAX_WINDOW) {
            throw new IllegalArgumentException("muxWindowBytes is " + windowBytes + "; it must be "
                    + MuxFrame.INITIAL_WINDOW + " to " + MAX_WINDOW);
        }
        if (connectionWindowBytes < 0 || connectionWindowBytes > MAX_CONNECTION_WINDOW) {
            throw new IllegalArgumentException("muxConnectionWindowBytes is " + connectionWindowBytes
                    + "; it must be 0 to " + MAX_CONNECTION_WINDOW);
        }
        if (maxStreams < 1 || maxStreams > MAX_STREAMS) {
            throw new IllegalArgumentException("maxStreamsPerConnection is " + maxStreams + "; it must be 1 to "
                    + MAX_STREAMS);
        }
        Objects.requireNonNull(keepAlive, "keepAlive");
        Objects.requireNonNull(closeTimeout, "closeTimeout");
        if (keepAlive.isNegative() || closeTimeout.isNegative() || closeTimeout.isZero()) {
            throw new IllegalArgumentException("keepAliveMillis must be 0 or more and the close timeout more "
                    + "than 0: " + keepAlive.toMillis() + " ms, " + closeTimeout.toMillis() + " ms");
        }
    }
}
