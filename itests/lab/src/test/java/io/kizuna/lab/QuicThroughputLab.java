package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * QUIC goodput each way over one shaped link, with {@code QuicTransferTool} in two
 * sites (as the benchmark harness places its nodes: the listener's site shapes the
 * link). Not part of the default suite (no IT suffix): a measurement, run with
 * {@code mvn -B -o verify -pl itests/lab -Dit.test=QuicThroughputLab} and the
 * properties {@code quic.rate} (Mbit/s, default 100), {@code quic.loss} (percent,
 * default 1), {@code quic.rtt} (ms, default 20), {@code quic.mib} (MiB per
 * transfer, default 16), {@code quic.runs} (per direction, default 3, at most 10) and
 * {@code quic.toolArgs} (JVM options for both ends, such as {@code -Dquic.tool.cc=BBR}).
 */
class QuicThroughputLab {

    private static final int PORT = 7710;
    private static final Pattern RECEIVED = Pattern.compile("received (\\d+) sha256 ([0-9a-f]{64}) in (\\d+) ms");

    @Test
    @Timeout(value = 30, unit = TimeUnit.MINUTES)
    void goodputEachWay() throws Exception {
        int rate = Integer.getInteger("quic.rate", 100);
        double loss = Double.parseDouble(System.getProperty("quic.loss", "1"));
        int rtt = Integer.getInteger("quic.rtt", 20);
        long bytes = Long.getLong("quic.mib", 16) << 20;
        int runs = Math.min(10, Integer.getInteger("quic.runs", 3));
        try (Lab lab = Lab.open(Path.of(System.getProperty("lab.work", "target/lab-work"), "quic-throughput"))) {
            Lab.Site server = lab.addSite(Lab.Nat.NONE);
            Lab.Site client = lab.addSite(Lab.Nat.NONE);
            lab.shape(server, rate, loss, rtt / 2);
            List<String> lines = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                for (boolean upload : new boolean[] {true, false}) {
                    double mbit = transfer(lab, server, client, upload, bytes, i);
                    String line = String.format(Locale.ROOT, "QUIC %s, %d Mbit/s, %.1f%% loss, %d ms: %.1f Mbit/s"
                            + " (UDP receive-buffer drops so far: listener %s, dialer %s; link queue drops %s)",
                            upload ? "upload  " : "download", rate, loss, rtt, mbit, rcvbufErrors(lab, server.client()),
                            rcvbufErrors(lab, client.client()), queueDrops(lab, server.router()));
                    System.out.println(line);
                    lines.add(line);
                }
            }
            Files.write(lab.work().resolve("results.txt"), lines);
        }
    }

    private static double transfer(Lab lab, Lab.Site server, Lab.Site client, boolean upload, long bytes, int run)
            throws Exception {
        String extra = System.getProperty("quic.toolArgs", "").trim();
        TransferTool.Ends ends = TransferTool.start(lab, server, client, PORT, upload, bytes,
                "-" + (upload ? "up" : "down") + run, extra.isEmpty() ? List.of() : List.of(extra.split("\\s+")));
        Matcher received = TransferTool.await(ends.receiverLog(upload), RECEIVED, ends.receiver(upload));
        assertThat(received.group(1)).isEqualTo(Long.toString(bytes));
        assertThat(ends.listener().waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(ends.dialer().waitFor(60, TimeUnit.SECONDS)).isTrue();
        return bytes * 8 / (Long.parseLong(received.group(3)) / 1000.0) / 1e6;
    }

    /** @return the namespace's UDP RcvbufErrors: datagrams the kernel dropped because a socket's buffer was full */
    private static String rcvbufErrors(Lab lab, String ns) {
        String[] lines = lab.run(ns, "cat", "/proc/net/snmp").output().split("\n");
        for (int i = 0; i + 1 < lines.length; i++) {
            if (lines[i].startsWith("Udp: ") && lines[i + 1].startsWith("Udp: ")) {
                List<String> names = List.of(lines[i].split("\\s+"));
                return lines[i + 1].split("\\s+")[names.indexOf("RcvbufErrors")];
            }
        }
        return "?";
    }

    /** @return packets the router's shaping queues (tbf) and its delay queue (NFQUEUE) dropped, both directions */
    private static String queueDrops(Lab lab, String router) {
        Matcher m = Pattern.compile("dropped (\\d+)").matcher(lab.run(router, "tc", "-s", "qdisc", "show").output());
        long drops = 0;
        while (m.find()) {
            drops += Long.parseLong(m.group(1));
        }
        // queue_number portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
        String[] q = lab.run(router, "cat", "/proc/net/netfilter/nfnetlink_queue").output().trim().split("\\s+");
        return "tbf " + drops + ", nfqueue " + (q.length >= 7 ? q[5] + "+" + q[6] : "?");
    }
}
