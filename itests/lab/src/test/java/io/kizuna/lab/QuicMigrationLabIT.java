package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * QUIC connection migration through a real NAT: a client behind a symmetric NAT
 * uploads 64 MiB to a listener, or downloads it; in the middle, the router
 * forgets the client's mapping (conntrack entries deleted), so the client's next
 * packets leave from a new public port. The listener follows the client to its
 * new address (for a download, past its anti-amplification guard once quiche
 * has validated the new path), and both ends count the same bytes with the same
 * SHA-256.
 */
class QuicMigrationLabIT {

    private static final long BYTES = 64L << 20;
    private static final int PORT = 7700;
    private static final Pattern DONE = Pattern.compile("(sent|received) (\\d+) sha256 ([0-9a-f]{64})");
    /** The port the NAT maps the client to: the reply direction's destination port. */
    private static final Pattern MAPPED = Pattern.compile("dport=" + PORT + " .*dport=(\\d+)");

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void anUploadCompletesIntactWhenTheClientsNatGivesItANewPort() throws Exception {
        migrateDuring(true);
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aDownloadCompletesIntactWhenTheClientsNatGivesItANewPort() throws Exception {
        migrateDuring(false);
    }

    private static void migrateDuring(boolean upload) throws Exception {
        try (Lab lab = Lab.open(Path.of(System.getProperty("lab.work", "target/lab-work"), "quic-migration-" + (upload ? "up" : "down")))) {
            Lab.Site server = lab.addSite(Lab.Nat.NONE);
            Lab.Site client = lab.addSite(Lab.Nat.SYMMETRIC);
            lab.shape(client, 100, 0, 0); // about 6 s for the transfer: time to move in the middle
            TransferTool.Ends ends = TransferTool.start(lab, server, client, PORT, upload, BYTES, "", List.of());
            // 16 MiB or more moved
            TransferTool.await(ends.dialLog(), Pattern.compile("progress (1[6-9]|[2-9]\\d)\\d{6}"), ends.dialer());

            String before = mappedPort(lab, client);
            lab.run(client.router(), "conntrack", "-D", "-p", "udp");

            Matcher received = TransferTool.await(ends.receiverLog(upload), DONE, ends.receiver(upload));
            Matcher sent = TransferTool.await(ends.receiverLog(!upload), DONE, ends.receiver(!upload));
            String after = mappedPort(lab, client);
            System.out.printf("QUIC migration during an %s: public port %s, then %s; %s%n", upload ? "upload" : "download",
                    before, after, received.group());
            assertThat(after).as("the client's new public port").isNotEqualTo(before);
            assertThat(received.group(2)).as("bytes received").isEqualTo(Long.toString(BYTES));
            assertThat(sent.group(2)).as("bytes sent").isEqualTo(Long.toString(BYTES));
            assertThat(received.group(1)).isEqualTo("received");
            assertThat(sent.group(1)).isEqualTo("sent");
            assertThat(received.group(3)).as("SHA-256 of what arrived").isEqualTo(sent.group(3));
        }
    }

    private static String mappedPort(Lab lab, Lab.Site client) {
        String entries = lab.run(client.router(), "conntrack", "-L", "-p", "udp").output();
        Matcher m = MAPPED.matcher(entries);
        if (!m.find()) {
            throw new AssertionError("no NAT mapping of the client to port " + PORT + " in:\n" + entries);
        }
        return m.group(1);
    }
}
