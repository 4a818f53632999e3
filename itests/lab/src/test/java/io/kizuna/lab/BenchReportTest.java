package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

class BenchReportTest {

    @Test
    void aSectionReplacesItsEarlierSelfAndLeavesTheRest() {
        String doc = "# Benchmarks\n\nintro\n<!-- harness:begin (x) -->\nold\n<!-- harness:end -->\n\nafter\n";
        String section = "<!-- harness:begin (x) -->\nnew\n<!-- harness:end -->\n";
        assertThat(BenchReport.replaceSection(doc, "harness", section))
                .isEqualTo("# Benchmarks\n\nintro\n<!-- harness:begin (x) -->\nnew\n<!-- harness:end -->\n\nafter\n");
        assertThat(BenchReport.replaceSection("# Benchmarks\n", "harness", section))
                .isEqualTo("# Benchmarks\n\n" + section);
    }

    @Test
    void mediansOfOddAndEvenCounts() {
        assertThat(BenchReport.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
        assertThat(BenchReport.median(List.of(4.0, 1.0, 2.0, 3.0))).isEqualTo(2.5);
    }

    @Test
    void aComparisonPeersFailedRunsAreCountedAndExplainedInTheTableAndTheJson() {
        Bench.Options o = Bench.Options.parse("--smoke", "--dist", "target/none", "--out", "target/none");
        String link = o.links().get(0).name();
        List<Bench.Goodput> goodput = List.of(new Bench.Goodput(link, "iperf3", "upload", List.of(100.0)),
                new Bench.Goodput(link, "tcp", "upload", List.of(50.0)),
                new Bench.Goodput(link, "js-libp2p ws", "upload", List.of(40.0, 44.0), 3,
                        List.of("Unexpected EOF - stream closed while reading 0/1 bytes")),
                new Bench.Goodput(link, "js-libp2p quic", "upload", List.of(), 3,
                        List.of("closed by peer: 0", "closed by peer: 0", "the js-libp2p server | exited")));
        BenchReport report = new BenchReport(new Bench.Results(o, goodput, List.of(), List.of(), List.of(), List.of(),
                List.of(), Map.of()));

        assertThat(report.markdown())
                .contains("| js-libp2p ws | 42.0 [40.0–44.0] (2 of 3 runs; 1 failed: Unexpected EOF - stream closed "
                        + "while reading 0/1 bytes) |")
                .contains("| js-libp2p quic | no run (0 of 3 runs; 3 failed: closed by peer: 0; the js-libp2p server / "
                        + "exited) |")
                .contains("| Kizuna tcp | 50.0 [50.0–50.0] |");
        assertThat(report.json())
                .contains("\"who\": \"js-libp2p ws\", \"direction\": \"upload\", \"median\": 42.000, "
                        + "\"runs\": [40.000, 44.000], \"wanted\": 3, \"failed\": [\"Unexpected EOF - stream closed "
                        + "while reading 0/1 bytes\"]}")
                .contains("\"who\": \"js-libp2p quic\", \"direction\": \"upload\", \"median\": null, \"runs\": [], "
                        + "\"wanted\": 3");
        assertThat(report.svg()).startsWith("<svg");
    }

    @Test
    void finishedTransfersAreReadFromPerfOutputButProgressLinesAreNot() {
        String out = "PERF x over quic (1.2.3.4:7400): upload 8.0 MiB, then download 8.0 MiB\n"
                + "  upload   2.0 MiB of 8.0 MiB (25%) in 0.100 s, 167.8 Mbit/s\n"
                + "upload    8.0 MiB  in  0.400 s  167.8 Mbit/s\n"
                + "download  512.0 KiB  in  0.050 s   83.9 Mbit/s\n";
        List<double[]> t = Bench.transfers(out);
        assertThat(t).hasSize(2);
        assertThat(t.get(0)).containsExactly(8.0 * 1024 * 1024, 0.4);
        assertThat(t.get(1)).containsExactly(512.0 * 1024, 0.05);
    }

    @Test
    void idleConnectionsAreReportedPerTransportWithHeapDirectAndResidentPerConnection() {
        Bench.Options o = Bench.Options.parse("--smoke", "--dist", "target/none", "--out", "target/none");
        Bench.Results r = new Bench.Results(o, List.of(), List.of(), List.of(),
                List.of(new Bench.Idle("tcp", 1000, 1000 * 1024 * 20, 1000 * 512, 1000 * 1024 * 60),
                        new Bench.Idle("quic", 1000, 1000 * 1024 * 30, 1000 * 1024 * 2, 1000 * 1024 * 90)),
                List.of(new Bench.Rate("tcp", 150.4, 0), new Bench.Rate("quic", 210.6, 3)), List.of(), Map.of());
        BenchReport report = new BenchReport(r);
        assertThat(report.idleSection(o))
                .contains("| transport | idle connections | heap per connection | direct per connection | resident "
                        + "per connection |")
                .contains("| tcp | 1000 | 20.0 KiB | 0.5 KiB | 60.0 KiB |")
                .contains("| quic | 1000 | 30.0 KiB | 2.0 KiB | 90.0 KiB |")
                .contains("| tcp | 150 | 0 |").contains("| quic | 211 | 3 |");
        assertThat(report.json())
                .contains("{\"transport\": \"quic\", \"connections\": 1000, \"heapBytes\": 30720000, "
                        + "\"directBytes\": 2048000, \"rssBytes\": 92160000}")
                .contains("{\"transport\": \"quic\", \"perSecond\": 210.600, \"failed\": 3}");
    }

    @Test
    void theLoadsWebSocketFramesAreMaskedAndReadBack() throws Exception {
        byte[] payload = new byte[300];
        for (int i = 0; i < payload.length; i++) {
            payload[i] = (byte) i;
        }
        byte[] frame = ConnectionLoad.maskedBinary(payload);
        assertThat(frame[0]).isEqualTo((byte) 0x82);
        assertThat(frame[1]).isEqualTo((byte) (0x80 | 126));
        assertThat(((frame[2] & 0xff) << 8) | (frame[3] & 0xff)).isEqualTo(300);
        byte[] unmasked = new byte[300];
        for (int i = 0; i < 300; i++) {
            unmasked[i] = (byte) (frame[8 + i] ^ frame[4 + (i & 3)]);
        }
        assertThat(unmasked).isEqualTo(payload);

        // the server's frames: a ping is skipped, a binary message's payload is read, Close ends
        java.io.ByteArrayOutputStream server = new java.io.ByteArrayOutputStream();
        server.write(new byte[] {(byte) 0x89, 1, 7});
        server.write(new byte[] {(byte) 0x82, 3, 10, 11, 12});
        server.write(new byte[] {(byte) 0x88, 0});
        ConnectionLoad.WebSocketReader reader = new ConnectionLoad.WebSocketReader(new java.io.DataInputStream(
                new java.io.ByteArrayInputStream(server.toByteArray())));
        byte[] buf = new byte[16];
        assertThat(reader.read(buf)).isEqualTo(3);
        assertThat(java.util.Arrays.copyOf(buf, 3)).containsExactly(10, 11, 12);
        assertThat(reader.read(buf)).isEqualTo(-1);
    }
}
