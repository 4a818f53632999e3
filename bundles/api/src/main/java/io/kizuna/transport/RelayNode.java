package io.kizuna.transport;

import java.time.Duration;
import java.util.Optional;

/**
 * A relay a node can reserve a slot on.
 *
 * @param address   the relay's authenticated identity and endpoints
 * @param latency   the latest measured round trip to it, if measured
 * @param available whether it reported free capacity at the last check
 */
public record RelayNode(PeerAddress address, Optional<Duration> latency, boolean available) {
}
