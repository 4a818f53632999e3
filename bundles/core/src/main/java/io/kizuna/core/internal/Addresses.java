package io.kizuna.core.internal;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import io.kizuna.transport.Endpoint;

/**
 * Turns a bound endpoint into the endpoints peers can dial: a wildcard bind
 * address is announced as 127.0.0.1 plus the host's addresses that are neither
 * loopback nor link-local (IPv4 only for 0.0.0.0; both families for ::).
 */
final class Addresses {

    private static final int MAX_ADDRESSES = 16;
    private static final long CACHE_NANOS = 10_000_000_000L;

    private List<InetAddress> cached = List.of();
    private long cachedAt;
    private boolean loaded;

    synchronized List<Endpoint> advertise(Endpoint bound) {
        InetAddress a = bound.address().getAddress();
        if (!a.isAnyLocalAddress()) {
            return List.of(bound);
        }
        boolean v4Only = a instanceof Inet4Address;
        List<Endpoint> out = new ArrayList<>();
        out.add(new Endpoint(bound.protocol(), new InetSocketAddress(loopback4(), bound.address().getPort())));
        for (InetAddress ip : hostAddresses()) {
            if (out.size() >= MAX_ADDRESSES) {
                break;
            }
            if (v4Only && !(ip instanceof Inet4Address)) {
                continue;
            }
            out.add(new Endpoint(bound.protocol(), new InetSocketAddress(ip, bound.address().getPort())));
        }
        return out;
    }

    private List<InetAddress> hostAddresses() {
        long now = System.nanoTime();
        if (loaded && now - cachedAt < CACHE_NANOS) {
            return cached;
        }
        List<InetAddress> found = new ArrayList<>();
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (!ni.isUp()) {
                    continue;
                }
                for (InetAddress ip : Collections.list(ni.getInetAddresses())) {
                    if (!ip.isLoopbackAddress() && !ip.isLinkLocalAddress() && !ip.isAnyLocalAddress()
                            && !ip.isMulticastAddress()) {
                        // Drop any IPv6 scope: the address is announced to other hosts.
                        found.add(InetAddress.getByAddress(ip.getAddress()));
                    }
                }
            }
        } catch (SocketException | UnknownHostException | RuntimeException e) {
            System.getLogger(Addresses.class.getName()).log(System.Logger.Level.DEBUG,
                    "cannot list the host's addresses: " + e);
        }
        found.sort((x, y) -> Boolean.compare(!(x instanceof Inet4Address), !(y instanceof Inet4Address)));
        cached = List.copyOf(found);
        cachedAt = now;
        loaded = true;
        return cached;
    }

    static InetAddress loopback4() {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
