package io.kizuna.core.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.IntFunction;

import io.kizuna.core.internal.mux.MuxSettings;
import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.transport.Endpoint;

/**
 * The manager's settings, checked. Built from {@link ManagerConfig} in the
 * framework, or with {@link #builder()} in tests.
 *
 * @param listen                the endpoints to listen on
 * @param staggerDelay          delay before the next candidate transport starts
 * @param connectTimeout        time allowed for the first candidate
 * @param minConnectTimeout     the floor of the shrinking timeouts of later candidates
 * @param maxConnectionsPerPeer pooled connections per peer
 * @param maxConnections        pooled connections in total
 * @param idleTimeout           idle time before a pooled connection closes; zero never
 * @param maxFrameSize          largest control payload
 * @param pingTimeout           how long a ping waits
 * @param openTimeout           how long a stream may take to open, and a session to say hello
 * @param maxPerfBytes          most bytes a peer may ask back in one perf run
 * @param maxStreams            open and opening streams
 * @param maxStreamsPerPeer     open streams one peer opened on this node
 * @param maxOpeningStreamsPerPeer streams of one peer still naming their protocol
 * @param maxPerfBytesPerPeerPerMinute perf bytes sent back to one peer per minute
 * @param maxKnownPeers         peers remembered (endpoints, history, metrics)
 * @param failureMemory         how long a failed dial demotes a transport for that peer
 * @param closeTimeout          how long shutdown waits for graceful closes
 * @param jmxName               the MBean's object name; empty registers none
 * @param frameAllocator        gives the decoder its payload buffers
 * @param upgradeRelayed        whether a relayed connection this node dialed is upgraded in the
 *                              background to a direct one signaled over it
 * @param upgradeAttempts       attempts at that upgrade (1: no retry), the first included
 * @param upgradeRetryDelay     the wait before the second attempt; each later wait doubles
 * @param dialPrivateAnnounced  whether loopback, private, link-local and shared endpoints a peer
 *                              announces are kept even when the connection to it came over
 *                              another kind of address (see {@link AnnouncedEndpoints})
 * @param streamMux             whether single-stream connections (TCP, WebSocket, relay circuits) are
 *                              multiplexed when the peer agrees ({@code kizuna/mux/1})
 * @param mux                   the multiplexer's window, streams per connection and keep-alive
 */
