package io.kizuna.tcp.internal;

import io.kizuna.transport.support.SettingsCheck;

/**
 * The TCP transport's settings, checked. Built from {@link TcpConfig} inside the
 * framework and directly in tests.
 *
 * @param priority               the transport's priority
 * @param backlog                SO_BACKLOG of listeners
 * @param maxConnections         open connections, both directions, handshakes included
 * @param connectTimeoutMillis   TCP connect timeout per endpoint
 * @param handshakeTimeoutMillis TLS handshake timeout
 * @param writeHighWaterMark     outbound bytes above which writes are held back
 * @param writeLowWaterMark      outbound bytes below which held-back writes complete
 * @param readQueueBytes         bytes read ahead of the application per connection
 * @param keepAlive              SO_KEEPALIVE
 * @param noDelay                TCP_NODELAY
 * @param ioThreads              event-loop threads (resolved, at least 1)
 * @param closeTimeoutMillis     how long a graceful close waits for close_notify to be sent, then for the
 *                               peer's end (lingering, see {@link TcpConnection})
 */
record TcpSettings(
        int priority,
        int backlog,
        int maxConnections,
        int connectTimeoutMillis,
        int handshakeTimeoutMillis,
        int writeHighWaterMark,
        int writeLowWaterMark,
        int readQueueBytes,
        boolean keepAlive,
        boolean noDelay,
        int ioThreads,
        int closeTimeoutMillis) {

    static final int DEFAULT_PRIORITY = 100;
    static final int DEFAULT_BACKLOG = 128;
    static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final int DEFAULT_CONNECT_TIMEOUT_MILLIS = 5_000;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    static final int DEFAULT_WRITE_HIGH_WATER_MARK = 256 * 1024;
    static final int DEFAULT_WRITE_LOW_WATER_MARK = 128 * 1024;
    static final int DEFAULT_READ_QUEUE_BYTES = 256 * 1024;
    static final int DEFAULT_CLOSE_TIMEOUT_MILLIS = 2_000;

    private static final SettingsCheck CHECK = new SettingsCheck("tcp");

    /** Checks every value and resolves {@code ioThreads} 0 to min(2, processors). */
    TcpSettings {
        CHECK.positive("backlog", backlog);
        CHECK.positive("maxConnections", maxConnections);
        CHECK.positive("connectTimeoutMillis", connectTimeoutMillis);
        CHECK.positive("handshakeTimeoutMillis", handshakeTimeoutMillis);
        CHECK.positive("writeHighWaterMark", writeHighWaterMark);
        CHECK.positive("writeLowWaterMark", writeLowWaterMark);
        CHECK.positive("readQueueBytes", readQueueBytes);
        CHECK.positive("closeTimeoutMillis", closeTimeoutMillis);
        CHECK.waterMarks(writeLowWaterMark, writeHighWaterMark);
        ioThreads = CHECK.ioThreads(ioThreads);
    }

    /** @return the defaults of {@link TcpConfig} */
    static TcpSettings defaults() {
        return new TcpSettings(DEFAULT_PRIORITY, DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_HANDSHAKE_TIMEOUT_MILLIS, DEFAULT_WRITE_HIGH_WATER_MARK,
                DEFAULT_WRITE_LOW_WATER_MARK, DEFAULT_READ_QUEUE_BYTES, true, true, 0,
                DEFAULT_CLOSE_TIMEOUT_MILLIS);
    }

    /**
     * @param c the configuration
     * @return its settings
     * @throws IllegalArgumentException naming a value that is out of range
     */
    static TcpSettings from(TcpConfig c) {
        return new TcpSettings(c.kizuna_transport_priority(), c.backlog(), c.maxConnections(),
                c.connectTimeoutMillis(), c.handshakeTimeoutMillis(), c.writeHighWaterMark(), c.writeLowWaterMark(),
                c.readQueueBytes(), c.keepAlive(), c.noDelay(), c.ioThreads(), c.closeTimeoutMillis());
    }

    TcpSettings withMaxConnections(int value) {
        return new TcpSettings(priority, backlog, value, connectTimeoutMillis, handshakeTimeoutMillis,
                writeHighWaterMark, writeLowWaterMark, readQueueBytes, keepAlive, noDelay, ioThreads,
                closeTimeoutMillis);
    }

    TcpSettings withHandshakeTimeoutMillis(int value) {
        return new TcpSettings(priority, backlog, maxConnections, connectTimeoutMillis, value,
                writeHighWaterMark, writeLowWaterMark, readQueueBytes, keepAlive, noDelay, ioThreads,
                closeTimeoutMillis);
    }

    TcpSettings withPriority(int value) {
        return new TcpSettings(value, backlog, maxConnections, connectTimeoutMillis, handshakeTimeoutMillis,
                writeHighWaterMark, writeLowWaterMark, readQueueBytes, keepAlive, noDelay, ioThreads,
                closeTimeoutMillis);
    }
}
