package io.kizuna.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark harness: two Kizuna nodes in lab namespaces, on links shaped to
 * each profile in turn, measured side by side with iperf3 over the same link in
 * the same run. It measures goodput per transport and direction, connection
 * set-up as a multiple of the link's round trip, and CPU seconds per GB; then
 * {@link BenchReport} writes the tables, a JSON file and a plot.
 *
 * <p>Topology: sites 1 and 2 without NAT, each behind its router on the public
 * segment; site 1's router shapes its link (rate both ways with tbf, loss per
 * direction with the iptables statistic match, delay both ways with the NFQUEUE
 * delayer), so the path between the sites has the profile's rate, loss and
 * round trip. Node A listens in site 1; node B dials from site 2.
 *
 * <pre>
 * java -cp ... io.kizuna.lab.Bench [--smoke] [--runs N] [--transports tcp,quic] [--idle 1000,10000]
 *     [--links unshaped,1-gbit-s-20-ms] --dist DIR --out DIR
 * </pre>
 */
final class Bench {

    /**
     * A link profile.
     *
     * @param name     its name in the tables
     * @param rateMbit the rate, 0 for unshaped
     * @param rttMs    the added round trip (half of it each way), 0 for none
     * @param lossPct  random loss per direction in percent
     * @param bytes    bytes per transfer on it
     */
    record Link(String name, int rateMbit, int rttMs, double lossPct, long bytes) {

        /**
         * @return whether segmentation offloads are on: on a link without loss, as on real hosts (the
         * delayer then queues merged packets whole and keeps up with 1 Gbit/s); off where loss is
         * drawn per packet, so that it hits single packets, not merged bursts
         */
        boolean offloads() {
            return lossPct == 0;
        }
    }

