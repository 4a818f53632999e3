package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

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
}
