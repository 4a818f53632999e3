package io.kizuna.lab;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A network lab on one Linux machine: a public segment (203.0.113.0/24 on a
 * bridge in namespace {@code <id>p}) and any number of sites, each a client
 * namespace behind a router namespace with a chosen NAT behaviour, plus per-link
 * shaping of rate, loss and delay. Everything it creates carries the prefix
 * {@code kzl<pid>}: {@link #close()} removes it (also from a shutdown hook), and
 * {@link #open} first removes what an earlier, killed run left behind.
 *
 * <p>Addresses: the public STUN servers use 203.0.113.1-4; site {@code n}'s router
 * has 203.0.113.(100+n) on the public side; a NAT site's client is 10.n.0.2 behind
 * 10.n.0.1; a site without NAT has 198.51.100.(16n+2)/28, routed by the router.
 */
final class Lab implements AutoCloseable {

    /** The router behaviour of a site. */
    enum Nat {
        /** No NAT: the client has a public address and the router only forwards. */
        NONE,
        /** Endpoint-independent mapping and filtering (nftables map, any source). */
        FULL_CONE,
        /** Endpoint-independent mapping, address-dependent filtering. */
        RESTRICTED_CONE,
        /** Endpoint-independent mapping, address-and-port-dependent filtering (Linux MASQUERADE). */
        PORT_RESTRICTED_CONE,
        /** A new port per destination (MASQUERADE --random-fully). */
        SYMMETRIC
    }

    /**
     * One site.
     *
     * @param n        its number, from 1
     * @param nat      its router's behaviour
     * @param router   the router namespace
     * @param client   the client namespace
     * @param clientIp the client's address
     * @param wanIp    the router's public address
     */
    record Site(int n, Nat nat, String router, String client, String clientIp, String wanIp) { }

    /**
     * A finished command.
     *
     * @param exit   its exit code
     * @param output its stdout and stderr
     */
    record Result(int exit, String output) { }

    /** Thrown when the lab cannot be built or a command in it fails. */
    static final class LabException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LabException(String message) {
            super(message);
        }
    }

    static final String PREFIX = "kzl";
    static final String STUN_1 = "203.0.113.1";
    static final String STUN_2 = "203.0.113.2";
    static final String STUN_3 = "203.0.113.3";
    static final String STUN_4 = "203.0.113.4";
    /** The UDP port of the TURN server on {@link #STUN_2}. */
    static final int TURN_PORT = 3490;
    /** Commands the lab runs. */
    static final List<String> COMMANDS = List.of("ip", "iptables", "nft", "tc", "conntrack", "ethtool", "turnserver",
            "turnutils_natdiscovery", "turnutils_stunclient", "stun", "iperf3", "ping", "ss", "gcc");
    private static final Pattern OURS = Pattern.compile(PREFIX + "(\\d+)[a-z]\\d*");
    private static final long COMMAND_SECONDS = 60;

    private final String id = PREFIX + ProcessHandle.current().pid();
    private final String pub = id + "p";
    private final Path work;
    private final List<String> namespaces = Collections.synchronizedList(new ArrayList<>());
    private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());
    private final List<Site> sites = new ArrayList<>();
    private final java.util.Map<Integer, Double> losses = new java.util.HashMap<>();
    private final Thread hook = new Thread(this::teardown, "lab-teardown");
    private boolean closed;

    private Lab(Path work) {
        this.work = work;
    }

    /**
     * Checks the preconditions, removes leftovers of killed runs and builds the public segment.
     *
     * @param work a folder for logs and scratch files
     * @return the lab
     * @throws LabException when a precondition does not hold, with the reason
     */
    static Lab open(Path work) {
        checkPreconditions();
        removeLeftovers();
        Lab lab = new Lab(work);
        Runtime.getRuntime().addShutdownHook(lab.hook);
        try {
            Files.createDirectories(work);
            lab.addNamespace(lab.pub);
            lab.run(lab.pub, "ip", "link", "add", "br0", "type", "bridge");
            lab.run(lab.pub, "ip", "link", "set", "br0", "up");
            lab.run(lab.pub, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            for (String ip : List.of(STUN_1, STUN_2, STUN_3, STUN_4)) {
                lab.run(lab.pub, "ip", "addr", "add", ip + "/24", "dev", "br0");
            }
            return lab;
        } catch (IOException | RuntimeException e) {
            lab.close();
            throw e instanceof LabException le ? le : new LabException("cannot build the lab: " + e);
        }
    }

    /** Fails with every missing precondition named. */
    static void checkPreconditions() {
        List<String> problems = new ArrayList<>();
        if (!isRoot()) {
            problems.add("the lab needs root (network namespaces, iptables, nftables); run the tests as root");
        }
        List<String> missing = missingCommands(COMMANDS);
        if (!missing.isEmpty()) {
            problems.add("missing commands " + missing + "; run-tests installs the Debian packages that provide them");
        }
        if (!problems.isEmpty()) {
            throw new LabException("network lab preconditions do not hold: " + String.join("; ", problems));
        }
    }

    static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[1].equals("0"));
        } catch (IOException e) {
            return false;
        }
    }

    static List<String> missingCommands(List<String> commands) {
        List<String> path = List.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":"));
        List<String> all = new ArrayList<>(path);
        all.addAll(List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin"));
        return commands.stream().filter(c -> all.stream().noneMatch(d -> Files.isExecutable(Path.of(d, c)))).toList();
    }

    /** Removes namespaces (and their processes) whose owning JVM is gone. */
    static void removeLeftovers() {
        for (String ns : namespaceNames()) {
            Matcher m = OURS.matcher(ns);
            if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                deleteNamespace(ns);
            }
        }
    }

    static List<String> namespaceNames() {
        Result r = exec(List.of("ip", "netns", "list"));
        List<String> names = new ArrayList<>();
        for (String line : r.output().split("\n")) {
            if (!line.isBlank()) {
                names.add(line.trim().split("\\s+")[0]);
            }
        }
        return names;
    }

    private static void deleteNamespace(String ns) {
        Result pids = exec(List.of("ip", "netns", "pids", ns));
        for (String pid : pids.output().split("\\s+")) {
            if (pid.matches("\\d+")) {
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        exec(List.of("ip", "netns", "del", ns));
    }

    /** @return the prefix of every name this lab creates */
    String id() {
        return id;
    }

    /** @return the public namespace */
    String pub() {
        return pub;
    }

    /** @return the folder for logs */
    Path work() {
        return work;
    }

    private void addNamespace(String ns) {
        exec(List.of("ip", "netns", "add", ns), true);
        namespaces.add(ns);
        run(ns, "ip", "link", "set", "lo", "up");
    }

    /**
     * Adds a site behind a router with the given behaviour.
     *
     * @param nat the router's behaviour
     * @return the site
     */
    synchronized Site addSite(Nat nat) {
        int n = sites.size() + 1;
        if (n > 14) {
            throw new LabException("at most 14 sites");
        }
        String router = id + "r" + n;
        String client = id + "c" + n;
        String wanIp = "203.0.113." + (100 + n);
        boolean open = nat == Nat.NONE;
        String lanPrefix = open ? "198.51.100." + (16 * n) : "10." + n + ".0.0";
        String routerLan = open ? "198.51.100." + (16 * n + 1) : "10." + n + ".0.1";
        String clientIp = open ? "198.51.100." + (16 * n + 2) : "10." + n + ".0.2";
        int lanBits = open ? 28 : 24;
        addNamespace(router);
        addNamespace(client);
        exec(List.of("ip", "-n", router, "link", "add", "wan", "type", "veth", "peer", "name", "s" + n, "netns", pub), true);
        run(pub, "ip", "link", "set", "s" + n, "master", "br0", "up");
        run(router, "ip", "addr", "add", wanIp + "/24", "dev", "wan");
        run(router, "ip", "link", "set", "wan", "up");
        exec(List.of("ip", "-n", router, "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", client), true);
        run(router, "ip", "addr", "add", routerLan + "/" + lanBits, "dev", "lan");
        run(router, "ip", "link", "set", "lan", "up");
        run(client, "ip", "addr", "add", clientIp + "/" + lanBits, "dev", "eth0");
        run(client, "ip", "link", "set", "eth0", "up");
        run(client, "ip", "route", "add", "default", "via", routerLan);
        run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        // everything beyond the router's own networks goes through the public segment, which routes
        // between sites (a site without NAT is reached at its own prefix)
        run(router, "ip", "route", "add", "default", "via", STUN_1);
        // per-packet loss and shaping need real packet sizes, not merged bursts
        offloads(router, client, false);
        if (open) {
            run(pub, "ip", "route", "add", lanPrefix + "/" + lanBits, "via", wanIp);
        }
        switch (nat) {
            case NONE -> { }
            case PORT_RESTRICTED_CONE -> run(router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE");
            case SYMMETRIC -> run(router, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", "--random-fully");
            case FULL_CONE, RESTRICTED_CONE -> nft(router, cone(nat == Nat.RESTRICTED_CONE, wanIp, lanPrefix + "/" + lanBits));
        }
        if (!open) {
            // Without this a peer's early packet creates a conntrack entry and the client's own packet
            // gets a new mapped port, which breaks hole punching.
            run(router, "iptables", "-A", "INPUT", "-i", "wan", "-p", "udp", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP");
        }
        Site site = new Site(n, nat, router, client, clientIp, wanIp);
        sites.add(site);
        return site;
    }

    /**
     * The nftables rules of a cone NAT. The full cone also hairpins: a client's packet to the
     * router's public address and a mapped port goes to that mapping's client, from the public address.
     */
    private static String cone(boolean restricted, String wanIp, String lan) {
        return "table ip kzcone {\n"
                + "  map mapped { type inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout 5m; }\n"
                + "  set contacted { type ipv4_addr . inet_service; flags dynamic,timeout; timeout 5m; }\n"
                + "  chain post { type nat hook postrouting priority srcnat; policy accept; oifname \"wan\" masquerade;\n"
                + (restricted ? "" : "    oifname \"lan\" ip saddr " + lan + " ct status dnat snat ip to " + wanIp + "\n")
                + "  }\n"
                // runs after SNAT, so udp sport is the mapped port
                + "  chain learn { type filter hook postrouting priority srcnat + 10; policy accept;\n"
                + "    oifname \"wan\" meta l4proto udp update @mapped { udp sport timeout 5m : ct original ip saddr . ct original proto-src }\n"
                + "    oifname \"wan\" meta l4proto udp update @contacted { ip daddr . udp sport timeout 5m }\n"
                + "  }\n"
                + "  chain pre { type nat hook prerouting priority dstnat; policy accept;\n"
                + "    iifname \"wan\" meta l4proto udp " + (restricted ? "ip saddr . udp dport @contacted " : "")
                + "dnat ip to udp dport map @mapped\n"
                + (restricted ? "" : "    iifname \"lan\" ip daddr " + wanIp + " meta l4proto udp dnat ip to udp dport map @mapped\n")
                + "  }\n"
                + "}\n";
    }

    private void nft(String ns, String rules) {
        try {
            Path file = Files.createTempFile(work, "nft", ".conf");
            Files.writeString(file, rules);
            run(ns, "nft", "-f", file.toString());
        } catch (IOException e) {
            throw new LabException("cannot write nft rules: " + e);
        }
    }

    /**
     * Sets the share of packets the site's router drops, both directions, in
     * place of the one set before; 0 drops none.
     *
     * @param site    the site
     * @param lossPct percent of packets to drop, 0 to 100
     */
    synchronized void loss(Site site, double lossPct) {
        Double before = losses.remove(site.n());
        if (before != null) {
            run(site.router(), "iptables", "-D", "FORWARD", "-m", "statistic", "--mode", "random",
                    "--probability", String.valueOf(before / 100), "-j", "DROP");
        }
        if (lossPct > 0) {
            run(site.router(), "iptables", "-I", "FORWARD", "-m", "statistic", "--mode", "random",
                    "--probability", String.valueOf(lossPct / 100), "-j", "DROP");
            losses.put(site.n(), lossPct);
        }
    }

    /**
     * Reorders the packets the site's router forwards: every packet is held
     * {@code delayMs}, and {@code pct} percent of them {@code extraMs} longer,
     * so they arrive after packets sent later (two delayers on NFQUEUE 1 and 2).
     *
     * @param site    the site
     * @param pct     percent of packets held longer
     * @param delayMs the delay of every packet
     * @param extraMs how much longer the reordered ones are held
     */
    synchronized void reorder(Site site, int pct, int delayMs, int extraMs) {
        String r = site.router();
        Path delayer = delayer();
        int[][] queues = {{1, delayMs}, {2, delayMs + extraMs}};
        for (int[] q : queues) {
            Path log = work.resolve("delayer-" + site.n() + "-q" + q[0] + ".log");
            Process p = start(r, log, delayer.toString(), String.valueOf(q[0]), String.valueOf(q[1]));
            waitForLog(log, "delaying", p);
        }
        run(r, "iptables", "-A", "FORWARD", "-m", "statistic", "--mode", "random", "--probability",
                String.valueOf(pct / 100.0), "-j", "NFQUEUE", "--queue-num", "2");
        run(r, "iptables", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "1");
    }

    /**
     * Takes the site's link down or up: while down its router forwards nothing
     * either way and says nothing about it (no ICMP), as a cut cable would.
     *
     * @param site the site
     * @param down whether the link goes down (true) or comes back (false)
     */
    void linkDown(Site site, boolean down) {
        run(site.router(), "iptables", down ? "-I" : "-D", "FORWARD", "-j", "DROP");
    }

    /**
     * Shapes the link between a site's router and the public segment, both directions.
     *
     * @param site     the site
     * @param rateMbit the rate in Mbit/s, 0 for none
     * @param lossPct  the random loss in percent per direction, 0 for none
     * @param delayMs  the one-way delay in milliseconds per direction, 0 for none
     */
    void shape(Site site, int rateMbit, double lossPct, int delayMs) {
        String r = site.router();
        if (rateMbit > 0) {
            // burst and latency sized for up to ~100 ms of queue at the rate
            for (String dev : List.of("wan", "lan")) {
                run(r, "tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", rateMbit + "mbit",
                        "burst", Math.max(32, rateMbit / 4) + "kb", "latency", "100ms");
            }
        }
        if (lossPct > 0) {
            run(r, "iptables", "-I", "FORWARD", "-m", "statistic", "--mode", "random",
                    "--probability", String.valueOf(lossPct / 100), "-j", "DROP");
        }
        if (delayMs > 0) {
            Path delayer = delayer();
            Process p = start(r, work.resolve("delayer-" + site.n() + ".log"), delayer.toString(), "0", String.valueOf(delayMs));
            waitForLog(work.resolve("delayer-" + site.n() + ".log"), "delaying", p);
            run(r, "iptables", "-A", "FORWARD", "-j", "NFQUEUE", "--queue-num", "0");
        }
    }

    /**
     * Turns segmentation offloads (TSO, GSO, GRO) on or off on every interface of every
     * site, as real hosts have them on. Sites start with them off: a loss rule then drops
     * single packets, not merged bursts of up to 64 KiB. With them on, the delayer queues
     * merged packets whole and keeps up with 1 Gbit/s; tbf still counts every segment.
     *
     * @param on whether they are on
     */
    void offloads(boolean on) {
        for (Site s : sites) {
            offloads(s.router(), s.client(), on);
        }
    }

    private void offloads(String router, String client, boolean on) {
        String state = on ? "on" : "off";
        for (String ns : List.of(router, client)) {
            for (String dev : ns.equals(router) ? List.of("wan", "lan") : List.of("eth0")) {
                run(ns, "ethtool", "-K", dev, "tso", state, "gso", state, "gro", state);
            }
        }
    }

    /** Builds the delayer with gcc into the work folder, once. */
    synchronized Path delayer() {
        Path out = work.resolve("delayer");
        if (!Files.isExecutable(out)) {
            String source = System.getProperty("lab.delayerSource", "src/test/c/delayer.c");
            Result r = exec(List.of("gcc", "-O2", "-Wall", "-o", out.toString(), source, "-lnetfilter_queue", "-lnfnetlink"));
            if (r.exit() != 0) {
                throw new LabException("cannot build the delayer (Debian package libnetfilter-queue-dev): " + r.output());
            }
        }
        return out;
    }

    /** Starts coturn on the public segment as an RFC 5780 STUN server on 203.0.113.1/.2, ports 3478/3479. */
    void startCoturn() {
        Path log = work.resolve("turnserver.log");
        Process p = start(pub, work.resolve("turnserver.out"), "turnserver", "-S", "-L", STUN_1, "-L", STUN_2,
                "--listening-port", "3478", "--alt-listening-port", "3479", "--no-tls", "--no-dtls", "--no-cli",
                "-z", "-n", "--simple-log", "--log-file", log.toString(),
                "--pidfile", work.resolve("turnserver.pid").toString(), "--db", work.resolve("turndb").toString());
        waitForUdp(pub, STUN_1 + ":3478", p);
        waitForUdp(pub, STUN_2 + ":3479", p);
    }

    /**
     * Starts coturn on the public segment as a TURN server (long-term credentials)
     * on {@value #STUN_2}, port {@value #TURN_PORT}, relaying from that address.
     *
     * @param user     the TURN user
     * @param password its password
     */
    void startTurnServer(String user, String password) {
        Path log = work.resolve("turn-relay.log");
        Process p = start(pub, work.resolve("turn-relay.out"), "turnserver", "-L", STUN_2, "--listening-port",
                String.valueOf(TURN_PORT), "--relay-ip", STUN_2, "--min-port", "50000", "--max-port", "50999",
                "--lt-cred-mech", "--user", user + ":" + password, "--realm", "kizuna.lab", "--no-tls", "--no-dtls",
                "--no-cli", "--no-tcp-relay", "-n", "--simple-log", "--log-file", log.toString(),
                "--pidfile", work.resolve("turn-relay.pid").toString(), "--db", work.resolve("turn-relay-db").toString());
        waitForUdp(pub, STUN_2 + ":" + TURN_PORT, p);
    }

    /**
     * Forwards one TCP port of a NAT router's public address to its client (a
     * port forward, as an operator sets up for a server behind NAT). UDP is left
     * as the router's NAT behaviour has it.
     *
     * @param site the site
     * @param port the port, the same on both sides
     */
    void forwardTcp(Site site, int port) {
        run(site.router(), "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "wan", "-p", "tcp", "--dport",
                String.valueOf(port), "-j", "DNAT", "--to-destination", site.clientIp() + ":" + port);
    }

    /**
     * Starts our own STUN server in the public namespace on 203.0.113.3/.4, ports 3478/3479.
     *
     * @param classpath the class path holding the NAT bundle and the api
     */
    void startOwnStunServer(String classpath) {
        Process p = start(pub, work.resolve("stunserver.log"), javaCommand(classpath, "server", STUN_3, "3478", STUN_4, "3479"));
        waitForLog(work.resolve("stunserver.log"), "listening", p);
    }

    static String[] javaCommand(String classpath, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", classpath, "io.kizuna.nat.internal.StunTool"));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    private void waitForUdp(String ns, String address, Process p) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new LabException("process in " + ns + " exited with " + p.exitValue() + " before listening on " + address);
            }
            if (run(ns, "ss", "-uln").output().contains(address)) {
                return;
            }
            sleep(100);
        }
        throw new LabException("nothing listens on udp " + address + " in " + ns + " after 20 s");
    }

    private static void waitForLog(Path log, String text, Process p) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try {
                if (Files.exists(log) && Files.readString(log).contains(text)) {
                    return;
                }
            } catch (IOException e) {
                throw new LabException("cannot read " + log + ": " + e);
            }
            if (!p.isAlive()) {
                throw new LabException(p.info().command().orElse("process") + " exited with " + p.exitValue()
                        + " before writing '" + text + "' to " + log);
            }
            sleep(50);
        }
        throw new LabException("no '" + text + "' in " + log + " after 20 s");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LabException("interrupted");
        }
    }

    /**
     * Starts a long-running process in a namespace; it is killed on {@link #close()}.
     *
     * @param ns   the namespace
     * @param log  where its output goes
     * @param args the command
     * @return the process
     */
    Process start(String ns, Path log, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            processes.add(p);
            return p;
        } catch (IOException e) {
            throw new LabException("cannot start " + cmd + ": " + e.getMessage());
        }
    }

    /**
     * Runs a command in a namespace and fails unless it exits with 0.
     *
     * @param ns   the namespace
     * @param args the command
     * @return its result
     */
    Result run(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(args));
        return exec(cmd, true);
    }

    /**
     * Runs a command in a namespace and returns whatever it exits with.
     *
     * @param ns   the namespace
     * @param args the command
     * @return its result
     */
    Result tryRun(String ns, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(args));
        return exec(cmd, false);
    }

    /**
     * Runs a long command in a namespace and returns whatever it exits with.
     *
     * @param ns      the namespace
     * @param seconds how long it may take before it is killed and this fails
     * @param args    the command
     * @return its result
     */
    Result runFor(String ns, long seconds, String... args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(args));
        return exec(cmd, false, seconds);
    }

    static Result exec(List<String> cmd) {
        return exec(cmd, false);
    }

    static Result exec(List<String> cmd, boolean check) {
        return exec(cmd, check, COMMAND_SECONDS);
    }

    private static Result exec(List<String> cmd, boolean check, long seconds) {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new LabException("cannot run " + String.join(" ", cmd) + ": " + e.getMessage());
        }
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try (InputStream in = p.getInputStream()) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
        try {
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new LabException(String.join(" ", cmd) + " did not finish in " + seconds + " s");
            }
            Result r = new Result(p.exitValue(), out.get(5, TimeUnit.SECONDS));
            if (check && r.exit() != 0) {
                throw new LabException(String.join(" ", cmd) + " exited with " + r.exit() + ": " + r.output().strip());
            }
            return r;
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new LabException("interrupted while running " + String.join(" ", cmd));
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new LabException("cannot read the output of " + String.join(" ", cmd) + ": " + e);
        }
    }

    /** Removes everything this lab created. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        teardown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // already shutting down: the hook is running or ran
        }
    }

    private synchronized void teardown() {
        if (closed) {
            return;
        }
        closed = true;
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        List<String> all = new ArrayList<>(namespaces);
        Collections.reverse(all);
        for (String ns : all) {
            deleteNamespace(ns);
        }
    }
}