    /**
     * What to run.
     *
     * @param links      the link profiles, in order
     * @param setupLink  the profile on which connection set-up is timed
     * @param transports the Kizuna transports to measure
     * @param runs       measured transfers per direction, transport and link
     * @param setupRuns  connects per kind (the first, in a cold JVM, is not counted)
     * @param dist       the assembled distribution
     * @param out        where the results go
     * @param smoke      tiny sizes, to prove the harness works
     * @param idleCounts how many idle connections to hold, in turn, for the memory figures
     * @param rateSeconds for how long handshakes are counted
     * @param libp2p     the js-libp2p comparison peer's launcher ({@code itests/bench/libp2p-perf}), or null
     */
    record Options(List<Link> links, String setupLink, List<String> transports, int runs, int setupRuns, Path dist,
            Path out, boolean smoke, List<Integer> idleCounts, int rateSeconds, Path libp2p) {

        static Options parse(String... args) {
            boolean smoke = false;
            int runs = 3;
            List<String> transports = List.of("tcp", "quic", "websocket", "webrtc", "relay");
            Path dist = Path.of("runtime/target/kizuna");
            Path out = Path.of("docs");
            List<Integer> idle = List.of(1_000, 10_000);
            Path libp2p = null;
            List<String> only = null;
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--smoke" -> smoke = true;
                    case "--runs" -> runs = Integer.parseInt(args[++i]);
                    case "--transports" -> transports = List.of(args[++i].split(","));
                    case "--dist" -> dist = Path.of(args[++i]);
                    case "--out" -> out = Path.of(args[++i]);
                    case "--idle" -> idle = java.util.Arrays.stream(args[++i].split(",")).map(Integer::valueOf).toList();
                    case "--libp2p" -> libp2p = Path.of(args[++i]).toAbsolutePath();
                    case "--links" -> only = List.of(args[++i].split(","));
                    default -> throw new IllegalArgumentException("unknown option " + args[i] + "; options: --smoke, "
                            + "--runs N, --transports tcp,quic,websocket,webrtc,relay, --idle 1000,10000, --libp2p SCRIPT, "
                            + "--links unshaped,1-gbit-s-20-ms,... (some profiles only), --dist DIR, --out DIR");
                }
            }
            if (runs < 1 || runs > 20) {
                throw new IllegalArgumentException("--runs " + runs + ": 1 to 20");
            }
            long mib = 1 << 20;
            List<Link> links = smoke
                    ? List.of(new Link("unshaped", 0, 0, 0, mib), new Link("100 Mbit/s, 20 ms", 100, 20, 0, mib))
                    : List.of(new Link("unshaped", 0, 0, 0, 512 * mib),
                            new Link("1 Gbit/s, 20 ms", 1000, 20, 0, 128 * mib),
                            new Link("1 Gbit/s, 20 ms, 1% loss", 1000, 20, 1, 4 * mib),
                            new Link("100 Mbit/s, 20 ms", 100, 20, 0, 48 * mib),
                            new Link("100 Mbit/s, 20 ms, 1% loss", 100, 20, 1, 4 * mib));
            if (only != null) {
                List<String> known = links.stream().map(l -> slug(l.name())).toList();
                if (!known.containsAll(only)) {
                    throw new IllegalArgumentException("--links " + only + ": the profiles are " + known);
                }
                List<String> wanted = only;
                links = links.stream().filter(l -> wanted.contains(slug(l.name()))).toList();
            }
            return new Options(links, "100 Mbit/s, 20 ms", transports,
                    smoke ? 1 : runs, smoke ? 3 : 12, dist.toAbsolutePath(), out.toAbsolutePath(), smoke,
                    smoke ? List.of(20) : idle, smoke ? 1 : 10, libp2p);
        }
    }

    /**
     * Transfers of one kind on one link, in Mbit/s.
     *
     * @param link      the link profile's name
     * @param who       {@code iperf3} or a Kizuna transport
     * @param direction {@code upload} (B to A) or {@code download}
     * @param mbits     one figure per run that completed
     * @param wanted    runs asked for
     * @param failures  why each run that is missing failed, after its retries (a comparison peer's runs may fail
     *                  without aborting the harness; Kizuna's and iperf3's may not)
     */
    record Goodput(String link, String who, String direction, List<Double> mbits, int wanted, List<String> failures) {

        Goodput(String link, String who, String direction, List<Double> mbits) {
            this(link, who, direction, mbits, mbits.size(), List.of());
        }

        Goodput {
            mbits = List.copyOf(mbits);
            failures = List.copyOf(failures);
        }
    }

    /**
     * Connect plus a round trip of the control hello, one kind.
     *
     * @param kind   e.g. {@code quic, 0-RTT}
     * @param rttMs  the link's round trip, measured by ping in the same run
     * @param millis one figure per counted connect
     */
    record Setup(String kind, double rttMs, List<Double> millis) { }

    /**
     * CPU cost of moving data, both ends together.
     *
     * @param transport    the transport
     * @param bytes        bytes moved (both directions)
     * @param cpuSeconds   CPU seconds of both nodes for them
     */
    record Cost(String transport, long bytes, double cpuSeconds) { }

    /**
     * Everything one run measured.
     *
     * @param options    what was run
     * @param goodput    every transfer figure
     * @param setups     connection set-up figures
     * @param costs      CPU per transport, on the unshaped link
     * @param idle       memory per idle connection, for each transport and count held
     * @param handshakesPerSecond authenticated connections a node accepted per second, per transport
     * @param congestion the congestion control of each party
     * @param rtts       the measured round trip of each link, ms
     */
    record Results(Options options, List<Goodput> goodput, List<Setup> setups, List<Cost> costs,
            List<Idle> idle, List<Rate> handshakesPerSecond, List<String> congestion,
            java.util.Map<String, Double> rtts) { }

    /**
     * What idle authenticated connections cost the node that accepted them.
     *
     * @param transport   the transport they came over
     * @param connections how many were open
     * @param heapBytes   heap in use after a full GC, less the same before they were opened
     * @param directBytes memory the JVM allocated outside the heap for the program (Native Memory
     *                    Tracking's Other: direct buffers, Netty's included), less the same before
     * @param rssBytes    resident memory (heap, direct buffers, native libraries' own allocations,
     *                    thread stacks), less the same before
     */
    record Idle(String transport, int connections, long heapBytes, long directBytes, long rssBytes) { }

    /**
     * Authenticated connections a node accepted per second over one transport.
     *
     * @param transport the transport
     * @param perSecond connections per second
     * @param failed    connects that failed in the same time
     */
    record Rate(String transport, double perSecond, long failed) { }

    private static final Pattern PERF = Pattern.compile(
            "^(upload|download)\\s+([\\d.]+) (B|KiB|MiB|GiB)\\s+in\\s+([\\d.]+) s", Pattern.MULTILINE);
    private static final Pattern CONNECTED = Pattern.compile("^connected to \\S+ over (\\S+), .*, in ([\\d.]+) (ms|s|µs)$",
            Pattern.MULTILINE);
    private static final Pattern IPERF_BPS = Pattern.compile(
            "\"sum_received\":\\s*\\{[^}]*?\"bits_per_second\":\\s*([\\d.e+]+)");
    private static final Pattern PING_TIME = Pattern.compile("time=([\\d.]+) ms");
    private static final Pattern READY_LIBP2P = Pattern.compile("\\{\"ready\":true.*\"addrs\":\\[([^\\]]*)\\]");
    private static final Pattern LIBP2P_RUN = Pattern.compile("\\{\"transport\":\"(\\w+)\",\"run\":(\\d+),"
            + "\"connectMs\":([\\d.]+),\"uploadBytes\":(\\d+),\"uploadSeconds\":([\\d.]+),"
            + "\"downloadBytes\":(\\d+),\"downloadSeconds\":([\\d.]+)");
    private static final Pattern LIBP2P_ERROR = Pattern.compile("\\{\"transport\":\"\\w+\",\"run\":(\\d+),"
            + "\"error\":\"((?:[^\"\\\\]|\\\\.)*)\"");
    /** Client processes a comparison peer transport gets: the first, and two retries of the runs still missing. */
    private static final int LIBP2P_ATTEMPTS = 3;
    private static final int PORT = 7400;
    private static final int PORT_NO_RETRY = 7401;
    /** The first port of the nodes that take the connection load (each takes two, from here up). */
    private static final int PORT_MANY = 7410;
    /** The transports whose idle connections and handshakes are measured, when measured at all. */
    private static final List<String> LOADED = List.of("tcp", "quic", "websocket");
    private static final int PORT_WEBSOCKET = 7443;
    private static final int PORT_WEBRTC = 7444;
    /** The relay's address on the public segment (the lab's fourth STUN address, unused here). */
    private static final String RELAY_IP = Lab.STUN_4;
    private static final long COMMAND_SECONDS = 1200;

    private final Options options;
    private final Path work;
    private final List<Goodput> goodput = new ArrayList<>();
    private final List<Setup> setups = new ArrayList<>();
    private final List<Cost> costs = new ArrayList<>();
    private final List<Idle> idle = new ArrayList<>();
    private final List<Rate> handshakeRates = new ArrayList<>();
    private final List<String> congestion = new ArrayList<>();
    private final java.util.Map<String, Double> rtts = new java.util.LinkedHashMap<>();

    Bench(Options options, Path work) {
        this.options = options;
        this.work = work;
    }

    public static void main(String[] args) throws IOException {
        Options options = Options.parse(args);
        Path work = Files.createTempDirectory("kizuna-bench");
        Results results = new Bench(options, work).run();
        new BenchReport(results).write(options.out());
        System.out.println("bench: wrote " + options.out());
    }

    /**
     * Runs every link profile in its own lab.
     *
     * @return the figures
     */
    Results run() {
        if (options.libp2p() != null) {
            // installs the pinned packages once, here: the lab's namespaces reach no registry
            Lab.Result r = Lab.exec(List.of(options.libp2p().toString(), "install"));
            if (r.exit() != 0) {
                throw new Lab.LabException("cannot install the js-libp2p peer: " + r.output());
            }
        }
        for (Link link : options.links()) {
            say("link " + link.name());
            try (Lab lab = Lab.open(work.resolve(slug(link.name())))) {
                measure(lab, link);
            }
        }
        return new Results(options, List.copyOf(goodput), List.copyOf(setups), List.copyOf(costs),
                List.copyOf(idle), List.copyOf(handshakeRates), List.copyOf(congestion), java.util.Map.copyOf(rtts));
    }

    private void measure(Lab lab, Link link) {
        Lab.Site a = lab.addSite(Lab.Nat.NONE);
        Lab.Site b = lab.addSite(Lab.Nat.NONE);
        if (link.offloads()) {
            lab.offloads(true);
        }
        lab.shape(a, link.rateMbit(), link.lossPct(), link.rttMs() / 2);
        double rtt = pingRtt(lab, b, a.clientIp());
        rtts.put(link.name(), rtt);
        say(String.format(Locale.ROOT, "  round trip %.2f ms", rtt));
        if (congestion.isEmpty()) {
            congestion.add("iperf3 and Kizuna TCP: Linux " + sysctl(lab, a.client(), "net.ipv4.tcp_congestion_control")
                    + " on both ends (the namespaces' default)");
            congestion.add("Kizuna QUIC: quiche CUBIC (the transport's default congestionControl), paced by quiche");
            congestion.add("Kizuna WebSocket and the relay's two hops: TCP, the same Linux default");
            congestion.add("Kizuna WebRTC: libwebrtc's SCTP (usrsctp, its own NewReno-style control) over DTLS and UDP");
            if (options.libp2p() != null) {
                congestion.add("js-libp2p TCP and WebSockets: the same Linux default; js-libp2p QUIC: quinn's default "
                        + "(Cubic), which @chainsafe/libp2p-quic does not let one change");
            }
        }
        iperf(lab, link, a, b);

        BenchNode nodes = new BenchNode(lab, options.dist());
        Path homes = lab.work().resolve("homes");
        String aIp = a.clientIp();
        StringBuilder listen = new StringBuilder("tcp://" + aIp + ":" + PORT + ",quic://" + aIp + ":" + PORT
                + ",websocket://" + aIp + ":" + PORT_WEBSOCKET + ",webrtc://" + aIp + ":" + PORT_WEBRTC);
        if (options.transports().contains("relay")) {
            // a relay on the public segment: the relayed path crosses the shaped link once, as the direct one does;
            // the public relay's default bandwidth limits are lifted, since the relay's own throughput is measured
            writeConfig(homes.resolve("relay"), "io.kizuna.relay", "circuitBytesPerSecond = 0\ntotalBytesPerSecond = 0");
            BenchNode.Daemon relay = nodes.start(lab.pub(), homes.resolve("relay"), "tcp://" + RELAY_IP + ":" + PORT,
                    "--relay");
            listen.append(",relay://").append(relay.peerId()).append("@tcp://").append(RELAY_IP).append(':').append(PORT);
        }
        BenchNode.Daemon nodeA = nodes.start(a.client(), homes.resolve("a"), listen.toString());
        boolean unshaped = link.rateMbit() == 0 && link.rttMs() == 0 && link.lossPct() == 0;
        for (String transport : options.transports()) {
            perf(nodes, nodeA, link, b, transport, unshaped);
        }
        if (options.libp2p() != null) {
            libp2p(lab, link, a, b, rtt);
        }
        if (link.name().equals(options.setupLink())) {
            setup(nodes, homes, nodeA, a, b, rtt);
        }
        if (unshaped) {
            connectionCosts(nodes, homes, a, b);
        }
    }

    // ------------------------------------------------------------------ idle connections, handshakes

    private void connectionCosts(BenchNode nodes, Path homes, Lab.Site a, Lab.Site b) {
        List<String> loaded = LOADED.stream().filter(options.transports()::contains).toList();
        if (loaded.isEmpty()) {
            return;
        }
        int started = 0;
        for (String transport : loaded) {
            for (int count : options.idleCounts()) {
                // a fresh node for each count: what a node took for earlier connections (heap it keeps
                // committed, buffer pools, native arenas) would hide in the baseline of the next ones
                BenchNode.Daemon node = startLoaded(nodes, a, homes, started++);
                try {
                    long[] before = memory(node);
                    int port = Integer.parseInt(own(node, transport).group(2));
                    Process load = load(b, "idle", transport, a.clientIp(), port, node.peerId(), count);
                    try {
                        // 10 minutes, and a minute more for each 600 connections (20 a second on a busy machine)
                        String ready = readLine(load, "ready", 10 + count / 600);
                        long[] after = memory(node);
                        Idle x = new Idle(transport, count, after[0] - before[0], after[1] - before[1],
                                after[2] - before[2]);
                        idle.add(x);
                        say(String.format(Locale.ROOT, "  %d idle %s connections (%s): %.1f KiB heap, %.1f KiB "
                                + "direct, %.1f KiB resident each", count, transport, ready,
                                x.heapBytes() / 1024.0 / count, x.directBytes() / 1024.0 / count,
                                x.rssBytes() / 1024.0 / count));
                    } finally {
                        end(load);
                    }
                } finally {
                    stop(node);
                }
            }
        }
        BenchNode.Daemon node = startLoaded(nodes, a, homes, started);
        for (String transport : loaded) {
            int port = Integer.parseInt(own(node, transport).group(2));
            Process load = load(b, "rate", transport, a.clientIp(), port, node.peerId(), options.rateSeconds());
            try {
                Matcher m = Pattern.compile("handshakes (\\d+) failed (\\d+)").matcher(readLine(load, "handshakes", 10));
                if (!m.find()) {
                    throw new Lab.LabException("no handshake count from the load");
                }
                Rate rate = new Rate(transport, Double.parseDouble(m.group(1)) / options.rateSeconds(),
                        Long.parseLong(m.group(2)));
                handshakeRates.add(rate);
                say(String.format(Locale.ROOT, "  %s: %.0f authenticated connections per second accepted (%d failed)",
                        transport, rate.perSecond(), rate.failed()));
            } finally {
                end(load);
            }
            settle(node, transport);
        }
        stop(node);
    }

    /**
     * Starts a node that takes the load, with Native Memory Tracking, in a home and on ports of its
     * own (the previous one's may still be closing): tcp and quic on one port, websocket on the next.
     */
    private BenchNode.Daemon startLoaded(BenchNode nodes, Lab.Site a, Path homes, int index) {
        Path home = homes.resolve("a-many-" + index);
        int most = Collections.max(options.idleCounts()) + 100;
        writeConfig(home, "io.kizuna.core", "maxConnections = " + most);
        writeConfig(home, "io.kizuna.tcp", "maxConnections = " + most);
        writeConfig(home, "io.kizuna.quic", "maxConnections = " + most);
        // the load answers no pings while it holds connections: the node's ping and dead-peer timers are
        // set beyond the measurement (a WebSocket node otherwise pings after 15 s of silence)
        writeConfig(home, "io.kizuna.websocket", "maxConnections = " + most + "\npingIntervalMillis = 1200000\n"
                + "deadPeerTimeoutMillis = 2400000");
        String ip = a.clientIp();
        int port = PORT_MANY + 2 * index;
        return nodes.start(a.client(), home, "tcp://" + ip + ":" + port + ",quic://" + ip + ":" + port
                + ",websocket://" + ip + ":" + (port + 1), List.of("-XX:NativeMemoryTracking=summary"));
    }

    private static void stop(BenchNode.Daemon node) {
        Process p = node.process();
        p.destroy();
        try {
            if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until the node has let the load's connections go. */
    private static void settle(BenchNode.Daemon node, String transport) {
        if (transport.equals("quic")) {
            // one UDP socket for all of them: give the closes (and quiche's draining) time instead
            pause(2000);
        } else {
            awaitConnections(node, 0);
        }
    }

    /** @return heap in use after a full GC, Native Memory Tracking's Other (committed) and resident set size, bytes */
    private long[] memory(BenchNode.Daemon node) {
        String pid = Long.toString(node.process().pid());
        // one attach for the three commands
        Path commands = work.resolve("memory.jcmd");
        try {
            Files.writeString(commands, "GC.run\nGC.heap_info\nVM.native_memory summary\n");
        } catch (IOException e) {
            throw new Lab.LabException("cannot write " + commands + ": " + e);
        }
        String out = Lab.exec(List.of("jcmd", pid, "-f", commands.toString()), true).output();
        Matcher used = Pattern.compile("total \\d+K, used (\\d+)K").matcher(out);
        Matcher other = Pattern.compile("-\\s+Other \\(reserved=\\d+KB, committed=(\\d+)KB\\)").matcher(out);
        if (!used.find() || !other.find()) {
            throw new Lab.LabException("no heap figure or no Other category of native memory in: " + out);
        }
        long rss;
        try {
            Matcher m = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc", pid, "status")));
            if (!m.find()) {
                throw new Lab.LabException("no VmRSS for process " + pid);
            }
            rss = Long.parseLong(m.group(1)) * 1024;
        } catch (IOException e) {
            throw new Lab.LabException("cannot read the memory of process " + pid + ": " + e);
        }
        return new long[] {Long.parseLong(used.group(1)) * 1024, Long.parseLong(other.group(1)) * 1024, rss};
    }

    private static void awaitConnections(BenchNode.Daemon node, int count) {
        // the node's sockets in /proc: each accepted connection holds one
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (sockets(node.process().pid()) <= count + 64) {
                return;
            }
            pause(200);
        }
        throw new Lab.LabException("the node still holds " + sockets(node.process().pid()) + " sockets after 60 s");
    }

    private static long sockets(long pid) {
        try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            return fds.filter(f -> {
                try {
                    return Files.readSymbolicLink(f).toString().startsWith("socket:");
                } catch (IOException e) {
                    return false;
                }
            }).count();
        } catch (IOException e) {
            throw new Lab.LabException("cannot list the sockets of process " + pid + ": " + e);
        }
    }

    private Process load(Lab.Site from, String mode, String transport, String host, int port, String peerId, int n) {
        List<String> cmd = List.of("ip", "netns", "exec", from.client(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx4g", "-cp",
                System.getProperty("java.class.path"), ConnectionLoad.class.getName(), mode, transport, host,
                Integer.toString(port), peerId, Integer.toString(n));
        try {
            return new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new Lab.LabException("cannot start the connection load: " + e);
        }
    }

    /**
     * @return the first line of the load's output that starts with the prefix, within the time
     * @param minutes how long the load may take
     */
    private static String readLine(Process p, String prefix, int minutes) {
        java.util.concurrent.CompletableFuture<String> line = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            StringBuilder seen = new StringBuilder();
            try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(),
                    java.nio.charset.StandardCharsets.UTF_8))) {
                for (String l = in.readLine(); l != null; l = in.readLine()) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                    seen.append(l).append('\n');
                }
            } catch (IOException e) {
                seen.append(e);
            }
            throw new Lab.LabException("the connection load ended without '" + prefix + "':\n" + seen);
        });
        try {
            return line.get(minutes, java.util.concurrent.TimeUnit.MINUTES);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof Lab.LabException le ? le : new Lab.LabException(e.toString());
        } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
            throw new Lab.LabException("the connection load did not answer in " + minutes + " minutes");
        }
    }

    private static void end(Process p) {
        try {
            p.getOutputStream().close();
            if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException | InterruptedException e) {
            p.destroyForcibly();
        }
    }

    // ------------------------------------------------------------------ iperf3

    private void iperf(Lab lab, Link link, Lab.Site a, Lab.Site b) {
        lab.start(a.client(), lab.work().resolve("iperf3-server.log"), "iperf3", "-s", "-B", a.clientIp());
        for (int i = 0; i < 100 && !lab.run(a.client(), "ss", "-tln").output().contains(a.clientIp() + ":5201"); i++) {
            pause(50);
        }
        for (String direction : List.of("upload", "download")) {
            List<Double> figures = new ArrayList<>();
            for (int run = 0; run < options.runs(); run++) {
                List<String> cmd = new ArrayList<>(List.of("iperf3", "-c", a.clientIp(), "-n", Long.toString(link.bytes()),
                        "-J"));
                if (direction.equals("download")) {
                    cmd.add("-R");
                }
                Lab.Result r = lab.runFor(b.client(), COMMAND_SECONDS, cmd.toArray(String[]::new));
                Matcher m = IPERF_BPS.matcher(r.output());
                if (r.exit() != 0 || !m.find()) {
                    throw new Lab.LabException("iperf3 " + direction + " failed: " + r.output());
                }
                figures.add(Double.parseDouble(m.group(1)) / 1e6);
            }
            record(new Goodput(link.name(), "iperf3", direction, figures));
        }
    }

    // ------------------------------------------------------------------ kizuna:perf

    private void perf(BenchNode nodes, BenchNode.Daemon nodeA, Link link, Lab.Site b, String transport,
            boolean measureCost) {
        // connect over the best transport, as a node would, then force this one: WebRTC signals over that connection
        String target = nodeA.address();
        String size = link.bytes() + "";
        long warmup = Math.min(link.bytes(), 32L << 20);
        List<String> commands = new ArrayList<>(List.of("kizuna:connect " + target,
                "kizuna:perf -t " + transport + " " + target + " " + warmup));
        for (int run = 0; run < options.runs(); run++) {
            commands.add("kizuna:perf -t " + transport + " " + target + " " + size);
        }
        Path home = work.resolve("b-" + transport + "-" + slug(link.name()));
        double before = nodeA.cpuSeconds();
        BenchNode.Run run = nodes.run(b.client(), home, "tcp://" + b.clientIp() + ":" + PORT, COMMAND_SECONDS,
                commands);
        double aCpu = nodeA.cpuSeconds() - before;
        List<double[]> transfers = transfers(run.output());
        int expected = 2 * (options.runs() + 1);
        if (transfers.size() != expected) {
            throw new Lab.LabException("expected " + expected + " transfers over " + transport + ", found "
                    + transfers.size() + " in:\n" + run.output());
        }
        for (String direction : List.of("upload", "download")) {
            List<Double> figures = new ArrayList<>();
            // skip the warm-up pair
            for (int i = 2 + (direction.equals("upload") ? 0 : 1); i < transfers.size(); i += 2) {
                double[] t = transfers.get(i);
                figures.add(t[0] * 8 / t[1] / 1e6);
            }
            record(new Goodput(link.name(), transport, direction, figures));
        }
        if (measureCost) {
            // the same node start, connect and a 1-byte perf: what the JVM costs without the transfers
            BenchNode.Run idle = nodes.run(b.client(), home, "tcp://" + b.clientIp() + ":" + PORT, COMMAND_SECONDS,
                    List.of("kizuna:connect " + target, "kizuna:perf -t " + transport + " " + target + " 1"));
            long bytes = 2 * (warmup + options.runs() * link.bytes());
            double cpu = aCpu + Math.max(0, run.cpuSeconds() - idle.cpuSeconds());
            costs.add(new Cost(transport, bytes, cpu));
            say(String.format(Locale.ROOT, "  %s: %.2f CPU s for %d MiB (listener %.2f s, dialer %.2f s - %.2f s idle)",
                    transport, cpu, bytes >> 20, aCpu, run.cpuSeconds(), idle.cpuSeconds()));
        }
    }

    /** @return bytes and seconds of each finished transfer in a node's output, in order */
    static List<double[]> transfers(String output) {
        List<double[]> out = new ArrayList<>();
        Matcher m = PERF.matcher(output);
        while (m.find()) {
            double unit = switch (m.group(3)) {
                case "KiB" -> 1024;
                case "MiB" -> 1024 * 1024;
                case "GiB" -> 1024 * 1024 * 1024;
                default -> 1;
            };
            out.add(new double[] {Double.parseDouble(m.group(2)) * unit, Double.parseDouble(m.group(4))});
        }
        return out;
    }

    // ------------------------------------------------------------------ js-libp2p

    /**
     * js-libp2p's perf over its TCP, QUIC and WebSockets on the same link. Each client process makes one warm-up
     * run, not counted, then the runs still missing; a run that fails is tried again in a new client process, up
     * to {@link #LIBP2P_ATTEMPTS} processes in all. A comparison peer that still fails is recorded with its
     * reasons and never aborts the harness.
     */
    private void libp2p(Lab lab, Link link, Lab.Site a, Lab.Site b, double rtt) {
        Path log = lab.work().resolve("libp2p-server.log");
        Process server = lab.start(a.client(), log, options.libp2p().toString(), "server", "--listen", a.clientIp(),
                "--tcp-port", "7500", "--quic-port", "7500", "--ws-port", "7501", "--key-file",
                lab.work().resolve("libp2p.key").toString());
        try {
            String addrs = libp2pReady(server, log);
            if (addrs == null) {
                String why = server.isAlive() ? "the js-libp2p server was not ready in 60 s"
                        : "the js-libp2p server exited";
                say("  " + why + ": " + BenchNode.read(log));
                for (String kind : List.of("tcp", "quic", "ws")) {
                    recordPeerRuns(link, rtt, "js-libp2p " + kind, new PeerRuns(options.runs(), List.of(why)));
                }
                return;
            }
            for (String addr : addrs.replace("\"", "").split(",")) {
                String kind = addr.contains("/quic") ? "quic" : addr.contains("/ws") ? "ws" : "tcp";
                recordPeerRuns(link, rtt, "js-libp2p " + kind, libp2pRuns(lab, b, link, addr));
            }
        } finally {
            server.destroy();
        }
    }

    /** @return the server's listen addresses, once it printed them, or null when it exits or takes over 60 s */
    private static String libp2pReady(Process server, Path log) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = READY_LIBP2P.matcher(BenchNode.read(log));
            if (m.find()) {
                return m.group(1);
            }
            if (!server.isAlive()) {
                return null;
            }
            pause(100);
        }
        return null;
    }

    /**
     * The runs of one comparison peer transport, with retries.
     *
     * @param wanted     runs asked for
     * @param up         upload Mbit/s of each completed run
     * @param down       download Mbit/s of each completed run
     * @param connect    connect plus first round trip, ms, of each completed run
     * @param failures   why each counted run that failed, failed, in order (warm-ups are only logged)
     */
    record PeerRuns(int wanted, List<Double> up, List<Double> down, List<Double> connect, List<String> failures) {

        PeerRuns(int wanted, List<String> failures) {
            this(wanted, List.of(), List.of(), List.of(), failures);
        }

        /** @return why each of the runs still missing failed: the last failures seen, one per missing run */
        List<String> missing() {
            int n = wanted - up.size();
            return n <= 0 ? List.of() : failures.subList(Math.max(0, failures.size() - n), failures.size());
        }
    }

    private PeerRuns libp2pRuns(Lab lab, Lab.Site b, Link link, String addr) {
        List<Double> up = new ArrayList<>();
        List<Double> down = new ArrayList<>();
        List<Double> connect = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        for (int attempt = 1; attempt <= LIBP2P_ATTEMPTS && up.size() < options.runs(); attempt++) {
            int missing = options.runs() - up.size();
            Lab.Result r = lab.runFor(b.client(), COMMAND_SECONDS, options.libp2p().toString(), "client", "--server",
                    addr, "--upload", Long.toString(link.bytes()), "--download", Long.toString(link.bytes()), "--runs",
                    Integer.toString(missing + 1));
            int completed = 0;
            Matcher m = LIBP2P_RUN.matcher(r.output());
            while (m.find()) {
                if (Integer.parseInt(m.group(2)) == 0) {
                    continue; // the warm-up
                }
                completed++;
                connect.add(Double.parseDouble(m.group(3)));
                up.add(Long.parseLong(m.group(4)) * 8 / Double.parseDouble(m.group(5)) / 1e6);
                down.add(Long.parseLong(m.group(6)) * 8 / Double.parseDouble(m.group(7)) / 1e6);
            }
            List<String> errors = new ArrayList<>();
            Matcher e = LIBP2P_ERROR.matcher(r.output());
            while (e.find()) {
                if (e.group(1).equals("0")) {
                    say("  js-libp2p warm-up run to " + addr + " failed (not counted): " + e.group(2));
                } else {
                    errors.add(e.group(2));
                }
            }
            if (errors.isEmpty() && completed < missing) {
                // no run line at all: the client itself failed; its last line says why
                List<String> lines = r.output().lines().filter(l -> !l.isBlank()).toList();
                errors.add("client exited with " + r.exit() + (lines.isEmpty() ? "" : ": " + lines.get(lines.size() - 1)));
            }
            for (String error : errors) {
                say("  js-libp2p attempt " + attempt + " of " + LIBP2P_ATTEMPTS + " to " + addr + " failed: " + error);
            }
            failures.addAll(errors);
        }
        return new PeerRuns(options.runs(), up, down, connect, failures);
    }

    private void recordPeerRuns(Link link, double rtt, String who, PeerRuns runs) {
        record(new Goodput(link.name(), who, "upload", runs.up(), runs.wanted(), runs.missing()));
        record(new Goodput(link.name(), who, "download", runs.down(), runs.wanted(), runs.missing()));
        if (link.name().equals(options.setupLink()) && !runs.connect().isEmpty()) {
            setups.add(new Setup(who + " (connect + 1-byte perf round trip)", rtt, runs.connect()));
        }
    }

    // ------------------------------------------------------------------ set-up

    private void setup(BenchNode nodes, Path homes, BenchNode.Daemon nodeA, Lab.Site a, Lab.Site b, double rtt) {
        Path noRetryHome = homes.resolve("a-no-retry");
        writeConfig(noRetryHome, "io.kizuna.quic", "retry = false");
        BenchNode.Daemon noRetry = nodes.start(a.client(), noRetryHome,
                "tcp://" + a.clientIp() + ":" + PORT_NO_RETRY + ",quic://" + a.clientIp() + ":" + PORT_NO_RETRY);
        Path earlyHome = work.resolve("b-early");
        writeConfig(earlyHome, "io.kizuna.quic", "earlyData = true");
        Path plainHome = work.resolve("b-plain");
        record(nodes, b, plainHome, "tcp", nodeA, endpoint(nodeA, "tcp", PORT), rtt, "tcp");
        record(nodes, b, plainHome, "quic", nodeA, endpoint(nodeA, "quic", PORT), rtt, "quic (Retry, resumed 1-RTT)");
        record(nodes, b, earlyHome, "quic", nodeA, endpoint(nodeA, "quic", PORT), rtt, "quic (Retry, 0-RTT)");
        record(nodes, b, plainHome, "quic", noRetry, endpoint(noRetry, "quic", PORT_NO_RETRY), rtt,
                "quic (no Retry, resumed 1-RTT)");
        record(nodes, b, earlyHome, "quic", noRetry, endpoint(noRetry, "quic", PORT_NO_RETRY), rtt,
                "quic (no Retry, 0-RTT)");
        if (options.transports().contains("websocket")) {
            record(nodes, b, plainHome, "websocket", nodeA, endpoint(nodeA, "websocket", PORT_WEBSOCKET), rtt,
                    "websocket (TCP, TLS 1.3, HTTP upgrade)");
        }
        if (options.transports().contains("webrtc")) {
            record(nodes, b, plainHome, "webrtc", nodeA, endpoint(nodeA, "webrtc", PORT_WEBRTC), rtt,
                    "webrtc (WebSocket signaling, ICE, DTLS, SCTP, an open DataChannel)");
        }
        if (options.transports().contains("relay")) {
            String relayed = java.util.Arrays.stream(nodeA.address().substring(nodeA.address().indexOf('@') + 1)
                    .split(",")).filter(e -> e.startsWith("relay://")).findFirst()
                    .orElseThrow(() -> new Lab.LabException("node A holds no reservation: " + nodeA.address()));
            record(nodes, b, plainHome, "relay", nodeA, relayed, rtt,
                    "relay (TCP + TLS to the relay, a circuit, end-to-end TLS)");
        }
    }

    private static String endpoint(BenchNode.Daemon node, String transport, int port) {
        return transport + "://" + ipOf(node) + ":" + port;
    }

    private void record(BenchNode nodes, Lab.Site b, Path home, String transport, BenchNode.Daemon to,
            String endpoint, double rtt, String kind) {
        String target = to.peerId() + "@" + endpoint;
        List<String> commands = new ArrayList<>();
        for (int i = 0; i < options.setupRuns(); i++) {
            commands.add("kizuna:connect " + target);
            commands.add("kizuna:disconnect " + to.peerId());
        }
        BenchNode.Run run = nodes.run(b.client(), home, "tcp://" + b.clientIp() + ":" + PORT, COMMAND_SECONDS, commands);
        List<Double> millis = new ArrayList<>();
        Matcher m = CONNECTED.matcher(run.output());
        while (m.find()) {
            if (!m.group(1).equals(transport)) {
                throw new Lab.LabException(kind + ": connected over " + m.group(1) + ", not " + transport);
            }
            double v = Double.parseDouble(m.group(2));
            millis.add(switch (m.group(3)) {
                case "s" -> v * 1000;
                case "µs" -> v / 1000;
                default -> v;
            });
        }
        if (millis.size() != options.setupRuns()) {
            throw new Lab.LabException(kind + ": expected " + options.setupRuns() + " connects in:\n" + run.output());
        }
        Setup s = new Setup(kind, rtt, List.copyOf(millis.subList(1, millis.size())));
        setups.add(s);
        say(String.format(Locale.ROOT, "  set-up %s: median %.1f ms (%.2f round trips)", kind,
                BenchReport.median(s.millis()), BenchReport.median(s.millis()) / rtt));
    }

    // ------------------------------------------------------------------ helpers

    private void record(Goodput g) {
        goodput.add(g);
        say(String.format(Locale.ROOT, "  %-6s %-8s %s %s", g.who(), g.direction(), BenchReport.figure(g),
                g.mbits()));
    }

    /** @return the IPv4 address of the node's own tcp endpoint (not a relay's) */
    private static String ipOf(BenchNode.Daemon node) {
        return own(node, "tcp").group(1);
    }

    /** @return the node's own endpoint of the transport, matched: group 1 the address, group 2 the port */
    private static Matcher own(BenchNode.Daemon node, String transport) {
        String endpoints = node.address().substring(node.address().indexOf('@') + 1);
        for (String e : endpoints.split(",")) {
            Matcher m = Pattern.compile("^" + transport + "://([\\d.]+):(\\d+)$").matcher(e);
            if (m.find()) {
                return m;
            }
        }
        throw new Lab.LabException("no " + transport + " endpoint in " + node.address());
    }


    private static double pingRtt(Lab lab, Lab.Site from, String to) {
        Lab.Result ping = lab.run(from.client(), "ping", "-n", "-c", "20", "-i", "0.05", to);
        Matcher m = PING_TIME.matcher(ping.output());
        List<Double> times = new ArrayList<>();
        while (m.find()) {
            times.add(Double.parseDouble(m.group(1)));
        }
        if (times.size() < 10) {
            throw new Lab.LabException("too few ping replies: " + ping.output());
        }
        return BenchReport.median(times);
    }

    private static String sysctl(Lab lab, String ns, String name) {
        return lab.run(ns, "sysctl", "-n", name).output().strip();
    }

    private static void writeConfig(Path home, String pid, String line) {
        try {
            Files.createDirectories(home.resolve("etc"));
            Files.writeString(home.resolve("etc").resolve(pid + ".cfg"), line + "\n");
        } catch (IOException e) {
            throw new Lab.LabException("cannot write the configuration of " + home + ": " + e);
        }
    }

    /** @return user plus system CPU seconds of a live process, from /proc/pid/stat */
    static double cpuSeconds(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // fields 14 and 15 of stat (utime, stime) are 12 and 13 after the command name
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (IOException | RuntimeException e) {
            throw new Lab.LabException("cannot read the CPU time of process " + pid + ": " + e);
        }
    }

    static String slug(String name) {
        return name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
    }

    static void pause(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Lab.LabException("interrupted");
        }
    }

    private static void say(String line) {
        System.out.println("bench: " + line);
    }
}
