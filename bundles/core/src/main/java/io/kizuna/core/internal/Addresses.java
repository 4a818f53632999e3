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
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

import io.kizuna.transport.Endpoint;

/**
 * Turns a bound endpoint into the endpoints peers can dial: a wildcard bind
 * address is announced as 127.0.0.1 plus the host's addresses that are neither
 * loopback nor link-local (IPv4 only for 0.0.0.0; both families for ::).
 *
 * <p>Listing the host's interfaces takes system calls, so it runs on the
 * manager's timer, never on the caller's thread (which may be a transport's
 * event loop): callers get the last list, refreshed in the background when it
 * is older than ten seconds.
 */
final class Addresses {

    private static final int MAX_ADDRESSES = 16;
    private static final long REFRESH_NANOS = 10_000_000_000L;

    private final Executor refresher;
    private volatile List<InetAddress> cached = List.of();
    private volatile long cachedAt;
    private final AtomicBoolean refreshing = new AtomicBoolean();

    Addresses(Executor refresher) {
        this.refresher = refresher;
        refreshLater();
    }

    List<Endpoint> advertise(Endpoint bound) {
        InetAddress a = bound.address().getAddress();
        if (!a.isAnyLocalAddress()) {
            return List.of(bound);
        }
        if (System.nanoTime() - cachedAt > REFRESH_NANOS) {
            refreshLater();
        }
        boolean v4Only = a instanceof Inet4Address;
        List<Endpoint> out = new ArrayList<>();
        out.add(new Endpoint(bound.protocol(), new InetSocketAddress(loopback4(), bound.address().getPort())));
        for (InetAddress ip : cached) {
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

    private void refreshLater() {
        if (!refreshing.compareAndSet(false, true)) {
            return;
        }
        try {
            refresher.execute(() -> {
                try {
                    cached = hostAddresses();
                    cachedAt = System.nanoTime();
                } finally {
                    refreshing.set(false);
                }
            });
        } catch (RejectedExecutionException stopped) {
            refreshing.set(false);
        }
    }

    /** Lists the host's addresses now (blocking: system calls). */
    static List<InetAddress> hostAddresses() {
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
        return List.copyOf(found);
    }

    static InetAddress loopback4() {
        try {
            return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
