package io.kizuna.webrtc.internal;

import java.util.Arrays;
import java.util.List;

/**
 * The WebRTC transport's settings, checked. Built from {@link WebRtcConfig} inside
 * the framework and directly in tests.
 *
 * @param priority               the transport's priority
 * @param stunServers            host:port of STUN servers
 * @param turnServers            host:port of TURN servers
 * @param turnUsername           TURN user name
 * @param turnPassword           TURN password
 * @param relayOnly              ICE transport policy "relay"
 * @param candidateNetworks      networks candidates must lie in (empty: any)
 * @param loopbackCandidates     announce host candidates on 127.0.0.1 only, accept only loopback ones
 * @param maxConnections         peer connections, both directions
 * @param maxStreams             DataChannels per peer connection
 * @param handshakeTimeoutMillis signaling + ICE + DTLS + first DataChannel
 * @param maxMessageSize         largest DataChannel message
 * @param receiveWindow          bytes a peer may send ahead of the reader, per stream
 * @param writeHighWaterMark     bufferedAmount above which writes wait
 * @param writeLowWaterMark      bufferedAmount below which waiting writes resume
 * @param maxSignalingMessage    largest signaling message
 * @param maxCandidates          remote candidates per peer connection
 * @param closeTimeoutMillis     graceful close wait
 * @param nativeLibrary          JNI library name
 * @param acceptSignaled         accept peer connections signaled over the manager's connections, with
 *                               no webrtc endpoint of this node's own
 * @param maxPendingSignaling    connections to a signaling endpoint waiting for their WebSocket upgrade
 * @param allowedOrigins         browser origins served besides the endpoint's own page ({@code *}: all)
 * @param maxConnectionsPerPeer  peer connections, negotiations included, a peer may set up by signaling over
 *                               the manager's connection to it
 */
