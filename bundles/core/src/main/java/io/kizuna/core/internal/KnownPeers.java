package io.kizuna.core.internal;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;

/**
 * Peers met in a control session, with the endpoints their HELLO announced, so a
 * bare PeerId can be dialed later. Bounded: the least recently used is forgotten.
 */
final class KnownPeers {

    /**
     * @param listen     the endpoints the peer listens on
     * @param transports the transports it has
     * @param seen       when its last HELLO arrived
     * @param observedUs the address it saw this node at
     */
    record Known(List<Endpoint> listen, List<String> transports, Instant seen, Optional<Endpoint> observedUs) {
    }

    private final LinkedHashMap<PeerId, Known> table;

    KnownPeers(int max) {
        this.table = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<PeerId, Known> eldest) {
                return size() > max;
            }
        };
    }

    synchronized void put(PeerId peer, Known known) {
        table.put(peer, known);
    }

    synchronized Optional<Known> get(PeerId peer) {
        return Optional.ofNullable(table.get(peer));
    }

    /** @return the peer's announced endpoints as an address; no endpoints when unknown */
    synchronized PeerAddress address(PeerId peer) {
        Known k = table.get(peer);
        return new PeerAddress(peer, k == null ? List.of() : k.listen());
    }

    synchronized int size() {
        return table.size();
    }
}
