package io.kizuna.quic.internal;

import java.util.Locale;

import io.kizuna.transport.support.SettingsCheck;
import io.netty.handler.codec.quic.QuicCongestionControlAlgorithm;

/**
 * The QUIC transport's settings, checked. Built from {@link QuicConfig} inside
 * the framework and directly in tests.
 *
 * @param priority                  the transport's priority
 * @param maxConnections            open connections, both directions, handshakes included
 * @param maxStreamsPerConnection   concurrent bidirectional streams a peer may open
 * @param handshakeTimeoutMillis    QUIC + TLS handshake timeout per endpoint; for a listener, from the dialer's
 *                                  first Initial to its preamble on the first stream
 * @param idleTimeoutMillis         QUIC max_idle_timeout
 * @param keepAliveMillis           how often a dialer sends an ack-eliciting keep-alive, 0 for never
 * @param streamWindow              flow-control window per stream
 * @param connectionWindow          flow-control window per connection
 * @param readQueueBytes            bytes taken from a stream ahead of the application
 * @param congestionControl         quiche's congestion controller
 * @param udpReceiveBuffer          SO_RCVBUF, 0 for the kernel default
 * @param udpSendBuffer             SO_SNDBUF, 0 for the kernel default
 * @param segmentationOffload       whether sends use UDP GSO where the epoll transport offers it
 * @param retry                     whether listeners validate addresses with Retry tokens
 * @param retryTokenLifetimeSeconds how long a Retry token is accepted
 * @param earlyData                 whether dials resume with 0-RTT (listeners always allow it)
 * @param ioThreads                 event-loop threads (resolved, at least 1)
 * @param closeTimeoutMillis        how long a graceful close waits for the peer's end
 */
