package io.kizuna.transport;

/**
 * What the connections of a transport guarantee.
 *
 * @param reliable       no byte is lost
 * @param ordered        bytes arrive in the order written
 * @param multiplexed    connections are {@link MultiplexedConnection}s
 * @param resumable      a second connection can resume a session (e.g. 0-RTT)
 * @param natTraversal   can reach peers behind NATs without a relay
 * @param maxMessageSize largest message the transport frames, in bytes; 0 for a plain stream
 */
public record TransportCapabilities(
        boolean reliable,
        boolean ordered,
        boolean multiplexed,
        boolean resumable,
        boolean natTraversal,
        long maxMessageSize) {

    /** A reliable, ordered, single-stream transport such as TCP. */
    public static final TransportCapabilities STREAM = new TransportCapabilities(true, true, false, false, false, 0);

    /** @return a short list of the set flags, e.g. {@code reliable,ordered} */
    public String summary() {
        StringBuilder sb = new StringBuilder();
        append(sb, reliable, "reliable");
        append(sb, ordered, "ordered");
        append(sb, multiplexed, "multiplexed");
        append(sb, resumable, "resumable");
        append(sb, natTraversal, "nat-traversal");
        return sb.toString();
    }

    private static void append(StringBuilder sb, boolean flag, String name) {
        if (flag) {
            sb.append(sb.length() == 0 ? "" : ",").append(name);
        }
    }
}
