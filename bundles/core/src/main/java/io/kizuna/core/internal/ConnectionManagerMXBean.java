package io.kizuna.core.internal;

import java.util.Map;

/**
 * The connection manager's counters over JMX, registered as
 * {@code io.kizuna:type=ConnectionManager}. Public only because JMX requires
 * it; the package is private to the bundle.
 */
public interface ConnectionManagerMXBean {

    /** @return this node's PeerId */
    String getPeerId();

    /** @return pooled connections established since start, both directions */
    long getEstablished();

    /** @return dial attempts that failed, one per transport tried */
    long getFailed();

    /** @return pooled connections open now */
    long getActive();

    /** @return application bytes sent, pooled connections and streams */
    long getBytesSent();

    /** @return application bytes received, pooled connections and streams */
    long getBytesReceived();

    /** @return mean measured ping round-trip time in milliseconds, or -1 when none was measured */
    double getAverageLatencyMillis();

    /** @return pooled connections established per transport protocol */
    Map<String, Long> getProtocolUsage();

    /** @return connections closed because the peer broke the control protocol */
    long getProtocolViolations();

    /**
     * @return streams refused because their peer was at maxOpeningStreamsPerPeer,
     *         maxStreamsPerPeer or maxPerfBytesPerPeerPerMinute
     */
    long getPerPeerLimitRefusals();

    /**
     * @return endpoints peers announced in their HELLO that are not kept for dialing: in a private,
     *         loopback, link-local or CGNAT network the connection to the peer did not come from
     *         (see {@code dialPrivateAnnounced}), or multicast, unspecified or broadcast
     */
    long getAnnouncedEndpointsDropped();

    /** @return peers whose listen endpoints are remembered */
    int getKnownPeers();

    /** @return the endpoints this node announces */
    String[] getListenEndpoints();

    /** @return the bound transports: name, priority, availability */
    String[] getTransports();
}
