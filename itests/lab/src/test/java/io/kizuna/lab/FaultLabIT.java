package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Faults in the middle of transfers, through the lab's routers, each transfer
 * an echo whose SHA-256 both ways must match: loss with reordering, a link
 * that goes down for 5 s, a peer killed with SIGKILL, and a relay killed and
 * started again. A completed transfer never loses or corrupts a byte; a
 * transfer that cannot complete fails within a stated bound with a clear
 * error; the listener behind the relay reserves again by itself.
 */
class FaultLabIT {

    private static final Pattern MATCH = Pattern.compile("sha256 match over (\\w+)://");

    /** The dialers' QUIC idle timeout here (the default is 30 s), so a vanished peer is given up sooner. */
    private static final int IDLE_MILLIS = 12000;

    /** A transfer to a peer that vanished fails within the idle timeout plus this margin. */
    private static final long KILLED_PEER_BOUND_SECONDS = IDLE_MILLIS / 1000 + 10;

    /**
     * 1% and then 5% loss, with a tenth of the packets held 25 ms longer than
     * the rest (so they arrive after later ones), on the dialer's link: TCP and
     * QUIC echoes arrive whole.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void lossAndReorderingLoseNoByte() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "fault-loss");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.NONE);
            Lab.Site b = lab.addSite(Lab.Nat.NONE);
            Path dist = RelayLabIT.distribution(work);
            Listener listener = listen(lab, work, dist, b);
            try {
                lab.reorder(a, 10, 5, 30);
                for (double loss : new double[] {1, 5}) {
                    lab.loss(a, loss);
                    Lab.Result run = lab.tryRun(a.client(), dialer(dist, work.resolve("a-home-" + (int) loss), a,
                            "itest:echo " + listener.only("tcp") + " 4; itest:echo " + listener.only("quic") + " 4"));
                    String out = run.output();
                    assertThat(run.exit()).as(loss + "% loss:\n" + out).isZero();
                    assertThat(transports(out)).as(loss + "% loss:\n" + out).isEqualTo("tcp quic");
                    lab.loss(a, 0);
                    System.out.println(loss + "% loss, 10% reordered:\n" + out);
                }
            } finally {
                listener.process().destroy();
            }
        }
    }

    /**
     * The dialer's router loses its public link for 5 s in the middle of a TCP
     * and a QUIC echo: both finish with every byte once it is back.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aLinkDownForFiveSecondsIsRiddenOut() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "fault-flap");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.NONE);
            Lab.Site b = lab.addSite(Lab.Nat.NONE);
            Path dist = RelayLabIT.distribution(work);
            Listener listener = listen(lab, work, dist, b);
            try {
                lab.shape(a, 40, 0, 0); // 16 MiB each way take about 7 s at 40 Mbit/s
                Path tcpOut = work.resolve("a-tcp.out");
                Path quicOut = work.resolve("a-quic.out");
                Process tcp = lab.start(a.client(), tcpOut, dialer(dist, work.resolve("a-tcp"), a,
                        "itest:echo " + listener.only("tcp") + " 16"));
                Process quic = lab.start(a.client(), quicOut, dialer(dist, work.resolve("a-quic"), a,
                        "itest:echo " + listener.only("quic") + " 16"));
                awaitLog(work.resolve("a-tcp/logs/kizuna.log"), "connected ", tcp);
                awaitLog(work.resolve("a-quic/logs/kizuna.log"), "connected ", quic);
                Thread.sleep(1500);
                lab.linkDown(a, true);
                Thread.sleep(5000);
                lab.linkDown(a, false);
                assertThat(tcp.waitFor(120, TimeUnit.SECONDS) && quic.waitFor(120, TimeUnit.SECONDS)).isTrue();
                String out = RelayLabIT.read(tcpOut) + RelayLabIT.read(quicOut);
                assertThat(tcp.exitValue() + quic.exitValue()).as(out).isZero();
                assertThat(transports(out)).as(out).isEqualTo("tcp quic");
                System.out.println("a 5 s link flap:\n" + out);
            } finally {
                listener.process().destroy();
            }
        }
    }

    /**
     * The listening peer is killed with SIGKILL in the middle of an echo: over
     * TCP its kernel resets the connection and the echo fails at once; over
     * QUIC nothing answers any more and the echo fails when the connection's
     * idle timeout ({@value #IDLE_MILLIS} ms here) runs out. Either way the error says what happened, within
     * {@value #KILLED_PEER_BOUND_SECONDS} s.
     */
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aKilledPeerFailsTheTransferWithinABound() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "fault-kill");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.NONE);
            Lab.Site b = lab.addSite(Lab.Nat.NONE);
            Path dist = RelayLabIT.distribution(work);
            lab.shape(a, 40, 0, 0);
            for (String transport : new String[] {"tcp", "quic"}) {
                Listener listener = listen(lab, work.resolve(transport), dist, b);
                Path out = work.resolve("a-" + transport + ".out");
                Process echo = lab.start(a.client(), out, dialer(dist, work.resolve("a-" + transport), a,
                        "itest:echo " + listener.only(transport) + " 32"));
                awaitLog(work.resolve("a-" + transport + "/logs/kizuna.log"), "connected ", echo);
                Thread.sleep(1500);
                long killed = System.nanoTime();
                listener.process().destroyForcibly().waitFor();
                assertThat(echo.waitFor(KILLED_PEER_BOUND_SECONDS + 30, TimeUnit.SECONDS)).as(RelayLabIT.read(out))
                        .isTrue();
                long seconds = (System.nanoTime() - killed) / 1_000_000_000L;
                String text = RelayLabIT.read(out);
                assertThat(echo.exitValue()).as(text).isEqualTo(1);
                assertThat(text).as(text).doesNotContain("sha256 match")
                        .contains(transport.equals("tcp") ? "Connection reset"
                                : "timed out (no packets for " + IDLE_MILLIS + " ms)");
                assertThat(seconds).as(transport + ": failed " + seconds + " s after the kill:\n" + text)
                        .isLessThanOrEqualTo(KILLED_PEER_BOUND_SECONDS);
                System.out.println(transport + ": the echo failed " + seconds + " s after the peer was killed:\n"
                        + text);
            }
        }
    }

    /**
     * The relay carrying an echo between two NATed peers is killed with
     * SIGKILL: the echo fails within the bound. Started again (same identity,
     * same address), the relay gets the listener's reservation back without
     * anyone's help, and the dialer reaches the listener through it again.
     */
    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aKilledRelayFailsTheCircuitAndItsListenerReservesAgain() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "fault-relay");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.SYMMETRIC);
            Lab.Site b = lab.addSite(Lab.Nat.SYMMETRIC);
            Path dist = RelayLabIT.distribution(work);
            Path relayOut = work.resolve("relay.out");
            String[] relayCommand = RelayLabIT.node(dist, work.resolve("relay-home"), "--listen",
                    RelayLabIT.RELAY_TCP, "--relay");
            Process relay = lab.start(lab.pub(), relayOut, relayCommand);
            String relayAddress = RelayLabIT.ready(relayOut, relay);
            String relayId = relayAddress.substring(0, relayAddress.indexOf('@'));

            Path bHome = RelayLabIT.freshLogs(work.resolve("b-home"));
            Path bOut = work.resolve("b.out");
            Process bNode = lab.start(b.client(), bOut, RelayLabIT.node(dist, bHome, "--listen",
                    "relay://" + relayId + "@" + RelayLabIT.RELAY_TCP));
            String bAddress = RelayLabIT.ready(bOut, bNode);
            try {
                Path out = work.resolve("a.out");
                // 64 MiB at the relay's 4 MiB/s per circuit: 16 s
                Process echo = lab.start(a.client(), out, dialer(dist, work.resolve("a-home"), a,
                        "itest:echo " + bAddress + " 64"));
                awaitLog(work.resolve("a-home/logs/kizuna.log"), "connected r", echo);
                Thread.sleep(2000);
                long killed = System.nanoTime();
                relay.destroyForcibly().waitFor();
                assertThat(echo.waitFor(KILLED_PEER_BOUND_SECONDS + 30, TimeUnit.SECONDS)).isTrue();
                long seconds = (System.nanoTime() - killed) / 1_000_000_000L;
                String text = RelayLabIT.read(out);
                assertThat(echo.exitValue()).as(text).isEqualTo(1);
                assertThat(seconds).as("failed " + seconds + " s after the relay was killed:\n" + text)
                        .isLessThanOrEqualTo(KILLED_PEER_BOUND_SECONDS);
                System.out.println("the echo through the relay failed " + seconds + " s after it was killed:\n"
                        + text);

                // The relay comes back on the same address with the same key; B reserves again by itself.
                Path bLog = bHome.resolve("logs/kizuna.log");
                int held = count(RelayLabIT.read(bLog), "reservation held on relay");
                relay = lab.start(lab.pub(), work.resolve("relay-again.out"), relayCommand);
                RelayLabIT.ready(work.resolve("relay-again.out"), relay);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (count(RelayLabIT.read(bLog), "reservation held on relay") <= held
                        && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                String bText = RelayLabIT.read(bLog);
                assertThat(count(bText, "reservation held on relay")).as("B reserved again:\n" + bText)
                        .isGreaterThan(held);
                Lab.Result again = lab.tryRun(a.client(), dialer(dist, work.resolve("a-home"), a,
                        "kizuna:ping " + bAddress + " 2; itest:echo " + bAddress + " 2"));
                assertThat(again.exit()).as(again.output()).isZero();
                assertThat(again.output()).contains("via relay " + relayId).contains("sha256 match over relay://");
            } finally {
                bNode.destroy();
                relay.destroy();
            }
        }
    }

    /** @return a node in A's site, with a QUIC idle timeout of {@value #IDLE_MILLIS} ms, that runs {@code commands} */
    private static String[] dialer(Path dist, Path home, Lab.Site a, String commands) throws java.io.IOException {
        java.nio.file.Files.createDirectories(home.resolve("etc"));
        java.nio.file.Files.writeString(home.resolve("etc/io.kizuna.quic.cfg"), "idleTimeoutMillis = " + IDLE_MILLIS
                + "\nkeepAliveMillis = 2000\n");
        return RelayLabIT.node(dist, RelayLabIT.freshLogs(home), "--listen", "tcp://" + a.clientIp() + ":0", "--wait",
                "60", "-c", commands);
    }

    /** A listening node with TCP and QUIC in its site. */
    private record Listener(Process process, String id, String tcp, String quic) {

        String only(String transport) {
            return id + "@" + (transport.equals("tcp") ? tcp : quic);
        }
    }

    private static Listener listen(Lab lab, Path work, Path dist, Lab.Site b) throws Exception {
        java.nio.file.Files.createDirectories(work);
        Path out = work.resolve("b.out");
        Process p = lab.start(b.client(), out, RelayLabIT.node(dist, RelayLabIT.freshLogs(work.resolve("b-home")),
                "--listen", "tcp://" + b.clientIp() + ":7400", "--listen", "quic://" + b.clientIp() + ":7401"));
        String address = RelayLabIT.ready(out, p);
        return new Listener(p, address.substring(0, address.indexOf('@')), "tcp://" + b.clientIp() + ":7400",
                "quic://" + b.clientIp() + ":7401");
    }

    /** @return the transports of the echoes that matched, in order, e.g. {@code tcp quic} */
    private static String transports(String out) {
        Matcher m = MATCH.matcher(out);
        StringBuilder s = new StringBuilder();
        while (m.find()) {
            s.append(s.length() == 0 ? "" : " ").append(m.group(1));
        }
        return s.toString();
    }

    private static int count(String text, String what) {
        int n = 0;
        for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
            n++;
        }
        return n;
    }

    private static void awaitLog(Path log, String text, Process p) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!RelayLabIT.read(log).contains(text)) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("no '" + text + "' in " + log + ":\n" + RelayLabIT.read(log));
            }
            Thread.sleep(100);
        }
    }
}
