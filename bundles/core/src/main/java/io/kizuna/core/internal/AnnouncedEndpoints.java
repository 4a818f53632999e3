package io.kizuna.core.internal;

import java.net.InetSocketAddress;
import java.util.List;

import io.kizuna.transport.AddressScope;
import io.kizuna.transport.Endpoint;

/**
 * Which endpoints of a peer's HELLO the manager keeps, to dial them later for a
 * bare PeerId or a new stream. A peer chooses what it announces, so without a
 * check any peer on the internet could make this node connect into its own host
 * or LAN (10.0.0.1:22, 127.0.0.1:6379) by announcing it and waiting for a dial.
 *
 * <p>Public endpoints are kept. A loopback, private, link-local or shared
 * (CGNAT) one is kept only when the connection that carried the HELLO came from
 * an address of the same scope, since such a peer is inside that network
 * already (two nodes on one host, whose connections come over 127.0.0.1, keep
 * each other's loopback endpoints; peers on one LAN keep each other's LAN
 * endpoints), or when {@code dialPrivateAnnounced} is set. Multicast,
 * unspecified, broadcast and reserved endpoints are never kept.
 */
final class AnnouncedEndpoints {

    private AnnouncedEndpoints() {
    }

    /**
     * @param announced   the endpoints the HELLO listed
     * @param from        the remote address of the connection that carried it; null when unknown
     * @param allowPrivate {@code dialPrivateAnnounced}
     * @return the endpoints to keep, in their order
     */
    static List<Endpoint> keep(List<Endpoint> announced, InetSocketAddress from, boolean allowPrivate) {
        AddressScope fromScope = from == null || from.isUnresolved() ? null : AddressScope.of(from.getAddress());
        return announced.stream().filter(e -> allowed(e, fromScope, allowPrivate)).toList();
    }

    private static boolean allowed(Endpoint e, AddressScope fromScope, boolean allowPrivate) {
        InetSocketAddress a = e.address();
        if (a.isUnresolved()) {
            return false;
        }
        AddressScope scope = AddressScope.of(a.getAddress());
        return scope == AddressScope.PUBLIC || scope.unicast() && (allowPrivate || scope == fromScope);
    }
}
