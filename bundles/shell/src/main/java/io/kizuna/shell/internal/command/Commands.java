package io.kizuna.shell.internal.command;

import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.TransportException;

/**
 * The {@code kizuna} commands, free of OSGi and Gogo so they can be tested with a
 * fake {@link ConnectionManager}. Each method prints to the stream it is given and
 * throws {@link CommandFailure} (one line, no stack trace) when it cannot do its job.
 */
final class Commands {

    /** Pings sent when no count is given. */
    static final int DEFAULT_PING_COUNT = 4;
    /** The most pings one command sends. */
    static final int MAX_PING_COUNT = 1000;
    /** Bytes moved each way when {@code perf} is given no size. */
    static final long DEFAULT_PERF_BYTES = 64L << 20;
    /** The most bytes {@code perf} moves each way. */
    static final long MAX_PERF_BYTES = 64L << 30;

    /**
     * Timing of the commands.
     *
     * @param connectTimeout   the longest a dial may take before the command gives up
     * @param pingTimeout      the longest one ping may take before it counts as lost
     * @param pingInterval     time between the starts of two pings
     * @param progressInterval time between two progress lines of {@code perf}
     * @param perfStall        how long {@code perf} may go without progress before it gives up
     */
    record Timing(Duration connectTimeout, Duration pingTimeout, Duration pingInterval, Duration progressInterval,
            Duration perfStall) {

        /** What the shell uses. */
        static final Timing DEFAULT = new Timing(Duration.ofMinutes(2), Duration.ofSeconds(10),
                Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofSeconds(60));
    }

    private final ConnectionManager manager;
    private final Supplier<List<TransportView>> transports;
    private final Clock clock;
    private final Timing timing;

    /**
     * @param manager    the connection manager
     * @param transports the transports registered now
     * @param clock      for connection ages
     * @param timing     timeouts and intervals
     */
    Commands(ConnectionManager manager, Supplier<List<TransportView>> transports, Clock clock, Timing timing) {
        this.manager = Objects.requireNonNull(manager, "manager");
        this.transports = Objects.requireNonNull(transports, "transports");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.timing = Objects.requireNonNull(timing, "timing");
    }

    /** Prints this node's PeerId, listen endpoints and the address to give to peers. */
    void id(PrintStream out) {
        PeerAddress local = manager.localAddress();
        Table t = Table.noHeader(2);
        t.row("peer id", local.peerId());
        if (local.endpoints().isEmpty()) {
            t.row("listening", "nothing (no transport is listening)");
        } else {
            for (int i = 0; i < local.endpoints().size(); i++) {
                t.row(i == 0 ? "listening" : "", local.endpoints().get(i));
            }
        }
        t.row("address", local);
        t.print(out);
    }

    /** Prints the registered transports, best first. */
    void transports(PrintStream out) {
        List<TransportView> list = new ArrayList<>(transports.get());
        if (list.isEmpty()) {
            out.println("no transport is registered: install and start a transport bundle, e.g. io.kizuna.tcp");
            return;
        }
        list.sort(Comparator.comparingInt(TransportView::priority).reversed().thenComparing(TransportView::name));
        PeerAddress local = manager.localAddress();
        Table t = new Table("NAME", "PRIORITY", "STATUS", "CAPABILITIES", "TLS", "LISTENING").alignRight(1);
        for (TransportView v : list) {
            String status = v.available() ? "available"
                    : "unavailable: " + v.reason().orElse("no reason given");
            String listening = local.endpoints(v.name()).stream().map(Endpoint::toString)
                    .collect(Collectors.joining(", "));
            t.row(v.name(), v.priority(), status, v.capabilities().isEmpty() ? "-" : v.capabilities(),
                    v.tls().orElse("-"), listening.isEmpty() ? "-" : listening);
        }
        t.print(out);
    }

