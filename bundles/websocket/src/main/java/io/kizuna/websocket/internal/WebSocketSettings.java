package io.kizuna.websocket.internal;

import io.kizuna.transport.support.SettingsCheck;

/**
 * The WebSocket transport's settings, checked. Built from {@link WebSocketConfig}
 * inside the framework and directly in tests.
 *
 * @param priority               the transport's priority
 * @param path                   HTTP path of the upgrade (starts with {@code /})
 * @param backlog                SO_BACKLOG of listeners
 * @param maxConnections         open connections, both directions, handshakes included
 * @param connectTimeoutMillis   TCP connect timeout per endpoint
 * @param handshakeTimeoutMillis TLS handshake plus HTTP upgrade
 * @param maxHandshakeBytes      largest upgrade request or response
 * @param maxFrameSize           largest frame payload received
 * @param maxMessageSize         largest message received (fragments together, inflated)
 * @param sendMessageSize        largest message sent
 * @param deflate                permessage-deflate offered and accepted
 * @param pingIntervalMillis     silence after which a ping is sent
 * @param deadPeerTimeoutMillis  silence after which the connection is closed
 * @param writeHighWaterMark     outbound bytes above which writes are held back
 * @param writeLowWaterMark      outbound bytes below which held-back writes complete
 * @param readQueueBytes         bytes read ahead of the application per connection
 * @param ioThreads              event-loop threads (resolved, at least 1)
 * @param closeTimeoutMillis     how long a close waits for the peer's Close and FIN
 */
