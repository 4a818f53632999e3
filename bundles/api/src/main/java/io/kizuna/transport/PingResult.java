package io.kizuna.transport;

import java.time.Duration;

/**
 * One ping round trip.
 *
 * @param peer     the peer that answered
 * @param protocol the transport that carried it
 * @param remote   the remote endpoint of the connection used
 * @param rtt      the measured round-trip time
 */
public record PingResult(PeerId peer, String protocol, Endpoint remote, Duration rtt) {
}