    /** Dials a peer (or reuses a pooled connection) and tells how it went. */
    void connect(PrintStream out, String address) {
        String a = address == null ? "" : address.trim();
        if (!a.contains("@") && !a.contains("://") && a.length() != PeerId.TEXT_LENGTH) {
            // connect dials: a prefix of a connected peer's id makes no sense here
            throw new CommandFailure("'" + a + "' is not a peer address: write <peer-id>@tcp://ip:port");
        }
        PeerAddress target = resolve(a, null);
        Instant asked = clock.instant();
        long start = System.nanoTime();
        ConnectionInfo info = await(manager.connectToPeer(target), timing.connectTimeout(), "connecting to " + target);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        if (info.establishedAt().isBefore(asked)) {
            out.println("already connected to " + info.peerId() + " over " + info.protocol() + ", remote "
                    + hostPort(info.protocol(), info.remoteAddress()) + " (pooled connection, "
                    + Units.age(Duration.between(info.establishedAt(), asked)) + " old)");
        } else {
            out.println("connected to " + info.peerId() + " over " + info.protocol() + ", remote "
                    + hostPort(info.protocol(), info.remoteAddress()) + ", in " + Units.time(took));
        }
    }
    void disconnect(PrintStream out, String peer) {
        PeerId id = resolve(peer, null).peerId();
        int open = manager.connections(id).size();
        if (open == 0) {
            throw new CommandFailure("not connected to " + id);
        }
        long start = System.nanoTime();
        await(manager.disconnect(id), timing.connectTimeout(), "disconnecting from " + id);
        out.println("disconnected from " + id + ": " + open + (open == 1 ? " connection" : " connections")
                + " closed in " + Units.time(Duration.ofNanos(System.nanoTime() - start)));
    }


    /** Prints the pooled connections. */
    void peers(PrintStream out) {
        List<ConnectionInfo> list = new ArrayList<>(manager.connections());
        if (list.isEmpty()) {
            out.println("no connections");
            return;
        }
        list.sort(Comparator.comparing(ConnectionInfo::peerId).thenComparing(ConnectionInfo::protocol)
                .thenComparing(ConnectionInfo::establishedAt));
        Instant now = clock.instant();
        Table t = new Table("PEER", "PROTOCOL", "DIRECTION", "REMOTE", "RTT", "BANDWIDTH", "SENT", "RECEIVED",
                "AGE").alignRight(4, 5, 6, 7, 8);
        for (ConnectionInfo c : list) {
            t.row(c.peerId().shortForm(), protocol(c), c.direction().name().toLowerCase(Locale.ROOT),
                    remote(c), c.rtt().map(Units::time).orElse("-"),
                    c.bandwidth().map(b -> Units.rate(b * 8.0)).orElse("-"),
                    Units.bytes(c.bytesSent()), Units.bytes(c.bytesReceived()),
                    Units.age(Duration.between(c.establishedAt(), now)));
        }
        t.print(out);
    }

