package io.kizuna.relay.internal;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Which source addresses a relay serves. Loopback, private (RFC 1918, RFC 4193
 * unique local), carrier-grade NAT (RFC 6598), link-local and unspecified
 * addresses are refused unless configured: a public relay has no business with
 * peers that reach it from inside its own networks, and it never dials out to
 * addresses a dialer names (circuits only go to peers that connected to it).
 */
final class AddressPolicy {

    private AddressPolicy() {
    }

    /**
     * @param a an address
     * @return whether it is loopback, private, CGNAT, link-local, multicast or unspecified
     */
    static boolean isPrivate(InetAddress a) {
        if (a.isLoopbackAddress() || a.isSiteLocalAddress() || a.isLinkLocalAddress() || a.isAnyLocalAddress()
                || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            return (b[0] & 0xff) == 100 && (b[1] & 0xc0) == 64; // 100.64.0.0/10
        }
        if (a instanceof Inet6Address) {
            return (b[0] & 0xfe) == 0xfc; // fc00::/7
        }
        return false;
    }
}
