package io.kizuna.relay.internal;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;

/**
 * What the relay's per-source limits count by: an IPv4 address as it is, an
 * IPv6 address by its /64, since one subscriber usually holds a whole /64 and
 * could otherwise pick a fresh address for every stream.
 */
final class SourceKey {

    private static final int IPV6_PREFIX_BYTES = 8;

    private SourceKey() {
    }

    /**
     * @param address the source address the relay saw
     * @return the address the limits count it under
     */
    static InetAddress of(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] prefix = Arrays.copyOf(address.getAddress(), 16);
        Arrays.fill(prefix, IPV6_PREFIX_BYTES, 16, (byte) 0);
        try {
            return InetAddress.getByAddress(prefix);
        } catch (UnknownHostException e) {
            throw new IllegalStateException("16 bytes are an IPv6 address", e);
        }
    }
}
