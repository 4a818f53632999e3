package io.kizuna.transport;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * A snapshot of one connection.
 *
 * @param id            a random identifier, unique in this process, for logs and commands
 * @param peerId        the authenticated remote peer
 * @param protocol      the transport protocol name
 * @param direction     whether this side dialed or accepted
 * @param localAddress  the local socket address
 * @param remoteAddress the remote socket address
 * @param establishedAt when the handshake completed
 * @param bytesSent     application bytes written so far
 * @param bytesReceived application bytes read so far
 * @param rtt           the latest round-trip time measured on it, if any
 * @param bandwidth     the latest throughput estimate in bytes per second, if any
 * @param via           the node the connection passes through (a relay: then
 *                      {@code remoteAddress} is the relay's), or empty when direct
 * @param path          how the path was made, when there is more to say than the
 *                      transport: e.g. {@code punched, round 1, 52 ms after relay}
 *                      for a QUIC connection a hole punch set up, or WebRTC's ICE
 *                      pair {@code ice srflx a:1 -> srflx b:2} (1.6.0)
 */
public record ConnectionInfo(
        String id,
        PeerId peerId,
        String protocol,
        Direction direction,
        InetSocketAddress localAddress,
        InetSocketAddress remoteAddress,
        Instant establishedAt,
        long bytesSent,
        long bytesReceived,
        Optional<Duration> rtt,
        Optional<Long> bandwidth,
        Optional<Endpoint.Hop> via,
        Optional<String> path) {

    /** Checks the parts. */
    public ConnectionInfo {
        java.util.Objects.requireNonNull(via, "via");
        java.util.Objects.requireNonNull(path, "path");
    }

    /**
     * A snapshot of a connection, with nothing said of how its path was made.
     *
     * @param id            a random identifier
     * @param peerId        the authenticated remote peer
     * @param protocol      the transport protocol name
     * @param direction     whether this side dialed or accepted
     * @param localAddress  the local socket address
     * @param remoteAddress the remote socket address
     * @param establishedAt when the handshake completed
     * @param bytesSent     application bytes written so far
     * @param bytesReceived application bytes read so far
     * @param rtt           the latest round-trip time, if any
     * @param bandwidth     the latest throughput estimate in bytes per second, if any
     * @param via           the node the connection passes through, or empty when direct
     */
    public ConnectionInfo(String id, PeerId peerId, String protocol, Direction direction,
            InetSocketAddress localAddress, InetSocketAddress remoteAddress, Instant establishedAt,
            long bytesSent, long bytesReceived, Optional<Duration> rtt, Optional<Long> bandwidth,
            Optional<Endpoint.Hop> via) {
        this(id, peerId, protocol, direction, localAddress, remoteAddress, establishedAt, bytesSent, bytesReceived,
                rtt, bandwidth, via, Optional.empty());
    }

    /**
     * @param how how the path was made, or empty
     * @return this snapshot saying so
     */
    public ConnectionInfo withPath(Optional<String> how) {
        return new ConnectionInfo(id, peerId, protocol, direction, localAddress, remoteAddress, establishedAt,
                bytesSent, bytesReceived, rtt, bandwidth, via, how);
    }

    /**
     * @param measured the latest round-trip time
     * @return this snapshot with that round-trip time
     */
    public ConnectionInfo withRtt(Optional<Duration> measured) {
        return new ConnectionInfo(id, peerId, protocol, direction, localAddress, remoteAddress, establishedAt,
                bytesSent, bytesReceived, measured, bandwidth, via, path);
    }

    /**
     * A snapshot of a direct connection.
     *
     * @param id            a random identifier
     * @param peerId        the authenticated remote peer
     * @param protocol      the transport protocol name
     * @param direction     whether this side dialed or accepted
     * @param localAddress  the local socket address
     * @param remoteAddress the remote socket address
     * @param establishedAt when the handshake completed
     * @param bytesSent     application bytes written so far
     * @param bytesReceived application bytes read so far
     * @param rtt           the latest round-trip time, if any
     * @param bandwidth     the latest throughput estimate in bytes per second, if any
     */
    public ConnectionInfo(String id, PeerId peerId, String protocol, Direction direction,
            InetSocketAddress localAddress, InetSocketAddress remoteAddress, Instant establishedAt,
            long bytesSent, long bytesReceived, Optional<Duration> rtt, Optional<Long> bandwidth) {
        this(id, peerId, protocol, direction, localAddress, remoteAddress, establishedAt, bytesSent, bytesReceived,
                rtt, bandwidth, Optional.empty(), Optional.empty());
    }

    /** @return the endpoint the peer is reached at over this connection, with its hop if relayed */
    public Endpoint remoteEndpoint() {
        return new Endpoint(protocol, remoteAddress, via);
    }

    /** Which side opened a connection. */
    public enum Direction {
        /** This node dialed. */
        OUTBOUND,
        /** The peer dialed. */
        INBOUND
    }
}
