package io.kizuna.nat.internal.punch;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;

import io.kizuna.transport.AddressScope;

/**
 * Which addresses a punch may send probes to: a pure function of the address
 * and the configuration, applied to every candidate a peer sends and to every
 * peer-reflexive address a probe comes from, so a peer cannot make this node
 * send packets into its own host or LAN, or to a multicast group.
 *
 * <ul>
 * <li>Multicast, unspecified, broadcast and reserved addresses are never
 *     probed: none of them is a peer's unicast address.</li>
 * <li>With {@code networks} configured, an address must lie in one of them.</li>
 * <li>A public address is allowed. A loopback, private (RFC 1918, fc00::/7),
 *     link-local or shared (CGNAT 100.64/10) one only when
 *     {@code allowPrivate} is set (a LAN or a lab) or a configured network
 *     names it explicitly.</li>
 * </ul>
 *
 * <p>The defaults (no networks, no private addresses) are those for the public
 * internet.
 *
 * @param networks     the prefixes candidates must lie in; empty for any
 * @param allowPrivate whether loopback, private, link-local and shared addresses may be probed
 */
record CandidatePolicy(List<Prefix> networks, boolean allowPrivate) {

    /** The default: any public address, nothing else. */
    static final CandidatePolicy PUBLIC_ONLY = new CandidatePolicy(List.of(), false);

    CandidatePolicy {
        networks = List.copyOf(networks);
    }

    /**
     * @param prefixes     configured prefixes such as {@code 203.0.113.0/24}, each item possibly a comma-separated list
     * @param allowPrivate whether non-public unicast addresses are allowed
     * @return the policy
     * @throws IllegalArgumentException naming a prefix that does not parse
     */
    static CandidatePolicy of(String[] prefixes, boolean allowPrivate) {
        // a configuration file's list may arrive as one comma-separated string
        return new CandidatePolicy(java.util.Arrays.stream(prefixes).flatMap(p -> java.util.Arrays.stream(p.split(",")))
                .map(String::trim).filter(s -> !s.isEmpty()).map(Prefix::parse).toList(), allowPrivate);
    }

    /**
     * @param address a candidate's address
     * @return why it may not be probed, or null when it may
     */
    String refusal(InetSocketAddress address) {
        if (address.isUnresolved() || address.getPort() == 0) {
            return "not an IP address and port: " + address;
        }
        InetAddress ip = address.getAddress();
        AddressScope scope = AddressScope.of(ip);
        if (!scope.unicast()) {
            return ip.getHostAddress() + " is " + scope.name().toLowerCase(java.util.Locale.ROOT);
        }
        boolean listed = networks.stream().anyMatch(n -> n.contains(ip));
        if (!networks.isEmpty() && !listed) {
            return ip.getHostAddress() + " is outside the configured networks " + networks;
        }
        if (scope != AddressScope.PUBLIC && !allowPrivate && !listed) {
            return ip.getHostAddress() + " is " + scope.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')
                    + " and private addresses are not allowed";
        }
        return null;
    }

    /**
     * @param address a candidate's address
     * @return whether it may be probed
     */
    boolean allows(InetSocketAddress address) {
        return refusal(address) == null;
    }

    /**
     * An IP prefix written {@code 203.0.113.0/24} or {@code fd00::/8}.
     *
     * @param network the network's address bytes
     * @param bits    the prefix length
     */
    record Prefix(byte[] network, int bits) {

        /**
         * @param text e.g. {@code 10.0.0.0/8}
         * @return the prefix
         * @throws IllegalArgumentException naming what is wrong
         */
        static Prefix parse(String text) {
            int slash = text.indexOf('/');
            if (slash <= 0 || !text.substring(0, slash).matches("[0-9a-fA-F:.]+")) {
                throw new IllegalArgumentException("punch network '" + text + "' is not an IP prefix such as "
                        + "203.0.113.0/24");
            }
            byte[] network;
            try {
                network = InetAddress.getByName(text.substring(0, slash)).getAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("punch network '" + text + "' has no valid address");
            }
            int bits = -1;
            try {
                bits = Integer.parseInt(text.substring(slash + 1));
            } catch (NumberFormatException e) {
                // reported below
            }
            if (bits < 0 || bits > network.length * 8) {
                throw new IllegalArgumentException("punch network '" + text + "' has a prefix length outside 0-"
                        + network.length * 8);
            }
            return new Prefix(network, bits);
        }

        boolean contains(InetAddress address) {
            byte[] a = address.getAddress();
            if (a.length != network.length) {
                return false;
            }
            int full = bits / 8;
            for (int i = 0; i < full; i++) {
                if (a[i] != network[i]) {
                    return false;
                }
            }
            int rest = bits % 8;
            int mask = (0xFF << (8 - rest)) & 0xFF;
            return rest == 0 || ((a[full] ^ network[full]) & mask) == 0;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Prefix p && bits == p.bits && java.util.Arrays.equals(network, p.network);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(network) * 31 + bits;
        }

        @Override
        public String toString() {
            try {
                return InetAddress.getByAddress(network).getHostAddress() + "/" + bits;
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