record WebRtcSettings(
        int priority,
        List<String> stunServers,
        List<String> turnServers,
        String turnUsername,
        String turnPassword,
        boolean relayOnly,
        List<Cidr> candidateNetworks,
        boolean loopbackCandidates,
        int maxConnections,
        int maxStreams,
        int handshakeTimeoutMillis,
        int maxMessageSize,
        int receiveWindow,
        int writeHighWaterMark,
        int writeLowWaterMark,
        int maxSignalingMessage,
        int maxCandidates,
        int closeTimeoutMillis,
        String nativeLibrary,
        boolean acceptSignaled,
        int maxPendingSignaling,
        List<String> allowedOrigins,
        int maxConnectionsPerPeer) {

    /** Below TCP and QUIC: WebRTC costs a signaling round trip and is slower on an open path. */
    static final int DEFAULT_PRIORITY = 90;
    /** A peer already connected (through a relay, say) may set up WebRTC with this node. */
    static final boolean DEFAULT_ACCEPT_SIGNALED = true;
    static final int DEFAULT_MAX_CONNECTIONS = 256;
    static final int DEFAULT_MAX_STREAMS = 64;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    /** libwebrtc and browsers accept 256 KiB; 64 KiB keeps a message small against head-of-line blocking. */
    static final int DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024;
    static final int DEFAULT_RECEIVE_WINDOW = 1024 * 1024;
    static final int DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;
    static final int DEFAULT_WRITE_LOW_WATER_MARK = 256 * 1024;
    static final int DEFAULT_MAX_SIGNALING_MESSAGE = 64 * 1024;
    static final int DEFAULT_MAX_CANDIDATES = 64;
    static final int DEFAULT_CLOSE_TIMEOUT_MILLIS = 2_000;
    static final String DEFAULT_NATIVE_LIBRARY = "webrtc-java";
    /** Slowloris-proof: beyond these, a signaling endpoint's new connections are closed at once. */
    static final int DEFAULT_MAX_PENDING_SIGNALING = 64;
    /** As many as the manager pools per peer: an upgrade and its retries fit, a flood from one peer does not. */
    static final int DEFAULT_MAX_CONNECTIONS_PER_PEER = 4;
    /** libwebrtc's own ceiling for a DataChannel message (its SDP a=max-message-size). */
    static final int LIBWEBRTC_MAX_MESSAGE_SIZE = 256 * 1024;

    /** Checks every value. */
    WebRtcSettings {
        positive("maxConnections", maxConnections);
        positive("maxStreamsPerConnection", maxStreams);
        positive("handshakeTimeoutMillis", handshakeTimeoutMillis);
        positive("maxMessageSize", maxMessageSize);
        positive("receiveWindow", receiveWindow);
        positive("writeHighWaterMark", writeHighWaterMark);
        positive("writeLowWaterMark", writeLowWaterMark);
        positive("maxSignalingMessage", maxSignalingMessage);
        positive("maxCandidates", maxCandidates);
        positive("closeTimeoutMillis", closeTimeoutMillis);
        positive("maxPendingSignaling", maxPendingSignaling);
        positive("maxConnectionsPerPeer", maxConnectionsPerPeer);
        if (maxMessageSize > LIBWEBRTC_MAX_MESSAGE_SIZE) {
            throw new IllegalArgumentException("webrtc configuration: maxMessageSize " + maxMessageSize
                    + " is above libwebrtc's limit of " + LIBWEBRTC_MAX_MESSAGE_SIZE + " bytes");
        }
        if (receiveWindow < maxMessageSize) {
            throw new IllegalArgumentException("webrtc configuration: receiveWindow " + receiveWindow
                    + " must be at least maxMessageSize " + maxMessageSize);
        }
        if (writeLowWaterMark > writeHighWaterMark) {
            throw new IllegalArgumentException("webrtc configuration: writeLowWaterMark " + writeLowWaterMark
                    + " is above writeHighWaterMark " + writeHighWaterMark);
        }
        if (nativeLibrary == null || nativeLibrary.isBlank()) {
            throw new IllegalArgumentException("webrtc configuration: nativeLibrary must be set");
        }
        stunServers = List.copyOf(stunServers);
        turnServers = List.copyOf(turnServers);
        candidateNetworks = List.copyOf(candidateNetworks);
        allowedOrigins = List.copyOf(allowedOrigins);
        turnUsername = turnUsername == null ? "" : turnUsername;
        turnPassword = turnPassword == null ? "" : turnPassword;
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("webrtc configuration: " + name + " must be positive, not " + value);
        }
    }

    /** @return the defaults, as the configuration's */
    static WebRtcSettings defaults() {
        return new WebRtcSettings(DEFAULT_PRIORITY, List.of(), List.of(), "", "", false, List.of(), false,
                DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_STREAMS, DEFAULT_HANDSHAKE_TIMEOUT_MILLIS,
                DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_RECEIVE_WINDOW, DEFAULT_WRITE_HIGH_WATER_MARK,
                DEFAULT_WRITE_LOW_WATER_MARK, DEFAULT_MAX_SIGNALING_MESSAGE, DEFAULT_MAX_CANDIDATES,
                DEFAULT_CLOSE_TIMEOUT_MILLIS, DEFAULT_NATIVE_LIBRARY, DEFAULT_ACCEPT_SIGNALED,
                DEFAULT_MAX_PENDING_SIGNALING, List.of(), DEFAULT_MAX_CONNECTIONS_PER_PEER);
    }

    /**
     * @param c the configuration
     * @return the checked settings
     */
    static WebRtcSettings from(WebRtcConfig c) {
        return new WebRtcSettings(c.kizuna_transport_priority(), list(c.stunServers()), list(c.turnServers()),
                c.turnUsername(), c._turnPassword(), c.relayOnly(),
                list(c.candidateNetworks()).stream().map(Cidr::parse).toList(), c.loopbackCandidates(),
                c.maxConnections(), c.maxStreamsPerConnection(), c.handshakeTimeoutMillis(), c.maxMessageSize(),
                c.receiveWindow(), c.writeHighWaterMark(), c.writeLowWaterMark(), c.maxSignalingMessage(),
                c.maxCandidates(), c.closeTimeoutMillis(), c.nativeLibrary(), c.acceptSignaled(),
                c.maxPendingSignaling(), list(c.allowedOrigins()), c.maxConnectionsPerPeer());
    }

    /** The values of a list key; one value may hold several, comma-separated, as a .cfg file line gives them. */
    static List<String> list(String[] values) {
        return values == null ? List.of()
                : Arrays.stream(values).flatMap(v -> Arrays.stream(v.split(","))).map(String::trim)
                        .filter(s -> !s.isEmpty()).toList();
    }

    /**
     * @param networks the candidate networks
     * @return a copy with other candidate networks
     */
    WebRtcSettings withCandidateNetworks(List<Cidr> networks) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                networks, loopbackCandidates, maxConnections, maxStreams, handshakeTimeoutMillis, maxMessageSize, receiveWindow,
                writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates, closeTimeoutMillis,
                nativeLibrary, acceptSignaled, maxPendingSignaling, allowedOrigins, maxConnectionsPerPeer);
    }

    /**
     * @param loopback whether to announce and accept loopback candidates only
     * @return a copy
     */
    WebRtcSettings withLoopbackCandidates(boolean loopback) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                candidateNetworks, loopback, maxConnections, maxStreams, handshakeTimeoutMillis, maxMessageSize,
                receiveWindow, writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates,
                closeTimeoutMillis, nativeLibrary,
                acceptSignaled, maxPendingSignaling, allowedOrigins, maxConnectionsPerPeer);
    }

    /**
     * @param library the JNI library name
     * @return a copy loading another library
     */
    WebRtcSettings withNativeLibrary(String library) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                candidateNetworks, loopbackCandidates, maxConnections, maxStreams, handshakeTimeoutMillis, maxMessageSize,
                receiveWindow, writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates,
                closeTimeoutMillis, library, acceptSignaled, maxPendingSignaling, allowedOrigins, maxConnectionsPerPeer);
    }

    /**
     * @param stun     STUN servers
     * @param turn     TURN servers
     * @param user     TURN user
     * @param password TURN password
     * @param relay    relay only
     * @return a copy with other ICE servers
     */
    WebRtcSettings withIceServers(List<String> stun, List<String> turn, String user, String password, boolean relay) {
        return new WebRtcSettings(priority, stun, turn, user, password, relay, candidateNetworks, loopbackCandidates, maxConnections,
                maxStreams, handshakeTimeoutMillis, maxMessageSize, receiveWindow, writeHighWaterMark,
                writeLowWaterMark, maxSignalingMessage, maxCandidates, closeTimeoutMillis, nativeLibrary,
                acceptSignaled, maxPendingSignaling, allowedOrigins, maxConnectionsPerPeer);
    }

    /**
     * @param accept whether to accept peer connections signaled over the manager's connections
     * @return a copy
     */
    WebRtcSettings withAcceptSignaled(boolean accept) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                candidateNetworks, loopbackCandidates, maxConnections, maxStreams, handshakeTimeoutMillis,
                maxMessageSize, receiveWindow, writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates,
                closeTimeoutMillis, nativeLibrary, accept, maxPendingSignaling, allowedOrigins, maxConnectionsPerPeer);
    }

    /**
     * @param maxPending     connections waiting for their WebSocket upgrade
     * @param handshakeMillis the handshake timeout, which bounds the wait too
     * @param origins        browser origins served besides the endpoint's own
     * @return a copy
     */
    WebRtcSettings withSignalingGate(int maxPending, int handshakeMillis, List<String> origins) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                candidateNetworks, loopbackCandidates, maxConnections, maxStreams, handshakeMillis,
                maxMessageSize, receiveWindow, writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates,
                closeTimeoutMillis, nativeLibrary, acceptSignaled, maxPending, origins, maxConnectionsPerPeer);
    }

    /**
     * @param perPeer peer connections a peer may set up by signaling over the manager's connection
     * @return a copy
     */
    WebRtcSettings withMaxConnectionsPerPeer(int perPeer) {
        return new WebRtcSettings(priority, stunServers, turnServers, turnUsername, turnPassword, relayOnly,
                candidateNetworks, loopbackCandidates, maxConnections, maxStreams, handshakeTimeoutMillis,
                maxMessageSize, receiveWindow, writeHighWaterMark, writeLowWaterMark, maxSignalingMessage, maxCandidates,
                closeTimeoutMillis, nativeLibrary, acceptSignaled, maxPendingSignaling, allowedOrigins, perPeer);
    }
}
