package io.kizuna.transport;

import java.net.InetAddress;

/**
 * Where an IP address can be reached from, by its range: what a node checks
 * before it sends packets to an address a peer gave it (an endpoint in a HELLO,
 * a hole-punching candidate), so that a peer cannot make it probe or dial its
 * own host, its LAN or a multicast group.
 *
 * <p>Only unicast scopes ({@link #PUBLIC}, {@link #LOOPBACK}, {@link #PRIVATE},
 * {@link #LINK_LOCAL}, {@link #SHARED}) can be a peer's address at all.
 *
 * @since 1.5.0
 */
public enum AddressScope {
    /** Any address not in one of the ranges below: reachable over the internet. */
    PUBLIC,
    /** 127.0.0.0/8, ::1: this host. */
    LOOPBACK,
    /** RFC 1918 (10/8, 172.16/12, 192.168/16) and unique local IPv6 (fc00::/7): a LAN. */
    PRIVATE,
    /** 169.254.0.0/16, fe80::/10: one link. */
    LINK_LOCAL,
    /** 100.64.0.0/10, RFC 6598: the inside of a carrier-grade NAT. */
    SHARED,
    /** 224.0.0.0/4, ff00::/8. */
    MULTICAST,
    /** 0.0.0.0, ::, and 0.0.0.0/8 ("this network"). */
    UNSPECIFIED,
    /** 255.255.255.255. */
    BROADCAST,
    /** 240.0.0.0/4 but broadcast: reserved, not routed. */
    RESERVED;

    /**
     * @param address an address (an IPv4-mapped IPv6 address is classified as its IPv4 address)
     * @return its scope
     */
    public static AddressScope of(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length == 16 && isV4Mapped(a)) {
            a = new byte[] {a[12], a[13], a[14], a[15]};
        }
        if (a.length == 4) {
            int b0 = a[0] & 0xFF;
            int b1 = a[1] & 0xFF;
            if (b0 == 0) {
                return UNSPECIFIED;
            }
            if (b0 == 127) {
                return LOOPBACK;
            }
            if (b0 == 10 || b0 == 172 && (b1 & 0xF0) == 16 || b0 == 192 && b1 == 168) {
                return PRIVATE;
            }
            if (b0 == 169 && b1 == 254) {
                return LINK_LOCAL;
            }
            if (b0 == 100 && (b1 & 0xC0) == 64) {
                return SHARED;
            }
            if ((b0 & 0xF0) == 224) {
                return MULTICAST;
            }
            if ((a[0] & a[1] & a[2] & a[3]) == (byte) 0xFF) {
                return BROADCAST;
            }
            return b0 >= 240 ? RESERVED : PUBLIC;
        }
        if (address.isAnyLocalAddress()) {
            return UNSPECIFIED;
        }
        if (address.isLoopbackAddress()) {
            return LOOPBACK;
        }
        if ((a[0] & 0xFE) == 0xFC) {
            return PRIVATE;
        }
        if (address.isLinkLocalAddress()) {
            return LINK_LOCAL;
        }
        if (address.isMulticastAddress()) {
            return MULTICAST;
        }
        return PUBLIC;
    }

    /** @return whether an address of this scope can be a peer's address (a unicast scope) */
    public boolean unicast() {
        return this != MULTICAST && this != UNSPECIFIED && this != BROADCAST && this != RESERVED;
    }

    private static boolean isV4Mapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xFF && a[11] == (byte) 0xFF;
    }
}
