package io.kizuna.webrtc.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IP network written {@code 127.0.0.0/8} or {@code fd00::/8}.
 *
 * @param network the network's address bytes
 * @param bits    the prefix length
 */
record Cidr(byte[] network, int bits) {

    /**
     * @param text e.g. {@code 10.0.0.0/8}
     * @return the network
     * @throws IllegalArgumentException naming what is wrong
     */
    static Cidr parse(String text) {
        String t = text.trim();
        int slash = t.indexOf('/');
        if (slash <= 0 || !t.substring(0, slash).matches("[0-9a-fA-F:.]+")) {
            throw new IllegalArgumentException("webrtc configuration: candidate network '" + t
                    + "' is not an IP prefix such as 127.0.0.0/8");
        }
        byte[] address;
        try {
            address = InetAddress.getByName(t.substring(0, slash)).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("webrtc configuration: candidate network '" + t
                    + "' has no valid address");
        }
        int bits;
        try {
            bits = Integer.parseInt(t.substring(slash + 1));
        } catch (NumberFormatException e) {
            bits = -1;
        }
        if (bits < 0 || bits > address.length * 8) {
            throw new IllegalArgumentException("webrtc configuration: candidate network '" + t
                    + "' has a prefix length outside 0-" + address.length * 8);
        }
        return new Cidr(address, bits);
    }

    /**
     * @param address an address
     * @return whether it lies in this network
     */
    boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        if (a.length != network.length) {
            return false;
        }
        for (int i = 0; i < bits; i++) {
            int mask = 0x80 >>> (i % 8);
            if ((a[i / 8] & mask) != (network[i / 8] & mask)) {
                return false;
            }
        }
        return true;
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
