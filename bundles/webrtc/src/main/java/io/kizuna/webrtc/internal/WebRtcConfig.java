package io.kizuna.webrtc.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the WebRTC transport (PID {@value WebRtcTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna WebRTC transport",
        description = "WebRTC DataChannels (SCTP over DTLS over ICE) through libwebrtc; offers, answers and ICE "
                + "candidates are signed by the node key")
@interface WebRtcConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred")
    int kizuna_transport_priority() default WebRtcSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "STUN servers",
            description = "host:port of STUN servers for server-reflexive candidates; none by default, so a node "
                    + "sends no traffic of its own accord")
    String[] stunServers() default {};

    @AttributeDefinition(name = "TURN servers",
            description = "host:port of TURN servers (UDP) for relayed candidates")
    String[] turnServers() default {};

    @AttributeDefinition(name = "TURN user name")
    String turnUsername() default "";

    @AttributeDefinition(name = "TURN password", type = org.osgi.service.metatype.annotations.AttributeType.PASSWORD)
    String _turnPassword() default "";

    @AttributeDefinition(name = "Relay only",
            description = "Use only TURN-relayed candidates (ICE transport policy 'relay')")
    boolean relayOnly() default false;

    @AttributeDefinition(name = "Candidate networks",
            description = "CIDR prefixes (e.g. 127.0.0.0/8); candidates outside all of them are neither sent nor "
                    + "accepted. Empty: every candidate")
    String[] candidateNetworks() default {};

    @AttributeDefinition(name = "Loopback candidates",
            description = "For peers on one machine (tests, benchmarks, a local browser): ICE sockets are bound "
                    + "to the any address and host candidates announced as 127.0.0.1; only loopback candidates "
                    + "are sent or accepted, so no packet leaves the host")
    boolean loopbackCandidates() default false;

    @AttributeDefinition(name = "Maximum connections",
            description = "Peer connections in both directions, negotiations included")
    int maxConnections() default WebRtcSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Streams per connection",
            description = "DataChannels open on one peer connection at once")
    int maxStreamsPerConnection() default WebRtcSettings.DEFAULT_MAX_STREAMS;

    @AttributeDefinition(name = "Handshake timeout (ms)",
            description = "Signaling, ICE, DTLS and the first DataChannel must complete within this")
    int handshakeTimeoutMillis() default WebRtcSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Maximum message size (bytes)",
            description = "Largest DataChannel message sent or accepted; larger incoming messages close the stream")
    int maxMessageSize() default WebRtcSettings.DEFAULT_MAX_MESSAGE_SIZE;

    @AttributeDefinition(name = "Receive window (bytes)",
            description = "Bytes a peer may send on a stream ahead of the application reading them")
    int receiveWindow() default WebRtcSettings.DEFAULT_RECEIVE_WINDOW;

    @AttributeDefinition(name = "Write high-water mark (bytes)",
            description = "A write is held back while the DataChannel's bufferedAmount is above this")
    int writeHighWaterMark() default WebRtcSettings.DEFAULT_WRITE_HIGH_WATER_MARK;

    @AttributeDefinition(name = "Write low-water mark (bytes)",
            description = "A held-back write resumes once bufferedAmount drops below this")
    int writeLowWaterMark() default WebRtcSettings.DEFAULT_WRITE_LOW_WATER_MARK;

    @AttributeDefinition(name = "Maximum signaling message (bytes)",
            description = "Largest signaling message accepted (offer, answer, candidate)")
    int maxSignalingMessage() default WebRtcSettings.DEFAULT_MAX_SIGNALING_MESSAGE;

    @AttributeDefinition(name = "Maximum candidates",
            description = "Remote ICE candidates accepted per peer connection")
    int maxCandidates() default WebRtcSettings.DEFAULT_MAX_CANDIDATES;

    @AttributeDefinition(name = "Close timeout (ms)",
            description = "How long a graceful close waits for buffered data to leave, and a stream whose fin "
                    + "ended the exchange waits for the peer to close it")
    int closeTimeoutMillis() default WebRtcSettings.DEFAULT_CLOSE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Native library",
            description = "Name of the JNI library loaded from this bundle (webrtc-java's linux-x86_64 build is "
                    + "embedded under the default name). A name that does not load leaves the transport "
                    + "registered but unavailable, with the reason")
    String nativeLibrary() default WebRtcSettings.DEFAULT_NATIVE_LIBRARY;

    @AttributeDefinition(name = "Accept signaled connections",
            description = "A peer the connection manager is already connected to (through a relay, say) may set "
                    + "up WebRTC by signaling over that connection, without a webrtc endpoint on this node; the "
                    + "manager announces this in its hello")
    boolean acceptSignaled() default WebRtcSettings.DEFAULT_ACCEPT_SIGNALED;

    @AttributeDefinition(name = "Pending signaling connections",
            description = "Connections to a webrtc endpoint that have not completed their WebSocket upgrade; more "
                    + "are closed at once. Each must upgrade within the handshake timeout")
    int maxPendingSignaling() default WebRtcSettings.DEFAULT_MAX_PENDING_SIGNALING;

    @AttributeDefinition(name = "Allowed origins",
            description = "Browser origins (e.g. https://app.example.org) whose pages may signal to a webrtc "
                    + "endpoint, besides the endpoint's own page reached by its IP address; * allows every "
                    + "origin. Requests without an Origin header (nodes, tools) are always served")
    String[] allowedOrigins() default {};

    @AttributeDefinition(name = "Connections per peer",
            description = "Peer connections, negotiations included, that one peer may set up by signaling over "
                    + "the connection the manager has to it; more are refused with a signed reject that says why")
    int maxConnectionsPerPeer() default WebRtcSettings.DEFAULT_MAX_CONNECTIONS_PER_PEER;
}
