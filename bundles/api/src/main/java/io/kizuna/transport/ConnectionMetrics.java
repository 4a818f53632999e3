package io.kizuna.transport;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Counters the connection manager keeps, for everything, per transport or per peer.
 *
 * @param established    connections established (dialed and accepted)
 * @param failed         dial attempts that failed
 * @param active         connections open now
 * @param bytesSent      application bytes sent
 * @param bytesReceived  application bytes received
 * @param averageLatency mean of the measured round-trip times, if any were measured
 * @param protocolUsage  connections established per transport protocol
 */
public record ConnectionMetrics(long established, long failed, long active, long bytesSent, long bytesReceived,
        Optional<Duration> averageLatency, Map<String, Long> protocolUsage) {

    /** Freezes the map. */
    public ConnectionMetrics {
        protocolUsage = Map.copyOf(protocolUsage);
    }
}