record WebSocketSettings(
        int priority,
        String path,
        int backlog,
        int maxConnections,
        int connectTimeoutMillis,
        int handshakeTimeoutMillis,
        int maxHandshakeBytes,
        int maxFrameSize,
        int maxMessageSize,
        int sendMessageSize,
        boolean deflate,
        int pingIntervalMillis,
        int deadPeerTimeoutMillis,
        int writeHighWaterMark,
        int writeLowWaterMark,
        int readQueueBytes,
        int ioThreads,
        int closeTimeoutMillis) {

    /** Below tcp (100) and quic (200): the transport for networks that let only web traffic out. */
    static final int DEFAULT_PRIORITY = 50;
    static final String DEFAULT_PATH = "/kizuna";
    static final int DEFAULT_BACKLOG = 128;
    static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final int DEFAULT_CONNECT_TIMEOUT_MILLIS = 5_000;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    static final int DEFAULT_MAX_HANDSHAKE_BYTES = 8 * 1024;
    static final int DEFAULT_MAX_FRAME_SIZE = 256 * 1024;
    static final int DEFAULT_MAX_MESSAGE_SIZE = 256 * 1024;
    static final int DEFAULT_SEND_MESSAGE_SIZE = 64 * 1024;
    static final int DEFAULT_PING_INTERVAL_MILLIS = 15_000;
    static final int DEFAULT_DEAD_PEER_TIMEOUT_MILLIS = 45_000;
    static final int DEFAULT_WRITE_HIGH_WATER_MARK = 256 * 1024;
    static final int DEFAULT_WRITE_LOW_WATER_MARK = 128 * 1024;
    static final int DEFAULT_READ_QUEUE_BYTES = 256 * 1024;
    static final int DEFAULT_CLOSE_TIMEOUT_MILLIS = 2_000;

    /** The hard ceiling of frame and message sizes, far below {@code Integer.MAX_VALUE}. */
    static final int MAX_MESSAGE_CEILING = 16 * 1024 * 1024;

    private static final SettingsCheck CHECK = new SettingsCheck("websocket");

    /** Checks every value and resolves {@code ioThreads} 0 to min(2, processors). */
    WebSocketSettings {
        if (path == null || !path.startsWith("/") || path.length() > 256 || !path.matches("[A-Za-z0-9/._~-]+")) {
            throw CHECK.invalid("path=" + path
                    + " must start with / and use only letters, digits and / . _ ~ - (at most 256)");
        }
        CHECK.positive("backlog", backlog);
        CHECK.positive("maxConnections", maxConnections);
        CHECK.positive("connectTimeoutMillis", connectTimeoutMillis);
        CHECK.positive("handshakeTimeoutMillis", handshakeTimeoutMillis);
        CHECK.positive("maxHandshakeBytes", maxHandshakeBytes);
        CHECK.positive("maxFrameSize", maxFrameSize);
        CHECK.positive("maxMessageSize", maxMessageSize);
        CHECK.positive("sendMessageSize", sendMessageSize);
        CHECK.positive("pingIntervalMillis", pingIntervalMillis);
        CHECK.positive("deadPeerTimeoutMillis", deadPeerTimeoutMillis);
        CHECK.positive("writeHighWaterMark", writeHighWaterMark);
        CHECK.positive("writeLowWaterMark", writeLowWaterMark);
        CHECK.positive("readQueueBytes", readQueueBytes);
        CHECK.positive("closeTimeoutMillis", closeTimeoutMillis);
        if (maxMessageSize > MAX_MESSAGE_CEILING) {
            throw CHECK.invalid("maxMessageSize=" + maxMessageSize
                    + " must not exceed " + MAX_MESSAGE_CEILING);
        }
        if (maxFrameSize > maxMessageSize) {
            throw CHECK.invalid("maxFrameSize=" + maxFrameSize
                    + " must not exceed maxMessageSize=" + maxMessageSize);
        }
        if (deadPeerTimeoutMillis <= pingIntervalMillis) {
            throw CHECK.invalid("deadPeerTimeoutMillis="
                    + deadPeerTimeoutMillis + " must exceed pingIntervalMillis=" + pingIntervalMillis);
        }
        CHECK.waterMarks(writeLowWaterMark, writeHighWaterMark);
        ioThreads = CHECK.ioThreads(ioThreads);
    }

    /** @return the defaults of {@link WebSocketConfig} */
    static WebSocketSettings defaults() {
        return new WebSocketSettings(DEFAULT_PRIORITY, DEFAULT_PATH, DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_HANDSHAKE_TIMEOUT_MILLIS, DEFAULT_MAX_HANDSHAKE_BYTES,
                DEFAULT_MAX_FRAME_SIZE, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_SEND_MESSAGE_SIZE, false,
                DEFAULT_PING_INTERVAL_MILLIS, DEFAULT_DEAD_PEER_TIMEOUT_MILLIS, DEFAULT_WRITE_HIGH_WATER_MARK,
                DEFAULT_WRITE_LOW_WATER_MARK, DEFAULT_READ_QUEUE_BYTES, 0, DEFAULT_CLOSE_TIMEOUT_MILLIS);
    }

    /**
     * @param c the configuration
     * @return its settings
     * @throws IllegalArgumentException naming a value that is out of range
     */
    static WebSocketSettings from(WebSocketConfig c) {
        return new WebSocketSettings(c.kizuna_transport_priority(), c.path(), c.backlog(), c.maxConnections(),
                c.connectTimeoutMillis(), c.handshakeTimeoutMillis(), c.maxHandshakeBytes(), c.maxFrameSize(),
                c.maxMessageSize(), c.sendMessageSize(), c.deflate(), c.pingIntervalMillis(),
                c.deadPeerTimeoutMillis(), c.writeHighWaterMark(), c.writeLowWaterMark(), c.readQueueBytes(),
                c.ioThreads(), c.closeTimeoutMillis());
    }

    WebSocketSettings withMaxConnections(int value) {
        return new WebSocketSettings(priority, path, backlog, value, connectTimeoutMillis, handshakeTimeoutMillis,
                maxHandshakeBytes, maxFrameSize, maxMessageSize, sendMessageSize, deflate, pingIntervalMillis,
                deadPeerTimeoutMillis, writeHighWaterMark, writeLowWaterMark, readQueueBytes, ioThreads,
                closeTimeoutMillis);
    }

    WebSocketSettings withDeflate(boolean value) {
        return new WebSocketSettings(priority, path, backlog, maxConnections, connectTimeoutMillis,
                handshakeTimeoutMillis, maxHandshakeBytes, maxFrameSize, maxMessageSize, sendMessageSize, value,
                pingIntervalMillis, deadPeerTimeoutMillis, writeHighWaterMark, writeLowWaterMark, readQueueBytes,
                ioThreads, closeTimeoutMillis);
    }

    WebSocketSettings withHandshakeTimeoutMillis(int value) {
        return new WebSocketSettings(priority, path, backlog, maxConnections, connectTimeoutMillis, value,
                maxHandshakeBytes, maxFrameSize, maxMessageSize, sendMessageSize, deflate, pingIntervalMillis,
                deadPeerTimeoutMillis, writeHighWaterMark, writeLowWaterMark, readQueueBytes, ioThreads,
                closeTimeoutMillis);
    }

    WebSocketSettings withKeepAlive(int pingMillis, int deadMillis) {
        return new WebSocketSettings(priority, path, backlog, maxConnections, connectTimeoutMillis,
                handshakeTimeoutMillis, maxHandshakeBytes, maxFrameSize, maxMessageSize, sendMessageSize, deflate,
                pingMillis, deadMillis, writeHighWaterMark, writeLowWaterMark, readQueueBytes, ioThreads,
                closeTimeoutMillis);
    }
}
