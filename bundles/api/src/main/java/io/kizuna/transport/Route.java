package io.kizuna.transport;

import java.time.Duration;

/**
 * A route to a peer through the mesh.
 *
 * @param destination the peer the route leads to
 * @param nextHop     the neighbour to send through
 * @param hops        the number of links to the destination
 * @param cost        the sum of the measured round-trip times along the route
 * @param sequence    the destination's sequence number the route was learned with,
 *                    newer routes carry higher numbers
 */
public record Route(PeerId destination, PeerId nextHop, int hops, Duration cost, long sequence) {
}