record ManagerSettings(List<Endpoint> listen, Duration staggerDelay, Duration connectTimeout,
        Duration minConnectTimeout, int maxConnectionsPerPeer, int maxConnections, Duration idleTimeout,
        int maxFrameSize, Duration pingTimeout, Duration openTimeout, long maxPerfBytes, int maxStreams,
        int maxStreamsPerPeer, int maxOpeningStreamsPerPeer, long maxPerfBytesPerPeerPerMinute,
        int maxKnownPeers, Duration failureMemory, Duration closeTimeout, String jmxName,
        IntFunction<ByteBuffer> frameAllocator, boolean upgradeRelayed, int upgradeAttempts,
        Duration upgradeRetryDelay, boolean dialPrivateAnnounced, boolean streamMux, MuxSettings mux) {

    static final String DEFAULT_LISTEN = "tcp://127.0.0.1:7400";

    /** The default QUIC endpoint: the same port number, over UDP. */
    static final String DEFAULT_LISTEN_QUIC = "quic://127.0.0.1:7400";

    /** The default WebSocket endpoint: a TCP port of its own, next to tcp's (443 recalls https). */
    static final String DEFAULT_LISTEN_WEBSOCKET = "websocket://127.0.0.1:7443";
    static final int DEFAULT_STAGGER_DELAY_MILLIS = 250;
    static final int DEFAULT_CONNECT_TIMEOUT_MILLIS = 10_000;
    static final int DEFAULT_MAX_CONNECTIONS_PER_PEER = 4;
    static final int DEFAULT_MAX_CONNECTIONS = 256;
    static final int DEFAULT_IDLE_TIMEOUT_SECONDS = 300;
    static final int DEFAULT_MAX_FRAME_SIZE = ControlCodec.DEFAULT_MAX_FRAME_SIZE;
    static final int DEFAULT_PING_TIMEOUT_MILLIS = 5_000;
    static final int DEFAULT_OPEN_TIMEOUT_MILLIS = 10_000;
    static final long DEFAULT_MAX_PERF_BYTES = 16L * 1024 * 1024 * 1024;
    static final int DEFAULT_MAX_STREAMS = 256;
    static final int DEFAULT_MAX_STREAMS_PER_PEER = 64;
    static final int DEFAULT_MAX_OPENING_STREAMS_PER_PEER = 16;
    static final long DEFAULT_MAX_PERF_BYTES_PER_PEER_PER_MINUTE = 16L * 1024 * 1024 * 1024;
    static final int DEFAULT_MAX_KNOWN_PEERS = 1024;
    static final String DEFAULT_JMX_NAME = "io.kizuna:type=ConnectionManager";
    static final int MAX_LISTEN = 64;
    static final boolean DEFAULT_UPGRADE_RELAYED = true;
    static final boolean DEFAULT_DIAL_PRIVATE_ANNOUNCED = false;
    /** Three attempts: with the 10 s connect timeout and waits of 10 s and 20 s, about a minute in all. */
    static final int DEFAULT_UPGRADE_ATTEMPTS = 3;
    static final int DEFAULT_UPGRADE_RETRY_DELAY_MILLIS = 10_000;
    static final boolean DEFAULT_STREAM_MUX = true;
    static final int DEFAULT_MAX_STREAMS_PER_CONNECTION = 256;
    /** As QUIC's stream window: a window starts at yamux's 256 KiB and grows to this when the path needs it. */
    static final int DEFAULT_MUX_WINDOW_BYTES = 4 * 1024 * 1024;
    /** As QUIC's connection window. */
    static final int DEFAULT_MUX_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
    static final int DEFAULT_KEEP_ALIVE_MILLIS = 30_000;
    /** Upper bounds, so a configuration cannot make the retries run on for hours. */
    static final int MAX_UPGRADE_ATTEMPTS = 10;
    static final Duration MAX_UPGRADE_RETRY_DELAY = Duration.ofMinutes(10);

    /** Checks every value. */
    ManagerSettings {
        listen = List.copyOf(listen);
        if (listen.size() > MAX_LISTEN) {
            throw invalid("listen", listen.size() + " endpoints", "at most " + MAX_LISTEN);
        }
        positive("staggerDelayMillis", staggerDelay);
        positive("connectTimeoutMillis", connectTimeout);
        positive("minConnectTimeout", minConnectTimeout);
        atLeast("maxConnectionsPerPeer", maxConnectionsPerPeer, 1);
        atLeast("maxConnections", maxConnections, 1);
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        if (idleTimeout.isNegative()) {
            throw invalid("idleTimeoutSeconds", idleTimeout.toSeconds() + "", "0 (never) or more");
        }
        if (maxFrameSize < ControlCodec.MIN_MAX_FRAME_SIZE || maxFrameSize > ControlCodec.MAX_MAX_FRAME_SIZE) {
            throw invalid("maxFrameSize", "" + maxFrameSize, ControlCodec.MIN_MAX_FRAME_SIZE + " to "
                    + ControlCodec.MAX_MAX_FRAME_SIZE);
        }
        positive("pingTimeoutMillis", pingTimeout);
        positive("openTimeoutMillis", openTimeout);
        if (maxPerfBytes < 0) {
            throw invalid("maxPerfBytes", "" + maxPerfBytes, "0 or more");
        }
        atLeast("maxStreams", maxStreams, 1);
        atLeast("maxStreamsPerPeer", maxStreamsPerPeer, 1);
        atLeast("maxOpeningStreamsPerPeer", maxOpeningStreamsPerPeer, 1);
        if (maxPerfBytesPerPeerPerMinute < 0) {
            throw invalid("maxPerfBytesPerPeerPerMinute", "" + maxPerfBytesPerPeerPerMinute, "0 or more");
        }
        atLeast("maxKnownPeers", maxKnownPeers, 1);
        positive("failureMemory", failureMemory);
        positive("closeTimeout", closeTimeout);
        Objects.requireNonNull(jmxName, "jmxName");
        Objects.requireNonNull(frameAllocator, "frameAllocator");
        if (upgradeAttempts < 1 || upgradeAttempts > MAX_UPGRADE_ATTEMPTS) {
            throw invalid("upgradeAttempts", "" + upgradeAttempts, "1 (no retry) to " + MAX_UPGRADE_ATTEMPTS);
        }
        positive("upgradeRetryDelayMillis", upgradeRetryDelay);
        if (upgradeRetryDelay.compareTo(MAX_UPGRADE_RETRY_DELAY) > 0) {
            throw invalid("upgradeRetryDelayMillis", upgradeRetryDelay.toMillis() + " ms", "at most "
                    + MAX_UPGRADE_RETRY_DELAY.toMillis() + " ms");
        }
        Objects.requireNonNull(mux, "mux");
    }

    /**
     * @param failed the attempts at an upgrade that failed so far (at least 1)
     * @return the wait before the next attempt: {@code upgradeRetryDelay}, doubled for each earlier retry,
     *         at most {@link #MAX_UPGRADE_RETRY_DELAY}
     */
    Duration upgradeBackoff(int failed) {
        Duration d = upgradeRetryDelay.multipliedBy(1L << Math.min(Math.max(failed, 1) - 1, MAX_UPGRADE_ATTEMPTS));
        return d.compareTo(MAX_UPGRADE_RETRY_DELAY) > 0 ? MAX_UPGRADE_RETRY_DELAY : d;
    }

    private static void positive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw invalid(name, d.toMillis() + " ms", "more than 0");
        }
    }

    private static void atLeast(String name, long v, long min) {
        if (v < min) {
            throw invalid(name, "" + v, "at least " + min);
        }
    }

    private static IllegalArgumentException invalid(String name, String value, String expected) {
        return new IllegalArgumentException("configuration " + ConnectionManagerImpl.PID + ": " + name + " is "
                + value + ", expected " + expected);
    }

    /**
     * @param c              the component configuration
     * @param listenOverride the framework property {@code kizuna.listen}, or null
     * @return the settings
     * @throws IllegalArgumentException naming the bad value
     */
    static ManagerSettings from(ManagerConfig c, String listenOverride) {
        List<String> listen = new ArrayList<>();
        if (listenOverride != null && !listenOverride.isBlank()) {
            for (String s : listenOverride.split(",")) {
                if (!s.isBlank()) {
                    listen.add(s.trim());
                }
            }
        } else if (c.listen() != null) {
            // an array, or one comma-separated string (as FileInstall hands a .cfg value over)
            for (String s : c.listen()) {
                for (String e : s == null ? new String[0] : s.split(",")) {
                    if (!e.isBlank()) {
                        listen.add(e.trim());
                    }
                }
            }
        }
        return builder()
                .listen(parse(listen, listenOverride != null && !listenOverride.isBlank()))
                .staggerDelay(Duration.ofMillis(c.staggerDelayMillis()))
                .connectTimeout(Duration.ofMillis(c.connectTimeoutMillis()))
                .maxConnectionsPerPeer(c.maxConnectionsPerPeer())
                .maxConnections(c.maxConnections())
                .idleTimeout(Duration.ofSeconds(c.idleTimeoutSeconds()))
                .maxFrameSize(c.maxFrameSize())
                .pingTimeout(Duration.ofMillis(c.pingTimeoutMillis()))
                .openTimeout(Duration.ofMillis(c.openTimeoutMillis()))
                .maxPerfBytes(c.maxPerfBytes())
                .maxStreams(c.maxStreams())
                .maxStreamsPerPeer(c.maxStreamsPerPeer())
                .maxOpeningStreamsPerPeer(c.maxOpeningStreamsPerPeer())
                .maxPerfBytesPerPeerPerMinute(c.maxPerfBytesPerPeerPerMinute())
                .maxKnownPeers(c.maxKnownPeers())
                .upgradeRelayed(c.upgradeRelayed())
                .upgradeAttempts(c.upgradeAttempts())
                .upgradeRetryDelay(Duration.ofMillis(c.upgradeRetryDelayMillis()))
                .dialPrivateAnnounced(c.dialPrivateAnnounced())
                .streamMux(c.streamMux())
                .maxStreamsPerConnection(c.maxStreamsPerConnection())
                .muxWindowBytes(c.muxWindowBytes())
                .muxConnectionWindowBytes(c.muxConnectionWindowBytes())
                .keepAlive(Duration.ofMillis(c.keepAliveMillis()))
                .build();
    }

    private static List<Endpoint> parse(List<String> texts, boolean fromFrameworkProperty) {
        List<Endpoint> out = new ArrayList<>();
        for (String t : texts) {
            try {
                Endpoint e = Endpoint.parse(t);
                if (!out.contains(e)) {
                    out.add(e);
                }
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException((fromFrameworkProperty ? "framework property kizuna.listen"
                        : "configuration " + ConnectionManagerImpl.PID + " listen") + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** @return a builder with the defaults */
    static Builder builder() {
        return new Builder();
    }

    /** Builds settings; starts from the defaults. */
    static final class Builder {
        private List<Endpoint> listen = List.of(Endpoint.parse(DEFAULT_LISTEN),
                Endpoint.parse(DEFAULT_LISTEN_QUIC),
                Endpoint.parse(DEFAULT_LISTEN_WEBSOCKET));
        private Duration staggerDelay = Duration.ofMillis(DEFAULT_STAGGER_DELAY_MILLIS);
        private Duration connectTimeout = Duration.ofMillis(DEFAULT_CONNECT_TIMEOUT_MILLIS);
        private Duration minConnectTimeout = Duration.ofSeconds(1);
        private int maxConnectionsPerPeer = DEFAULT_MAX_CONNECTIONS_PER_PEER;
        private int maxConnections = DEFAULT_MAX_CONNECTIONS;
        private Duration idleTimeout = Duration.ofSeconds(DEFAULT_IDLE_TIMEOUT_SECONDS);
        private int maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
        private Duration pingTimeout = Duration.ofMillis(DEFAULT_PING_TIMEOUT_MILLIS);
        private Duration openTimeout = Duration.ofMillis(DEFAULT_OPEN_TIMEOUT_MILLIS);
        private long maxPerfBytes = DEFAULT_MAX_PERF_BYTES;
        private int maxStreams = DEFAULT_MAX_STREAMS;
        private int maxStreamsPerPeer = DEFAULT_MAX_STREAMS_PER_PEER;
        private int maxOpeningStreamsPerPeer = DEFAULT_MAX_OPENING_STREAMS_PER_PEER;
        private long maxPerfBytesPerPeerPerMinute = DEFAULT_MAX_PERF_BYTES_PER_PEER_PER_MINUTE;
        private int maxKnownPeers = DEFAULT_MAX_KNOWN_PEERS;
        private Duration failureMemory = Duration.ofMinutes(10);
        private Duration closeTimeout = Duration.ofSeconds(3);
        private String jmxName = DEFAULT_JMX_NAME;
        private IntFunction<ByteBuffer> frameAllocator = ByteBuffer::allocate;
        private boolean upgradeRelayed = DEFAULT_UPGRADE_RELAYED;
        private int upgradeAttempts = DEFAULT_UPGRADE_ATTEMPTS;
        private Duration upgradeRetryDelay = Duration.ofMillis(DEFAULT_UPGRADE_RETRY_DELAY_MILLIS);
        private boolean dialPrivateAnnounced = DEFAULT_DIAL_PRIVATE_ANNOUNCED;
        private boolean streamMux = DEFAULT_STREAM_MUX;
        private int maxStreamsPerConnection = DEFAULT_MAX_STREAMS_PER_CONNECTION;
        private int muxWindowBytes = DEFAULT_MUX_WINDOW_BYTES;
        private int muxConnectionWindowBytes = DEFAULT_MUX_CONNECTION_WINDOW_BYTES;
        private Duration keepAlive = Duration.ofMillis(DEFAULT_KEEP_ALIVE_MILLIS);

        Builder listen(List<Endpoint> v) {
            listen = v;
            return this;
        }

        Builder listen(String... v) {
            listen = java.util.Arrays.stream(v).map(Endpoint::parse).toList();
            return this;
        }

        Builder staggerDelay(Duration v) {
            staggerDelay = v;
            return this;
        }

        Builder connectTimeout(Duration v) {
            connectTimeout = v;
            return this;
        }

        Builder minConnectTimeout(Duration v) {
            minConnectTimeout = v;
            return this;
        }

        Builder maxConnectionsPerPeer(int v) {
            maxConnectionsPerPeer = v;
            return this;
        }

        Builder maxConnections(int v) {
            maxConnections = v;
            return this;
        }

        Builder idleTimeout(Duration v) {
            idleTimeout = v;
            return this;
        }

        Builder maxFrameSize(int v) {
            maxFrameSize = v;
            return this;
        }

        Builder pingTimeout(Duration v) {
            pingTimeout = v;
            return this;
        }

        Builder openTimeout(Duration v) {
            openTimeout = v;
            return this;
        }

        Builder maxPerfBytes(long v) {
            maxPerfBytes = v;
            return this;
        }

        Builder maxStreams(int v) {
            maxStreams = v;
            return this;
        }

        Builder maxStreamsPerPeer(int v) {
            maxStreamsPerPeer = v;
            return this;
        }

        Builder maxOpeningStreamsPerPeer(int v) {
            maxOpeningStreamsPerPeer = v;
            return this;
        }

        Builder maxPerfBytesPerPeerPerMinute(long v) {
            maxPerfBytesPerPeerPerMinute = v;
            return this;
        }

        Builder maxKnownPeers(int v) {
            maxKnownPeers = v;
            return this;
        }

        Builder failureMemory(Duration v) {
            failureMemory = v;
            return this;
        }

        Builder closeTimeout(Duration v) {
            closeTimeout = v;
            return this;
        }

        Builder jmxName(String v) {
            jmxName = v;
            return this;
        }

        Builder frameAllocator(IntFunction<ByteBuffer> v) {
            frameAllocator = v;
            return this;
        }

        Builder upgradeRelayed(boolean v) {
            upgradeRelayed = v;
            return this;
        }

        Builder upgradeAttempts(int v) {
            upgradeAttempts = v;
            return this;
        }

        Builder upgradeRetryDelay(Duration v) {
            upgradeRetryDelay = v;
            return this;
        }

        Builder dialPrivateAnnounced(boolean v) {
            dialPrivateAnnounced = v;
            return this;
        }

        Builder streamMux(boolean v) {
            streamMux = v;
            return this;
        }

        Builder maxStreamsPerConnection(int v) {
            maxStreamsPerConnection = v;
            return this;
        }

        Builder muxWindowBytes(int v) {
            muxWindowBytes = v;
            return this;
        }

        Builder muxConnectionWindowBytes(int v) {
            muxConnectionWindowBytes = v;
            return this;
        }

        Builder keepAlive(Duration v) {
            keepAlive = v;
            return this;
        }

        ManagerSettings build() {
            MuxSettings mux;
            try {
                mux = new MuxSettings(muxWindowBytes, muxConnectionWindowBytes, maxStreamsPerConnection, keepAlive,
                        closeTimeout);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("configuration " + ConnectionManagerImpl.PID + ": "
                        + e.getMessage(), e);
            }
            return new ManagerSettings(listen, staggerDelay, connectTimeout, minConnectTimeout,
                    maxConnectionsPerPeer, maxConnections, idleTimeout, maxFrameSize, pingTimeout, openTimeout,
                    maxPerfBytes, maxStreams, maxStreamsPerPeer, maxOpeningStreamsPerPeer,
                    maxPerfBytesPerPeerPerMinute, maxKnownPeers, failureMemory, closeTimeout, jmxName, frameAllocator,
                    upgradeRelayed, upgradeAttempts, upgradeRetryDelay, dialPrivateAnnounced, streamMux, mux);
        }
    }
}
