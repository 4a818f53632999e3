package io.kizuna.examples.unix.internal;

import java.nio.file.Path;

import io.kizuna.transport.support.SettingsCheck;

/**
 * The transport's settings, checked. Built from {@link UnixConfig} inside the
 * framework and directly in tests.
 *
 * @param directory              the socket directory (resolved, absolute)
 * @param priority               the transport's priority
 * @param backlog                listen backlog
 * @param maxConnections         open connections, both directions, handshakes included
 * @param connectTimeoutMillis   connect timeout per endpoint
 * @param handshakeTimeoutMillis TLS handshake timeout
 * @param writeHighWaterMark     outbound bytes above which writes are held back
 * @param writeLowWaterMark      outbound bytes below which held-back writes complete
 * @param readQueueBytes         bytes read ahead of the application per connection
 * @param ioThreads              event-loop threads (resolved, at least 1)
 * @param closeTimeoutMillis     how long a graceful close waits for close_notify to be sent
 */
record UnixSettings(
        Path directory,
        int priority,
        int backlog,
        int maxConnections,
        int connectTimeoutMillis,
        int handshakeTimeoutMillis,
        int writeHighWaterMark,
        int writeLowWaterMark,
        int readQueueBytes,
        int ioThreads,
        int closeTimeoutMillis) {

    /** Below tcp (100): on one host both work, and a plug-in should not take over without being asked. */
    static final int DEFAULT_PRIORITY = 80;
    static final int DEFAULT_BACKLOG = 128;
    static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final int DEFAULT_CONNECT_TIMEOUT_MILLIS = 5_000;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    static final int DEFAULT_WRITE_HIGH_WATER_MARK = 256 * 1024;
    static final int DEFAULT_WRITE_LOW_WATER_MARK = 128 * 1024;
    static final int DEFAULT_READ_QUEUE_BYTES = 256 * 1024;
    static final int DEFAULT_CLOSE_TIMEOUT_MILLIS = 2_000;

    private static final SettingsCheck CHECK = new SettingsCheck("unix");

    /** Checks every value and resolves {@code ioThreads} 0 to min(2, processors). */
    UnixSettings {
        directory = directory.toAbsolutePath().normalize();
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
        SocketPaths.checkLength(directory);
    }

    /**
     * @param directory the socket directory
     * @return the defaults of {@link UnixConfig} with that directory
     */
    static UnixSettings defaults(Path directory) {
        return new UnixSettings(directory, DEFAULT_PRIORITY, DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS,
                DEFAULT_CONNECT_TIMEOUT_MILLIS, DEFAULT_HANDSHAKE_TIMEOUT_MILLIS, DEFAULT_WRITE_HIGH_WATER_MARK,
                DEFAULT_WRITE_LOW_WATER_MARK, DEFAULT_READ_QUEUE_BYTES, 0, DEFAULT_CLOSE_TIMEOUT_MILLIS);
    }

    /**
     * @param c the configuration
     * @return its settings
     * @throws IllegalArgumentException naming a value that is out of range
     */
    static UnixSettings from(UnixConfig c) {
        Path dir = c.directory() == null || c.directory().isBlank() ? SocketPaths.defaultDirectory()
                : Path.of(c.directory().trim());
        return new UnixSettings(dir, c.kizuna_transport_priority(), c.backlog(), c.maxConnections(),
                c.connectTimeoutMillis(), c.handshakeTimeoutMillis(), c.writeHighWaterMark(), c.writeLowWaterMark(),
                c.readQueueBytes(), c.ioThreads(), c.closeTimeoutMillis());
    }

    UnixSettings withMaxConnections(int value) {
        return new UnixSettings(directory, priority, backlog, value, connectTimeoutMillis, handshakeTimeoutMillis,
                writeHighWaterMark, writeLowWaterMark, readQueueBytes, ioThreads, closeTimeoutMillis);
    }
}
