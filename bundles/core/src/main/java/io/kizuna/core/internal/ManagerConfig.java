package io.kizuna.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of the connection manager (PID {@value ConnectionManagerImpl#PID}).
 * The framework property {@code kizuna.listen} (comma-separated endpoints), when
 * set, replaces {@link #listen()}.
 */
@ObjectClassDefinition(name = "Kizuna connection manager",
        description = "Chooses transports per peer, pools connections, runs the control protocol and keeps metrics")
@interface ManagerConfig {

    @AttributeDefinition(name = "Listen endpoints",
            description = "Endpoints to accept connections on, e.g. tcp://127.0.0.1:7400 or tcp://0.0.0.0:0 "
                    + "(port 0 picks a free port); each is bound when its transport is present")
    String[] listen() default {ManagerSettings.DEFAULT_LISTEN, ManagerSettings.DEFAULT_LISTEN_QUIC,
            ManagerSettings.DEFAULT_LISTEN_WEBSOCKET};

    @AttributeDefinition(name = "Stagger delay (ms)",
            description = "When a dial over one transport has not succeeded within this delay, the next "
                    + "candidate transport starts too")
    int staggerDelayMillis() default ManagerSettings.DEFAULT_STAGGER_DELAY_MILLIS;

    @AttributeDefinition(name = "Connect timeout (ms)",
            description = "Time allowed for the first candidate transport (connect, handshake, hello); each "
                    + "later candidate gets half the previous one's, at least 1 s")
    int connectTimeoutMillis() default ManagerSettings.DEFAULT_CONNECT_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Maximum connections per peer",
            description = "Pooled control connections to one peer, both directions")
    int maxConnectionsPerPeer() default ManagerSettings.DEFAULT_MAX_CONNECTIONS_PER_PEER;

    @AttributeDefinition(name = "Maximum connections", description = "Pooled control connections in total")
    int maxConnections() default ManagerSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Idle timeout (s)",
            description = "A pooled connection without control traffic for this long is closed; 0 never closes")
    int idleTimeoutSeconds() default ManagerSettings.DEFAULT_IDLE_TIMEOUT_SECONDS;

    @AttributeDefinition(name = "Maximum frame size (bytes)",
            description = "Largest control-protocol payload accepted; a larger declared length closes the "
                    + "connection (8 KiB - 16 MiB)")
    int maxFrameSize() default ManagerSettings.DEFAULT_MAX_FRAME_SIZE;

    @AttributeDefinition(name = "Ping timeout (ms)", description = "How long a ping waits for its pong")
    int pingTimeoutMillis() default ManagerSettings.DEFAULT_PING_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Open timeout (ms)",
            description = "How long a new stream may take to name its protocol, and a control session to "
                    + "exchange hellos")
    int openTimeoutMillis() default ManagerSettings.DEFAULT_OPEN_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Maximum perf bytes",
            description = "Most bytes a peer may ask this node to send back in one perf run")
    long maxPerfBytes() default ManagerSettings.DEFAULT_MAX_PERF_BYTES;

    @AttributeDefinition(name = "Maximum streams",
            description = "Open perf and application streams, both directions, plus streams still naming "
                    + "their protocol")
    int maxStreams() default ManagerSettings.DEFAULT_MAX_STREAMS;

    @AttributeDefinition(name = "Maximum streams per peer",
            description = "Open perf and application streams one peer opened on this node; its next one is "
                    + "refused with OPEN_REFUSED naming this limit, while other peers are still served")
    int maxStreamsPerPeer() default ManagerSettings.DEFAULT_MAX_STREAMS_PER_PEER;

    @AttributeDefinition(name = "Maximum opening streams per peer",
            description = "Streams of one peer still naming their protocol at once")
    int maxOpeningStreamsPerPeer() default ManagerSettings.DEFAULT_MAX_OPENING_STREAMS_PER_PEER;

    @AttributeDefinition(name = "Maximum perf bytes per peer per minute",
            description = "Perf bytes this node sends back to one peer per minute (a budget refilled evenly); "
                    + "a run asking for more than is left is refused")
    long maxPerfBytesPerPeerPerMinute() default ManagerSettings.DEFAULT_MAX_PERF_BYTES_PER_PEER_PER_MINUTE;

    @AttributeDefinition(name = "Maximum known peers",
            description = "Peers whose listen endpoints and metrics are remembered; the least recently "
                    + "used is forgotten first")
    int maxKnownPeers() default ManagerSettings.DEFAULT_MAX_KNOWN_PEERS;

    @AttributeDefinition(name = "Upgrade relayed connections",
            description = "When this node dialed a peer through a relay and both can set up a transport "
                    + "signaled over that connection (WebRTC), set one up in the background; new streams go to "
                    + "it once it is open, the relayed connection stays as it was")
    boolean upgradeRelayed() default ManagerSettings.DEFAULT_UPGRADE_RELAYED;

    @AttributeDefinition(name = "Upgrade attempts",
            description = "Attempts at that upgrade, the first included (1 to 10; 1 never retries); a retry stops "
                    + "when the relayed connection closes or a direct connection to the peer is pooled")
    int upgradeAttempts() default ManagerSettings.DEFAULT_UPGRADE_ATTEMPTS;

    @AttributeDefinition(name = "Upgrade retry delay (ms)",
            description = "Wait after a failed upgrade attempt before the next one; it doubles after each "
                    + "further failure (at most 600000)")
    int upgradeRetryDelayMillis() default ManagerSettings.DEFAULT_UPGRADE_RETRY_DELAY_MILLIS;

    @AttributeDefinition(name = "Dial private endpoints peers announce",
            description = "Keep the loopback, private (RFC 1918, fc00::/7), link-local and CGNAT endpoints a peer "
                    + "announces in its HELLO, to dial them later, even when the connection to the peer came over "
                    + "another kind of address (for a LAN or a lab). Off, such endpoints are kept only from a peer "
                    + "reached over an address of the same kind (two nodes on one host keep each other's "
                    + "loopback endpoints); multicast, unspecified and broadcast endpoints are never kept")
    boolean dialPrivateAnnounced() default ManagerSettings.DEFAULT_DIAL_PRIVATE_ANNOUNCED;

    @AttributeDefinition(name = "Multiplex single-stream connections",
            description = "Run a stream multiplexer (yamux framing) on TCP, WebSocket and relayed connections when "
                    + "the peer agrees, so a new stream to a connected peer needs no new connection; QUIC and "
                    + "WebRTC have streams of their own. Off, each new stream over such a transport dials anew")
    boolean streamMux() default ManagerSettings.DEFAULT_STREAM_MUX;

    @AttributeDefinition(name = "Maximum streams per connection",
            description = "Streams open at once on one multiplexed connection, both directions; a stream the peer "
                    + "opens beyond it is reset (1 - 65536)")
    int maxStreamsPerConnection() default ManagerSettings.DEFAULT_MAX_STREAMS_PER_CONNECTION;

    @AttributeDefinition(name = "Stream window (bytes)",
            description = "The most a peer may send on one multiplexed stream before this node reads it: a "
                    + "stream's window starts at 256 KiB and doubles up to this when the round trip needs it "
                    + "(262144 - 16777216)")
    int muxWindowBytes() default ManagerSettings.DEFAULT_MUX_WINDOW_BYTES;

    @AttributeDefinition(name = "Connection window (bytes)",
            description = "How far the windows of all streams of one multiplexed connection may grow beyond "
                    + "their first 256 KiB together (0 - 268435456)")
    int muxConnectionWindowBytes() default ManagerSettings.DEFAULT_MUX_CONNECTION_WINDOW_BYTES;

    @AttributeDefinition(name = "Keep-alive interval (ms)",
            description = "A multiplexed connection sends a PING this often; one unanswered for an interval closes "
                    + "it; 0 sends none")
    int keepAliveMillis() default ManagerSettings.DEFAULT_KEEP_ALIVE_MILLIS;
}