record QuicSettings(
        int priority,
        int maxConnections,
        int maxStreamsPerConnection,
        int handshakeTimeoutMillis,
        int idleTimeoutMillis,
        int keepAliveMillis,
        int streamWindow,
        int connectionWindow,
        int readQueueBytes,
        QuicCongestionControlAlgorithm congestionControl,
        int udpReceiveBuffer,
        int udpSendBuffer,
        boolean segmentationOffload,
        boolean retry,
        int retryTokenLifetimeSeconds,
        boolean earlyData,
        int ioThreads,
        int closeTimeoutMillis) {

    static final int DEFAULT_PRIORITY = 200;
    static final int DEFAULT_MAX_CONNECTIONS = 1024;
    static final int DEFAULT_MAX_STREAMS = 128;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 5_000;
    static final int DEFAULT_IDLE_TIMEOUT_MILLIS = 30_000;
    static final int DEFAULT_KEEP_ALIVE_MILLIS = 10_000;
    static final int DEFAULT_STREAM_WINDOW = 4 * 1024 * 1024;
    static final int DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024;
    static final int DEFAULT_READ_QUEUE_BYTES = 256 * 1024;
    static final String DEFAULT_CONGESTION_CONTROL = "CUBIC";
    static final int DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;
    static final int DEFAULT_TOKEN_LIFETIME_SECONDS = 10;
    static final int DEFAULT_CLOSE_TIMEOUT_MILLIS = 2_000;

    private static final SettingsCheck CHECK = new SettingsCheck("quic");

    /** Checks every value and resolves {@code ioThreads} 0 to min(2, processors). */
    QuicSettings {
        CHECK.positive("maxConnections", maxConnections);
        CHECK.positive("maxStreamsPerConnection", maxStreamsPerConnection);
        CHECK.positive("handshakeTimeoutMillis", handshakeTimeoutMillis);
        CHECK.positive("idleTimeoutMillis", idleTimeoutMillis);
        if (keepAliveMillis < 0 || keepAliveMillis >= idleTimeoutMillis) {
            throw CHECK.invalid("keepAliveMillis=" + keepAliveMillis
                    + " must be 0 (off) or more, and below idleTimeoutMillis=" + idleTimeoutMillis);
        }
        CHECK.positive("streamWindow", streamWindow);
        CHECK.positive("connectionWindow", connectionWindow);
        CHECK.positive("readQueueBytes", readQueueBytes);
        CHECK.positive("retryTokenLifetimeSeconds", retryTokenLifetimeSeconds);
        CHECK.positive("closeTimeoutMillis", closeTimeoutMillis);
        if (congestionControl == null) {
            throw CHECK.invalid("congestionControl must be set");
        }
        if (connectionWindow < streamWindow) {
            throw CHECK.invalid("connectionWindow=" + connectionWindow
                    + " must be at least streamWindow=" + streamWindow);
        }
        if (udpReceiveBuffer < 0 || udpSendBuffer < 0) {
            throw CHECK.invalid("udpReceiveBuffer=" + udpReceiveBuffer
                    + " and udpSendBuffer=" + udpSendBuffer + " must be 0 (kernel default) or more");
        }
        ioThreads = CHECK.ioThreads(ioThreads);
    }

    /**
     * @param name CUBIC, RENO or BBR, in any case
     * @return the algorithm
     * @throws IllegalArgumentException naming the choices
     */
    static QuicCongestionControlAlgorithm congestionControl(String name) {
        try {
            return QuicCongestionControlAlgorithm.valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw CHECK.invalid("congestionControl=" + name
                    + " is not one of CUBIC, RENO, BBR", e);
        }
    }

    /** @return the defaults of {@link QuicConfig} */
    static QuicSettings defaults() {
        return new QuicSettings(DEFAULT_PRIORITY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_STREAMS,
                DEFAULT_HANDSHAKE_TIMEOUT_MILLIS, DEFAULT_IDLE_TIMEOUT_MILLIS, DEFAULT_KEEP_ALIVE_MILLIS,
                DEFAULT_STREAM_WINDOW,
                DEFAULT_CONNECTION_WINDOW, DEFAULT_READ_QUEUE_BYTES, congestionControl(DEFAULT_CONGESTION_CONTROL), DEFAULT_UDP_BUFFER,
                DEFAULT_UDP_BUFFER, true, true, DEFAULT_TOKEN_LIFETIME_SECONDS, false, 0, DEFAULT_CLOSE_TIMEOUT_MILLIS);
    }

    /**
     * @param c the configuration
     * @return its settings
     * @throws IllegalArgumentException naming a value that is out of range
     */
    static QuicSettings from(QuicConfig c) {
        return new QuicSettings(c.kizuna_transport_priority(), c.maxConnections(), c.maxStreamsPerConnection(),
                c.handshakeTimeoutMillis(), c.idleTimeoutMillis(), c.keepAliveMillis(), c.streamWindow(),
                c.connectionWindow(), c.readQueueBytes(),
                congestionControl(c.congestionControl()), c.udpReceiveBuffer(), c.udpSendBuffer(),
                c.segmentationOffload(), c.retry(), c.retryTokenLifetimeSeconds(), c.earlyData(), c.ioThreads(),
                c.closeTimeoutMillis());
    }

    QuicSettings withMaxConnections(int value) {
        return new QuicSettings(priority, value, maxStreamsPerConnection, handshakeTimeoutMillis, idleTimeoutMillis,
                keepAliveMillis, streamWindow, connectionWindow, readQueueBytes,
                congestionControl, udpReceiveBuffer, udpSendBuffer, segmentationOffload, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withHandshakeTimeout(int value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, value, idleTimeoutMillis,
                keepAliveMillis, streamWindow, connectionWindow, readQueueBytes,
                congestionControl, udpReceiveBuffer, udpSendBuffer, segmentationOffload, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withStreamWindow(int value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, value, Math.max(connectionWindow, value), readQueueBytes, congestionControl, udpReceiveBuffer, udpSendBuffer,
                segmentationOffload, retry, retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withRetry(boolean value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, streamWindow, connectionWindow, readQueueBytes, congestionControl, udpReceiveBuffer, udpSendBuffer,
                segmentationOffload, value, retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withSegmentationOffload(boolean value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, streamWindow, connectionWindow, readQueueBytes, congestionControl, udpReceiveBuffer, udpSendBuffer, value, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withKeepAlive(int value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, value, streamWindow, connectionWindow, readQueueBytes, congestionControl, udpReceiveBuffer, udpSendBuffer, segmentationOffload, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withEarlyData(boolean value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, streamWindow, connectionWindow, readQueueBytes, congestionControl, udpReceiveBuffer, udpSendBuffer,
                segmentationOffload, retry, retryTokenLifetimeSeconds, value, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withCongestionControl(QuicCongestionControlAlgorithm value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, streamWindow, connectionWindow, readQueueBytes, value, udpReceiveBuffer, udpSendBuffer, segmentationOffload, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }

    QuicSettings withUdpBuffers(int value) {
        return new QuicSettings(priority, maxConnections, maxStreamsPerConnection, handshakeTimeoutMillis,
                idleTimeoutMillis, keepAliveMillis, streamWindow, connectionWindow, readQueueBytes, congestionControl, value, value, segmentationOffload, retry,
                retryTokenLifetimeSeconds, earlyData, ioThreads, closeTimeoutMillis);
    }
}
