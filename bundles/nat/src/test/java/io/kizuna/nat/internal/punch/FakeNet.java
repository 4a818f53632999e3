package io.kizuna.nat.internal.punch;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiPredicate;

import io.kizuna.transport.udp.DatagramReceiver;

/**
 * An in-memory UDP network for punch tests: hosts with public addresses, and
 * hosts behind NATs that map (per destination when symmetric) and filter what
 * comes back by the exact address sent to (port-restricted). Nothing touches a
 * real socket.
 */
final class FakeNet implements AutoCloseable {

    final ScheduledExecutorService wire = Executors.newSingleThreadScheduledExecutor();
    private final Map<InetSocketAddress, Host> public_ = new HashMap<>();
    private final Map<InetAddress, Nat> nats = new HashMap<>();
    /** Every datagram sent: (source as the network sees it, destination). */
    final List<InetSocketAddress[]> log = new ArrayList<>();
    /** Decides whether a datagram is lost: (source, destination). */
    volatile BiPredicate<InetSocketAddress, InetSocketAddress> lose = (a, b) -> false;

    static InetSocketAddress at(String ip, int port) {
        try {
            return new InetSocketAddress(InetAddress.getByName(ip), port);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** A NAT with one public IP. */
    final class Nat {
        final InetAddress ip;
        final boolean symmetric;
        int nextPort;
        final Map<String, Integer> mappings = new HashMap<>();
        final Map<Integer, Host> inside = new HashMap<>();
        final Map<Integer, Set<InetSocketAddress>> sentTo = new HashMap<>();

        Nat(String ip, boolean symmetric, int firstPort) {
            this.ip = at(ip, 1).getAddress();
            this.symmetric = symmetric;
            this.nextPort = firstPort;
            nats.put(this.ip, this);
        }

        synchronized InetSocketAddress out(Host h, InetSocketAddress to) {
            String key = h.local + (symmetric ? "->" + to : "");
            int port = mappings.computeIfAbsent(key, k -> nextPort++);
            inside.put(port, h);
            sentTo.computeIfAbsent(port, p -> new HashSet<>()).add(to);
            return new InetSocketAddress(ip, port);
        }

        synchronized Host in(InetSocketAddress from, int port) {
            Set<InetSocketAddress> allowed = sentTo.get(port);
            return allowed != null && allowed.contains(from) ? inside.get(port) : null;
        }
    }

    Nat nat(String ip, boolean symmetric, int firstPort) {
        return new Nat(ip, symmetric, firstPort);
    }

    /** A host: public when {@code nat} is null. */
    final class Host implements ProbeSocket {
        final InetSocketAddress local;
        final Nat nat;
        volatile DatagramReceiver receiver;

        Host(InetSocketAddress local, Nat nat) {
            this.local = local;
            this.nat = nat;
            if (nat == null) {
                synchronized (FakeNet.this) {
                    public_.put(local, this);
                }
            }
        }

        @Override
        public InetSocketAddress localAddress() {
            return local;
        }

        @Override
        public CompletionStage<Void> send(InetSocketAddress to, byte[] data) {
            if (data.length == 0 || data.length > 1200 || (data[0] & 0xFF) > 63) {
                throw new IllegalArgumentException("not a shared datagram");
            }
            InetSocketAddress source = nat == null ? local : nat.out(this, to);
            synchronized (FakeNet.this) {
                log.add(new InetSocketAddress[] {source, to});
            }
            if (!lose.test(source, to)) {
                byte[] copy = data.clone();
                wire.schedule(() -> deliver(source, to, copy), 1, TimeUnit.MILLISECONDS);
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public Runnable receive(DatagramReceiver r) {
            receiver = r;
            return () -> receiver = null;
        }
    }

    Host host(String ip, int port, Nat nat) {
        return new Host(at(ip, port), nat);
    }

    private void deliver(InetSocketAddress from, InetSocketAddress to, byte[] data) {
        Host h;
        Nat n = nats.get(to.getAddress());
        if (n != null) {
            h = n.in(from, to.getPort());
        } else {
            synchronized (this) {
                h = public_.get(to);
            }
        }
        DatagramReceiver r = h == null ? null : h.receiver;
        if (r != null) {
            r.received(from, data);
        }
    }

    /** @return every destination a datagram was sent to */
    synchronized List<InetSocketAddress> destinations() {
        return log.stream().map(e -> e[1]).toList();
    }

    @Override
    public void close() {
        wire.shutdownNow();
    }
}
