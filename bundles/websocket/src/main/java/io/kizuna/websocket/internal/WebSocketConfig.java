package io.kizuna.websocket.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the WebSocket transport (PID {@value WebSocketTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna WebSocket transport",
        description = "wss:// (WebSocket over TLS 1.3) with subprotocol kizuna.v1, mutually authenticated by node keys")
@interface WebSocketConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred (tcp has 100)")
    int kizuna_transport_priority() default WebSocketSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Path", description = "HTTP path of the WebSocket upgrade, the same on both sides")
    String path() default WebSocketSettings.DEFAULT_PATH;

    @AttributeDefinition(name = "Accept backlog", description = "SO_BACKLOG of listening sockets")
    int backlog() default WebSocketSettings.DEFAULT_BACKLOG;

    @AttributeDefinition(name = "Maximum connections",
            description = "Open connections in both directions, handshakes included; more inbound ones are "
                    + "closed at once, more dials fail with a limit error")
    int maxConnections() default WebSocketSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Connect timeout (ms)", description = "TCP connect timeout per endpoint")
    int connectTimeoutMillis() default WebSocketSettings.DEFAULT_CONNECT_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Handshake timeout (ms)",
            description = "TLS handshake plus HTTP upgrade, both directions")
    int handshakeTimeoutMillis() default WebSocketSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Maximum handshake (bytes)",
            description = "Largest HTTP upgrade request or response accepted")
    int maxHandshakeBytes() default WebSocketSettings.DEFAULT_MAX_HANDSHAKE_BYTES;

    @AttributeDefinition(name = "Maximum frame (bytes)",
            description = "Largest frame payload accepted; a larger declared length closes the connection with 1009")
    int maxFrameSize() default WebSocketSettings.DEFAULT_MAX_FRAME_SIZE;

    @AttributeDefinition(name = "Maximum message (bytes)",
            description = "Largest message accepted, fragments added up and after inflation; more closes with 1009")
    int maxMessageSize() default WebSocketSettings.DEFAULT_MAX_MESSAGE_SIZE;

    @AttributeDefinition(name = "Message size sent (bytes)",
            description = "Writes are sent as binary messages of at most this size")
    int sendMessageSize() default WebSocketSettings.DEFAULT_SEND_MESSAGE_SIZE;

    @AttributeDefinition(name = "permessage-deflate",
            description = "Offer and accept permessage-deflate (RFC 7692); inflation is bounded by the maximum message")
    boolean deflate() default false;

    @AttributeDefinition(name = "Ping interval (ms)",
            description = "A connection that received nothing for this long is sent a ping")
    int pingIntervalMillis() default WebSocketSettings.DEFAULT_PING_INTERVAL_MILLIS;

    @AttributeDefinition(name = "Dead peer timeout (ms)",
            description = "A connection that received nothing, not even a pong, for this long is closed")
    int deadPeerTimeoutMillis() default WebSocketSettings.DEFAULT_DEAD_PEER_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Write high-water mark (bytes)",
            description = "A write completes only once fewer bytes than this wait to be sent")
    int writeHighWaterMark() default WebSocketSettings.DEFAULT_WRITE_HIGH_WATER_MARK;

    @AttributeDefinition(name = "Write low-water mark (bytes)",
            description = "A held-back write completes once the bytes waiting drop below this")
    int writeLowWaterMark() default WebSocketSettings.DEFAULT_WRITE_LOW_WATER_MARK;

    @AttributeDefinition(name = "Read queue (bytes)",
            description = "Bytes read ahead of the application per connection, as received (compressed or not)")
    int readQueueBytes() default WebSocketSettings.DEFAULT_READ_QUEUE_BYTES;

    @AttributeDefinition(name = "I/O threads", description = "Event-loop threads; 0 picks min(2, processors)")
    int ioThreads() default 0;

    @AttributeDefinition(name = "Close timeout (ms)",
            description = "How long a closing side waits for the peer's Close frame and end of TCP stream")
    int closeTimeoutMillis() default WebSocketSettings.DEFAULT_CLOSE_TIMEOUT_MILLIS;
}
