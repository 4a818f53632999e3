package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The benchmark harness with tiny sizes, so it never rots: every transport and
 * iperf3 move bytes both ways on an unshaped and a shaped link, set-up takes at
 * least the link's round trip, CPU is counted, and the three result files are
 * written (into the build folder, not docs/).
 */
class BenchSmokeIT {

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void theHarnessMeasuresEveryTransportAgainstIperf3AndWritesItsFiles() throws Exception {
        Path out = Path.of(System.getProperty("lab.work", "target/lab-work"), "bench-smoke");
        Bench.Options options = Bench.Options.parse("--smoke", "--dist", System.getProperty("kizuna.dist"),
                "--libp2p", System.getProperty("kizuna.libp2p"), "--out", out.toString());
        Bench.Results results = new Bench(options, Files.createDirectories(out.resolve("work"))).run();
        new BenchReport(results).write(out);

        // iperf3, every Kizuna transport and js-libp2p's three, both directions, on every link: iperf3 and Kizuna
        // in every run asked for; the comparison peer may lose a run after its retries, but not every one
        assertThat(results.goodput()).extracting(Bench.Goodput::who).containsOnly("iperf3", "tcp", "quic",
                "websocket", "webrtc", "relay", "js-libp2p tcp", "js-libp2p quic", "js-libp2p ws");
        assertThat(results.goodput()).hasSize(options.links().size() * (1 + options.transports().size() + 3) * 2)
                .allSatisfy(g -> assertThat(g.mbits()).as("%s %s on %s: %s", g.who(), g.direction(), g.link(),
                        g.failures()).isNotEmpty().allMatch(v -> v > 0));
        assertThat(results.goodput()).filteredOn(g -> !g.who().startsWith("js-libp2p"))
                .allSatisfy(g -> assertThat(g.mbits()).as("%s %s on %s", g.who(), g.direction(), g.link())
                        .hasSize(options.runs()));
        double shapedRtt = results.rtts().get(options.setupLink());
        assertThat(shapedRtt).as("the shaped link's round trip").isBetween(18.0, 25.0);
        assertThat(results.setups()).hasSize(8 + 3).allSatisfy(s -> assertThat(BenchReport.median(s.millis()))
                .as("%s takes at least one round trip", s.kind()).isGreaterThan(0.9 * shapedRtt));
        assertThat(results.costs()).extracting(Bench.Cost::transport).containsExactlyElementsOf(options.transports());
        assertThat(results.costs()).allSatisfy(c -> assertThat(c.cpuSeconds()).isPositive());
        // idle connections and handshakes over each transport that has them
        assertThat(results.idle()).extracting(Bench.Idle::transport).containsExactly("tcp", "quic", "websocket");
        assertThat(results.idle()).allSatisfy(x -> {
            assertThat(x.connections()).isEqualTo(20);
            // the heap after a full GC is exact; resident memory can shrink when the JVM gives heap back
            assertThat(x.heapBytes()).as("heap %s connections hold", x.transport()).isPositive();
        });
        assertThat(results.handshakesPerSecond()).extracting(Bench.Rate::transport)
                .containsExactly("tcp", "quic", "websocket");
        assertThat(results.handshakesPerSecond()).allSatisfy(r -> assertThat(r.perSecond()).isPositive());
        assertThat(Files.readString(out.resolve("benchmarks.md"))).contains("<!-- harness:begin")
                .contains("| 100 Mbit/s, 20 ms |").contains("Kizuna quic").contains("### Against js-libp2p")
                .contains("### Relay efficiency").contains("| quic | 20 |").contains("webrtc (WebSocket signaling")
                .contains("<!-- harness:end -->");
        assertThat(Files.readString(out.resolve(BenchReport.JSON))).contains("\"goodputMbit\"").contains("\"setupMs\"");
        assertThat(Files.readString(out.resolve(BenchReport.SVG))).startsWith("<svg").contains("stroke-dasharray");
    }
}
