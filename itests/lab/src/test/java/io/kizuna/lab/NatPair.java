package io.kizuna.lab;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One ordered pair of the NAT traversal lab: peer A in one site dials peer B in
 * another, knowing only B's relay address, and the node's own upgrade finds the
 * path. Both nodes are full nodes of the runtime distribution with a QUIC
 * listener, WebRTC, and the lab's STUN server (coturn on {@link Lab#STUN_1});
 * they probe only the lab's public networks. B listens through the relay and on
 * QUIC at a wildcard address inside its site (so its HELLO offers {@code punch}),
 * A on QUIC and TCP inside its own site. A pings B through the relay, the
 * upgrade runs meanwhile, and later pings say which path carries them; A's
 * {@code kizuna:peers} says how that path was made.
 */
final class NatPair {

    /** The lab's public networks: no candidate outside them is probed or sent. */
    static final String NETWORKS = "203.0.113.0/24, 198.51.100.0/24";

    /** How {@code kizuna:peers} says an upgraded connection was made. */
    private static final Pattern HOW = Pattern.compile(
            "([a-z]+) \\((?:punched, round (\\d+)|upgraded), (\\d+) ms after relay\\)");

    /**
     * What one pair ended with.
     *
     * @param path     {@code punched quic}, {@code webrtc} or {@code relay}
     * @param rounds   the punch rounds the found path took; 0 when no punch found one
     * @param millis   from the relayed connection to the direct one; -1 when it stayed relayed
     * @param evidence A's commands and both logs, for a failing assertion or a report
     */
    record Outcome(String path, int rounds, long millis, String evidence) {

        boolean direct() {
            return !path.equals("relay");
        }
    }

    private NatPair() {
    }

    /**
     * Peer B, listening through the relay and on QUIC in its site.
     *
     * @param site    its site
     * @param address its address as A is given it: only the relay's
     * @param home    its home folder
     * @param process the node
     */
    record Listening(Lab.Site site, String address, Path home, Process process) implements AutoCloseable {

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor();
        }
    }

    /**
     * Starts peer B.
     *
     * @param lab     the lab, with coturn started
     * @param work    a folder of B's own for its home and output
     * @param dist    the distribution with the echo bundle
     * @param relayId the relay's PeerId, serving at {@link RelayLabIT#RELAY_TCP}
     * @param b       B's site
     * @return B, once it holds its reservation on the relay
     */
    static Listening listen(Lab lab, Path work, Path dist, String relayId, Lab.Site b) throws Exception {
        Path bHome = home(work.resolve("b-home"));
        Path bOut = work.resolve("b.out");
        String relayed = "relay://" + relayId + "@" + RelayLabIT.RELAY_TCP;
        Process bNode = lab.start(b.client(), bOut, RelayLabIT.node(dist, bHome, "--listen", relayed, "--listen",
                "quic://0.0.0.0:0"));
        String ready = RelayLabIT.ready(bOut, bNode);
        return new Listening(b, ready.substring(0, ready.indexOf('@')) + "@" + relayed, bHome, bNode);
    }

    /**
     * Runs one pair: A, a new node each time, pings B.
     *
     * @param lab   the lab
     * @param work  a folder of the pair's own for A's home
     * @param dist  the distribution
     * @param a     A's site
     * @param b     B, listening
     * @param pings how many pings A sends, one a second
     * @return what A ended with
     */
    static Outcome dial(Lab lab, Path work, Path dist, Lab.Site a, Listening b, int pings) throws Exception {
        Path aHome = home(work.resolve("a-home"));
        Path bLog = b.home().resolve("logs/kizuna.log");
        long bLogFrom = Files.exists(bLog) ? Files.size(bLog) : 0;
        Lab.Result run = lab.tryRun(a.client(), RelayLabIT.node(dist, aHome, "--listen", "quic://0.0.0.0:0",
                "--listen", "tcp://" + a.clientIp() + ":0", "--wait", "60", "-c",
                "kizuna:ping " + b.address() + " " + pings + "; kizuna:peers"));
        String out = run.output();
        String aLog = RelayLabIT.read(aHome.resolve("logs/kizuna.log"));
        String bLines = RelayLabIT.read(bLog);
        String evidence = a.nat() + " -> " + b.site().nat() + "\nA's commands (exit " + run.exit() + "):\n" + out
                + "\n--- A's log:\n" + aLog + "\n--- B's log in this run:\n"
                + bLines.substring((int) Math.min(bLogFrom, bLines.length()));
        if (run.exit() != 0) {
            throw new AssertionError("A's commands failed\n" + evidence);
        }
        return outcome(out, evidence);
    }

    /**
     * Runs one pair with a B of its own.
     *
     * @see #listen
     * @see #dial
     */
    static Outcome run(Lab lab, Path work, Path dist, String relayId, Lab.Site a, Lab.Site b, int pings)
            throws Exception {
        try (Listening listening = listen(lab, work, dist, relayId, b)) {
            return dial(lab, work, dist, a, listening, pings);
        }
    }

    /** Reads the path of the last ping, and how it was made, from A's output ({@code kizuna:peers}). */
    static Outcome outcome(String out, String evidence) {
        int last = out.lastIndexOf("reply ");
        int end = last < 0 ? -1 : out.indexOf('\n', last);
        String lastReply = last < 0 ? "" : out.substring(last, end < 0 ? out.length() : end);
        if (lastReply.contains("via relay ") || lastReply.isEmpty()) {
            return new Outcome("relay", 0, -1, evidence);
        }
        Matcher how = HOW.matcher(out);
        if (!how.find()) {
            throw new AssertionError("the last ping went direct, but kizuna:peers does not say how\n" + evidence);
        }
        String path = how.group(2) != null ? "punched " + how.group(1) : how.group(1);
        return new Outcome(path, how.group(2) != null ? Integer.parseInt(how.group(2)) : 0,
                Long.parseLong(how.group(3)), evidence);
    }

    /** A node home whose STUN, punching and WebRTC use only the lab's networks and its STUN server. */
    static Path home(Path home) throws Exception {
        RelayLabIT.freshLogs(home);
        Files.createDirectories(home.resolve("etc"));
        String stun = Lab.STUN_1 + ":3478";
        Files.writeString(home.resolve("etc/io.kizuna.nat.cfg"), "stunServers = " + stun + "\n"
                + "punchNetworks = " + NETWORKS + "\n");
        Files.writeString(home.resolve("etc/io.kizuna.webrtc.cfg"), "stunServers = " + stun + "\n"
                + "candidateNetworks = " + NETWORKS + "\n");
        return home;
    }
}