    /**
     * Pings a peer {@code count} times, one second apart.
     *
     * @param transport a transport to force, or null/empty for the manager's choice
     * @param peer      a PeerId, the start of a connected peer's id, or an address
     * @param count     how many pings
     */
    void ping(PrintStream out, String transport, String peer, int count) {
        if (count < 1 || count > MAX_PING_COUNT) {
            throw new CommandFailure("ping count " + count + " is out of range: give 1 to " + MAX_PING_COUNT);
        }
        PeerAddress target = resolve(peer, transport);
        ConnectionInfo info = await(manager.connectToPeer(target), timing.connectTimeout(), "connecting to " + target);
        out.println("PING " + info.peerId().shortForm() + " over " + info.protocol() + " ("
                + remote(info) + "): " + count + (count == 1 ? " ping" : " pings"));
        List<Duration> rtts = new ArrayList<>();
        String lastError = null;
        Endpoint lastRoute = null;
        long next = System.nanoTime();
        for (int seq = 1; seq <= count; seq++) {
            try {
                PingResult r = await(manager.ping(target), timing.pingTimeout(), "ping " + seq + " of " + target);
                rtts.add(r.rtt());
                String how = "";
                if (!Objects.equals(r.remote(), lastRoute)) { // a new path: say how it was made
                    lastRoute = r.remote();
                    how = manager.connections(r.peer()).stream().filter(c -> c.remoteEndpoint().equals(r.remote()))
                            .flatMap(c -> c.path().stream()).findFirst().map(p -> " (" + p + ")").orElse("");
                }
                out.println("reply " + seq + " from " + r.peer().shortForm() + " via " + route(r.remote()) + how
                        + ": rtt " + Units.time(r.rtt()));
            } catch (CommandFailure e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw e;
                }
                lastError = e.getMessage();
                out.println("ping " + seq + " failed: " + e.getMessage());
            }
            if (seq < count) {
                next += timing.pingInterval().toNanos();
                pause(next - System.nanoTime());
                if (Thread.currentThread().isInterrupted()) {
                    throw new CommandFailure("ping of " + info.peerId() + " was interrupted after " + seq
                            + (seq == 1 ? " ping" : " pings"));
                }
            }
        }
        int lost = count - rtts.size();
        StringBuilder summary = new StringBuilder("--- ").append(info.peerId().shortForm()).append(": ")
                .append(count).append(" sent, ").append(rtts.size()).append(" received, ")
                .append(lost * 100 / count).append("% loss");
        if (!rtts.isEmpty()) {
            long sum = 0;
            Duration min = rtts.get(0);
            Duration max = rtts.get(0);
            for (Duration d : rtts) {
                sum += d.toNanos();
                min = d.compareTo(min) < 0 ? d : min;
                max = d.compareTo(max) > 0 ? d : max;
            }
            summary.append(", rtt min/avg/max ").append(Units.millis(min)).append('/')
                    .append(Units.millis(Duration.ofNanos(sum / rtts.size()))).append('/')
                    .append(Units.millis(max)).append(" ms");
        }
        out.println(summary);
        if (rtts.isEmpty()) {
            throw new CommandFailure("no reply from " + info.peerId() + " to " + count
                    + (count == 1 ? " ping: " : " pings: ") + lastError);
        }
    }

    /**
     * Measures throughput to a peer: uploads {@code size}, then downloads as much.
     *
     * @param transport a transport to force, or null/empty for the manager's choice
     * @param peer      a PeerId, the start of a connected peer's id, or an address
     * @param size      bytes each way, e.g. {@code 64M}
     */
    void perf(PrintStream out, String transport, String peer, String size) {
        long bytes;
        try {
            bytes = Units.parseSize(size, MAX_PERF_BYTES);
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage());
        }
        PeerAddress target = resolve(peer, transport);
        ConnectionInfo info = await(manager.connectToPeer(target), timing.connectTimeout(), "connecting to " + target);
        out.println("PERF " + info.peerId().shortForm() + " over " + info.protocol() + " ("
                + hostPort(info.protocol(), info.remoteAddress()) + "): upload " + Units.bytes(bytes)
                + ", then download " + Units.bytes(bytes));
        AtomicReference<PerfResult.Progress> latest = new AtomicReference<>();
        CompletableFuture<PerfResult> run;
        try {
            // The callback only records: it may run on an event loop, and printing can block.
            run = manager.perf(target, bytes, bytes, latest::set).toCompletableFuture();
        } catch (RuntimeException e) {
            throw new CommandFailure(TransportException.unwrap(e).getMessage());
        }
        PerfResult.Progress printed = null;
        long lastChange = System.nanoTime();
        PerfResult result;
        while (true) {
            try {
                result = run.get(timing.progressInterval().toNanos(), TimeUnit.NANOSECONDS);
                break;
            } catch (TimeoutException e) {
                PerfResult.Progress p = latest.get();
                if (p != null && p != printed) {
                    printed = p;
                    lastChange = System.nanoTime();
                    out.println(progressLine(p));
                } else if (System.nanoTime() - lastChange > timing.perfStall().toNanos()) {
                    run.cancel(true);
                    throw new CommandFailure("perf with " + info.peerId() + " made no progress for "
                            + Units.span(timing.perfStall()) + "; gave up");
                }
            } catch (ExecutionException e) {
                throw new CommandFailure(TransportException.unwrap(e).getMessage());
            } catch (InterruptedException e) {
                run.cancel(true);
                Thread.currentThread().interrupt();
                throw new CommandFailure("perf with " + info.peerId() + " was interrupted");
            } catch (java.util.concurrent.CancellationException e) {
                throw new CommandFailure("perf with " + info.peerId() + " was cancelled");
            }
        }
        Table t = Table.noHeader(5).alignRight(1, 3, 4);
        t.row("upload", Units.bytes(result.uploadBytes()), "in", Units.seconds(result.uploadTime()),
                Units.rate(result.uploadBitsPerSecond()));
        t.row("download", Units.bytes(result.downloadBytes()), "in", Units.seconds(result.downloadTime()),
                Units.rate(result.downloadBitsPerSecond()));
        t.print(out);
        out.println("transport " + result.protocol() + ", peer " + result.peer());
    }

    /** Prints the counters: overall, per transport, per connected peer. */
    void metrics(PrintStream out) {
        out.println("overall");
        Table all = metricsTable("SCOPE");
        metricsRow(all, "all", manager.metrics());
        all.print(out);

        out.println();
        out.println("per transport");
        Map<String, ConnectionMetrics> byProtocol = new TreeMap<>(manager.metricsByProtocol());
        if (byProtocol.isEmpty()) {
            out.println("(no transport has been used)");
        } else {
            Table t = metricsTable("TRANSPORT");
            byProtocol.forEach((protocol, m) -> metricsRow(t, protocol, m));
            t.print(out);
        }

        out.println();
        out.println("per peer (connected now)");
        Set<PeerId> peers = new java.util.TreeSet<>();
        manager.connections().forEach(c -> peers.add(c.peerId()));
        if (peers.isEmpty()) {
            out.println("(no connected peer)");
        } else {
            Table t = metricsTable("PEER");
            for (PeerId p : peers) {
                metricsRow(t, p.shortForm(), manager.metrics(p));
            }
            t.print(out);
        }
    }

    private static Table metricsTable(String first) {
        return new Table(first, "ESTABLISHED", "FAILED", "ACTIVE", "SENT", "RECEIVED", "AVG RTT", "USAGE")
                .alignRight(1, 2, 3, 4, 5, 6);
    }

    private static void metricsRow(Table t, String scope, ConnectionMetrics m) {
        String usage = new TreeMap<>(m.protocolUsage()).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
        t.row(scope, m.established(), m.failed(), m.active(), Units.bytes(m.bytesSent()),
                Units.bytes(m.bytesReceived()), m.averageLatency().map(Units::time).orElse("-"),
                usage.isEmpty() ? "-" : usage);
    }

    private static String progressLine(PerfResult.Progress p) {
        long percent = p.total() == 0 ? 100 : p.done() * 100 / p.total();
        long nanos = p.elapsed().toNanos();
        String rate = nanos == 0 ? "" : ", " + Units.rate(p.done() * 8e9 / nanos);
        return String.format(Locale.ROOT, "  %-8s %s of %s (%d%%) in %s%s", p.phase(), Units.bytes(p.done()),
                Units.bytes(p.total()), percent, Units.seconds(p.elapsed()), rate);
    }

    /**
     * Turns what the user typed into an address: a full address, a full PeerId, or
     * the start of the PeerId of a connected peer; then restricts it to one
     * transport when asked.
     */
    PeerAddress resolve(String text, String transport) {
        String t = text == null ? "" : text.trim();
        if (t.isEmpty()) {
            throw new CommandFailure("no peer given: write its address <peer-id>@tcp://ip:port, its peer id, "
                    + "or the start of a connected peer's id");
        }
        PeerAddress address;
        try {
            if (t.contains("@") || t.contains("://")) {
                address = PeerAddress.parse(t);
            } else if (t.length() == PeerId.TEXT_LENGTH) {
                address = new PeerAddress(PeerId.parse(t), List.of());
            } else {
                address = new PeerAddress(byPrefix(t), List.of());
            }
        } catch (IllegalArgumentException e) {
            throw new CommandFailure(e.getMessage());
        }
        String forced = transport == null ? "" : transport.trim().toLowerCase(Locale.ROOT);
        return forced.isEmpty() ? address : force(address, forced);
    }

    private PeerId byPrefix(String prefix) {
        String p = prefix.toLowerCase(Locale.ROOT);
        Set<PeerId> matches = new LinkedHashSet<>();
        for (ConnectionInfo c : manager.connections()) {
            if (c.peerId().toString().startsWith(p)) {
                matches.add(c.peerId());
            }
        }
        if (matches.isEmpty()) {
            throw new CommandFailure("no connected peer's id starts with '" + prefix
                    + "': give a full address <peer-id>@tcp://ip:port (see kizuna:peers for connected peers)");
        }
        if (matches.size() > 1) {
            throw new CommandFailure("'" + prefix + "' is the start of " + matches.size() + " connected peers' ids ("
                    + matches.stream().map(PeerId::shortForm).collect(Collectors.joining(", "))
                    + "): give more characters");
        }
        return matches.iterator().next();
    }

    private PeerAddress force(PeerAddress address, String transport) {
        List<String> known = transports.get().stream().map(TransportView::name).sorted().toList();
        if (!known.contains(transport)) {
            throw new CommandFailure("no transport named '" + transport + "' is registered here"
                    + (known.isEmpty() ? "" : "; registered: " + String.join(", ", known)));
        }
        if (!address.endpoints().isEmpty()) {
            PeerAddress only = address.only(transport);
            if (only.endpoints().isEmpty()) {
                throw new CommandFailure("address " + address + " has no " + transport + " endpoint; it names "
                        + String.join(", ", address.transportHints()));
            }
            return only;
        }
        // A bare peer id: reuse the pooled connections of that transport, whose remote addresses the pool knows.
        List<Endpoint> endpoints = new ArrayList<>();
        for (ConnectionInfo c : manager.connections(address.peerId())) {
            if (c.protocol().equals(transport)) {
                Endpoint e = new Endpoint(transport, c.remoteAddress());
                if (!endpoints.contains(e)) {
                    endpoints.add(e);
                }
            }
        }
        if (endpoints.isEmpty()) {
            throw new CommandFailure("no open " + transport + " connection to " + address.peerId()
                    + "; give its address to dial: " + address.peerId() + "@" + transport + "://ip:port");
        }
        return new PeerAddress(address.peerId(), endpoints);
    }

    private static <T> T await(CompletionStage<T> stage, Duration timeout, String what) {
        CompletableFuture<T> f;
        try {
            f = stage.toCompletableFuture();
        } catch (RuntimeException e) {
            throw new CommandFailure(TransportException.unwrap(e).getMessage());
        }
        try {
            return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw new CommandFailure(TransportException.unwrap(e).getMessage());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new CommandFailure(what + " did not complete within " + Units.span(timeout));
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new CommandFailure(what + " was interrupted");
        } catch (java.util.concurrent.CancellationException e) {
            throw new CommandFailure(what + " was cancelled");
        }
    }

    /** Waits between two pings; an interrupt ends the wait and is kept for the next await. */
    private static void pause(long nanos) {
        if (nanos <= 0) {
            return;
        }
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** @return {@code ip:port} as in an endpoint (IPv6 in brackets) */
    /** @return where a connection reaches its peer: host:port, or the relay and its host:port */
    static String remote(ConnectionInfo c) {
        String hostPort = hostPort(c.protocol(), c.remoteAddress());
        return c.via().map(h -> "relay " + h.peer().shortForm() + " at " + hostPort).orElse(hostPort);
    }

    /** @return the connection's transport, and how its path was made when it says: {@code quic (punched, round 1)} */
    static String protocol(ConnectionInfo c) {
        return c.protocol() + c.path().map(p -> " (" + p + ")").orElse("");
    }

    /** @return an endpoint as ping prints it: {@code tcp://ip:port}, or {@code relay <relay-id> (tcp://ip:port)} */
    static String route(Endpoint e) {
        if (e == null) {
            return "-";
        }
        return e.hopAddress().map(h -> e.protocol() + " " + h.peerId() + " (" + h.endpoints().get(0) + ")")
                .orElse(e.toString());
    }

    static String hostPort(String protocol, InetSocketAddress address) {
        if (address == null) {
            return "-";
        }
        try {
            String e = new Endpoint(protocol, address).toString();
            return e.substring(e.indexOf("://") + 3);
        } catch (IllegalArgumentException e) {
            return address.getHostString() + ":" + address.getPort();
        }
    }
}
