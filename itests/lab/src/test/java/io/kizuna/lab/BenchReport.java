package io.kizuna.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Writes what {@link Bench} measured: a section of {@code benchmarks.md} (tables
 * with the machine, versions and date), {@code benchmarks.json} with every
 * figure, and {@code benchmarks-goodput.svg}, goodput per transport against the
 * iperf3 line for each link.
 */
final class BenchReport {

    static final String SECTION = "harness";
    static final String JSON = "benchmarks.json";
    static final String SVG = "benchmarks-goodput.svg";

    private final Bench.Results results;
    private final String date = LocalDate.now(ZoneOffset.UTC).toString();

    BenchReport(Bench.Results results) {
        this.results = results;
    }

    /**
     * Writes the three files into a folder; the Markdown section replaces an
     * earlier one of the same name in {@code benchmarks.md} or is appended.
     *
     * @param folder where they go
     */
    void write(Path folder) {
        try {
            Files.createDirectories(folder);
            Files.writeString(folder.resolve(JSON), json());
            Files.writeString(folder.resolve(SVG), svg());
            Path md = folder.resolve("benchmarks.md");
            String doc = Files.exists(md) ? Files.readString(md) : "# Benchmarks\n";
            Files.writeString(md, replaceSection(doc, SECTION, markdown()));
        } catch (IOException e) {
            throw new Lab.LabException("cannot write the results into " + folder + ": " + e);
        }
    }

    static String replaceSection(String doc, String name, String section) {
        String begin = "<!-- " + name + ":begin";
        String end = "<!-- " + name + ":end -->";
        int from = doc.indexOf(begin);
        int to = doc.indexOf(end);
        if (from < 0 || to < from) {
            return doc.stripTrailing() + "\n\n" + section;
        }
        return doc.substring(0, from) + section.stripTrailing() + doc.substring(to + end.length());
    }

    // ------------------------------------------------------------------ Markdown

    String markdown() {
        Bench.Options o = results.options();
        StringBuilder s = new StringBuilder();
        s.append("<!-- ").append(SECTION).append(":begin (written by itests/bench/harness; do not edit by hand) -->\n");
        s.append("## Harness: every transport against iperf3 on shaped links\n\n");
        s.append("Two nodes in network namespaces of the lab (`itests/lab`), one site each, the path\n"
                + "between them shaped at one router: rate with tbf (both ways), loss with the iptables\n"
                + "statistic match (each direction), delay with the NFQUEUE delayer (half the round trip\n"
                + "each way; packets are held whole, in order, and released by batch verdicts). Segmentation\n"
                + "offloads (TSO, GSO, GRO) are on where the link has no loss, as on real hosts, and off on the\n"
                + "lossy links so that the loss hits single packets. Upload is dialer to listener, download the\n"
                + "reverse, each `kizuna:perf` on a warmed-up node (one unmeasured transfer first) and each\n"
                + "iperf3 run over the same link in the same run. Figures are the median of " + o.runs() + " runs\n"
                + "with the range in brackets; the ratio is median against iperf3's median. Both ends share\n"
                + "this machine's CPUs.\n\n");
        for (String c : results.congestion()) {
            s.append("- ").append(c).append('\n');
        }
        s.append("\n| link | RTT (ms) | | upload (Mbit/s) | download (Mbit/s) | upload / iperf3 | download / iperf3 |\n");
        s.append("| --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for (Bench.Link link : o.links()) {
            Optional<Bench.Goodput> iperfUp = find(link.name(), "iperf3", "upload");
            Optional<Bench.Goodput> iperfDown = find(link.name(), "iperf3", "download");
            for (String who : whos()) {
                Optional<Bench.Goodput> up = find(link.name(), who, "upload");
                Optional<Bench.Goodput> down = find(link.name(), who, "download");
                if (up.isEmpty() && down.isEmpty()) {
                    continue;
                }
                s.append("| ").append(link.name()).append(" | ")
                        .append(fmt(results.rtts().getOrDefault(link.name(), 0.0), 2)).append(" | ")
                        .append(who.equals("iperf3") ? "iperf3 (TCP)" : who.startsWith("js-") ? who : "Kizuna " + who)
                        .append(" | ")
                        .append(up.map(BenchReport::figure).orElse("")).append(" | ")
                        .append(down.map(BenchReport::figure).orElse("")).append(" | ")
                        .append(who.equals("iperf3") ? "" : ratio(up, iperfUp)).append(" | ")
                        .append(who.equals("iperf3") ? "" : ratio(down, iperfDown)).append(" |\n");
            }
        }
        if (results.goodput().stream().anyMatch(g -> g.who().startsWith("js-libp2p"))) {
            s.append("\n### Against js-libp2p\n\n");
            s.append("Each Kizuna transport against js-libp2p's counterpart on the same link in the same run "
                    + "(median against median, upload / download).\n\n");
            s.append("| link | tcp / js-libp2p tcp | quic / js-libp2p quic | websocket / js-libp2p ws |\n"
                    + "| --- | ---: | ---: | ---: |\n");
            for (Bench.Link link : o.links()) {
                s.append("| ").append(link.name());
                for (String[] pair : new String[][] {{"tcp", "js-libp2p tcp"}, {"quic", "js-libp2p quic"},
                        {"websocket", "js-libp2p ws"}}) {
                    s.append(" | ").append(ratio(find(link.name(), pair[0], "upload"), find(link.name(), pair[1],
                            "upload"))).append(" / ").append(ratio(find(link.name(), pair[0], "download"),
                            find(link.name(), pair[1], "download")));
                }
                s.append(" |\n");
            }
        }
        if (results.goodput().stream().anyMatch(g -> g.who().equals("relay"))) {
            s.append("\n### Relay efficiency\n\n");
            s.append("Through a relay on the public segment (two TCP + TLS 1.3 hops, the peers' end-to-end TLS inside) "
                    + "against Kizuna TCP directly, on the same link in the same run: the relayed path crosses the "
                    + "shaped link once, as the direct one does.\n\n");
            s.append("| link | relayed / direct, upload | relayed / direct, download |\n| --- | ---: | ---: |\n");
            for (Bench.Link link : o.links()) {
                s.append("| ").append(link.name()).append(" | ")
                        .append(ratio(find(link.name(), "relay", "upload"), find(link.name(), "tcp", "upload")))
                        .append(" | ")
                        .append(ratio(find(link.name(), "relay", "download"), find(link.name(), "tcp", "download")))
                        .append(" |\n");
            }
        }
        if (!results.setups().isEmpty()) {
            s.append("\n### Connection set-up on ").append(o.setupLink()).append("\n\n");
            s.append("`kizuna:connect` from a warm node to a peer it has just disconnected from: the transport's\n"
                    + "handshake, then the control protocol's OPEN and HELLO both ways (the HELLO answer is the\n"
                    + "first application round trip). " + (o.setupRuns() - 1) + " connects per kind after one in a "
                    + "cold JVM that is not counted; a QUIC dial after the first resumes its TLS session.\n\n");
            s.append("| kind | median (ms) | min | max | round trips (median / RTT) |\n");
            s.append("| --- | ---: | ---: | ---: | ---: |\n");
            for (Bench.Setup x : results.setups()) {
                s.append("| ").append(x.kind()).append(" | ").append(fmt(median(x.millis()), 1)).append(" | ")
                        .append(fmt(Collections.min(x.millis()), 1)).append(" | ")
                        .append(fmt(Collections.max(x.millis()), 1)).append(" | ")
                        .append(fmt(median(x.millis()) / x.rttMs(), 2)).append(" |\n");
            }
        }
        if (!results.costs().isEmpty()) {
            s.append("\n### CPU per GB on the unshaped link\n\n");
            s.append("User plus system CPU seconds of both nodes (listener from /proc, dialer from its process\n"
                    + "times less a run that starts, connects and moves 1 byte), per 10^9 bytes moved.\n\n");
            s.append("| transport | CPU s per GB | bytes moved |\n| --- | ---: | ---: |\n");
            for (Bench.Cost c : results.costs()) {
                s.append("| ").append(c.transport()).append(" | ").append(fmt(c.cpuSeconds() / (c.bytes() / 1e9), 2))
                        .append(" | ").append(c.bytes() >> 20).append(" MiB |\n");
            }
        }
        if (!results.idle().isEmpty() || !results.handshakesPerSecond().isEmpty()) {
            s.append(idleSection(o));
        }
        s.append("\n![goodput per transport against iperf3](").append(SVG).append(")\n\n");
        s.append("- Date: ").append(date).append('\n');
        s.append("- Machine: ").append(machine()).append('\n');
        s.append("- iperf3: ").append(version("iperf3", "--version")).append('\n');
        s.append("- Versions: ").append(versions()).append('\n');
        s.append("- Command: `itests/bench/harness").append(o.smoke() ? " --smoke" : "")
                .append(o.runs() != 3 && !o.smoke() ? " --runs " + o.runs() : "").append("`\n");
        s.append("- Every figure: `").append(JSON).append("`\n");
        s.append("<!-- ").append(SECTION).append(":end -->\n");
        return s.toString();
    }

    /** @return the table of idle connections per transport and count, and the handshake rates */
    String idleSection(Bench.Options o) {
        StringBuilder s = new StringBuilder();
        s.append("\n### Idle connections and handshakes, unshaped link\n\n");
        s.append("A separate process in the other site opens authenticated connections to a node started for\n"
                + "the purpose (a fresh one for each transport and count), each from a peer of its own as nodes\n"
                + "make them (the transport's handshake with the bound certificates and no session resumption,\n"
                + "the node's PeerId checked, OPEN and HELLO both ways), and holds them idle: TCP is TLS 1.3 on\n"
                + "a socket, WebSocket the same plus the HTTP upgrade, QUIC a UDP socket per connection (as a\n"
                + "dialer has) with a 1-byte keep-alive every 10 s. Heap is what the node uses after a full GC;\n"
                + "direct is what the JVM allocated outside the heap for the program (Native Memory Tracking's\n"
                + "Other: NIO direct buffers and Netty's pooled direct memory); resident is the process's whole\n"
                + "resident memory (heap, direct, thread stacks, and what native libraries allocate themselves:\n"
                + "quiche's and BoringSSL's per-connection state shows only here). Each is less the same before\n"
                + "the connections were opened, over the count; resident memory moves in steps (the JVM also\n"
                + "gives heap pages back after a GC), so a small count can show it below zero. The node's\n"
                + "WebSocket ping interval is raised beyond the measurement, as the load answers no pings.\n\n");
        if (!results.idle().isEmpty()) {
            s.append("| transport | idle connections | heap per connection | direct per connection | resident per "
                    + "connection |\n| --- | ---: | ---: | ---: | ---: |\n");
            for (Bench.Idle x : results.idle()) {
                s.append("| ").append(x.transport()).append(" | ").append(x.connections()).append(" | ")
                        .append(perConnection(x.heapBytes(), x.connections())).append(" | ")
                        .append(perConnection(x.directBytes(), x.connections())).append(" | ")
                        .append(perConnection(x.rssBytes(), x.connections())).append(" |\n");
            }
        }
        if (!results.handshakesPerSecond().isEmpty()) {
            s.append("\nHandshakes a node accepts (").append(o.rateSeconds()).append(" s each, 16 dialers at a time: "
                    + "connect, full handshake, OPEN and HELLO, close; the dialers run on the same CPUs):\n\n");
            s.append("| transport | authenticated connections per second | failed |\n| --- | ---: | ---: |\n");
            for (Bench.Rate r : results.handshakesPerSecond()) {
                s.append("| ").append(r.transport()).append(" | ").append(fmt(r.perSecond(), 0)).append(" | ")
                        .append(r.failed()).append(" |\n");
            }
        }
        return s.toString();
    }

    private static String perConnection(long bytes, int connections) {
        return fmt(bytes / 1024.0 / connections, 1) + " KiB";
    }

    /** @return iperf3 first, then every measured party in the order measured */
    private List<String> whos() {
        List<String> whos = new ArrayList<>(List.of("iperf3"));
        whos.addAll(measured());
        return whos;
    }

    /** @return the Kizuna transports and comparison peers measured, in the order measured */
    private List<String> measured() {
        return results.goodput().stream().map(Bench.Goodput::who).filter(w -> !w.equals("iperf3")).distinct().toList();
    }

    private Optional<Bench.Goodput> find(String link, String who, String direction) {
        return results.goodput().stream()
                .filter(g -> g.link().equals(link) && g.who().equals(who) && g.direction().equals(direction))
                .findFirst();
    }

    /**
     * @return the median with the range, and, when runs failed, how many of those asked for completed and why
     *         the others failed, e.g. {@code 93.1 [92.0–94.2] (2 of 3 runs; 1 failed: closed by peer)}
     */
    static String figure(Bench.Goodput g) {
        String figure = g.mbits().isEmpty() ? "no run"
                : fmt(median(g.mbits()), 1) + " [" + fmt(Collections.min(g.mbits()), 1) + "–"
                        + fmt(Collections.max(g.mbits()), 1) + "]";
        int failed = g.wanted() - g.mbits().size();
        if (failed <= 0) {
            return figure;
        }
        return figure + " (" + g.mbits().size() + " of " + g.wanted() + " runs; " + failed + " failed: "
                + String.join("; ", g.failures().stream().distinct().map(BenchReport::cell).toList()) + ")";
    }

    /** @return text made safe for one Markdown table cell */
    private static String cell(String text) {
        String line = text.replace('|', '/').replace('\n', ' ').strip();
        return line.length() > 160 ? line.substring(0, 160) + "..." : line;
    }

    private static String ratio(Optional<Bench.Goodput> g, Optional<Bench.Goodput> base) {
        if (g.isEmpty() || base.isEmpty() || g.get().mbits().isEmpty() || base.get().mbits().isEmpty()) {
            return "";
        }
        return fmt(100 * median(g.get().mbits()) / median(base.get().mbits()), 0) + "%";
    }

    // ------------------------------------------------------------------ JSON

    String json() {
        StringBuilder s = new StringBuilder("{\n");
        s.append("  \"date\": ").append(str(date)).append(",\n");
        s.append("  \"machine\": ").append(str(machine())).append(",\n");
        s.append("  \"runs\": ").append(results.options().runs()).append(",\n");
        s.append("  \"smoke\": ").append(results.options().smoke()).append(",\n");
        s.append("  \"congestionControl\": [");
        s.append(String.join(", ", results.congestion().stream().map(BenchReport::str).toList())).append("],\n");
        s.append("  \"links\": [\n");
        List<String> links = new ArrayList<>();
        for (Bench.Link l : results.options().links()) {
            links.add("    {\"name\": " + str(l.name()) + ", \"rateMbit\": " + l.rateMbit() + ", \"rttMs\": "
                    + l.rttMs() + ", \"lossPct\": " + l.lossPct() + ", \"offloads\": " + l.offloads()
                    + ", \"bytesPerTransfer\": " + l.bytes()
                    + ", \"measuredRttMs\": " + fmt(results.rtts().getOrDefault(l.name(), 0.0), 3) + "}");
        }
        s.append(String.join(",\n", links)).append("\n  ],\n");
        s.append("  \"goodputMbit\": [\n");
        List<String> g = new ArrayList<>();
        for (Bench.Goodput x : results.goodput()) {
            g.add("    {\"link\": " + str(x.link()) + ", \"who\": " + str(x.who()) + ", \"direction\": "
                    + str(x.direction()) + ", \"median\": "
                    + (x.mbits().isEmpty() ? "null" : fmt(median(x.mbits()), 3)) + ", \"runs\": "
                    + numbers(x.mbits()) + ", \"wanted\": " + x.wanted() + ", \"failed\": ["
                    + String.join(", ", x.failures().stream().map(BenchReport::str).toList()) + "]}");
        }
        s.append(String.join(",\n", g)).append("\n  ],\n");
        s.append("  \"setupMs\": [\n");
        List<String> st = new ArrayList<>();
        for (Bench.Setup x : results.setups()) {
            st.add("    {\"kind\": " + str(x.kind()) + ", \"rttMs\": " + fmt(x.rttMs(), 3) + ", \"median\": "
                    + fmt(median(x.millis()), 3) + ", \"runs\": " + numbers(x.millis()) + "}");
        }
        s.append(String.join(",\n", st)).append("\n  ],\n");
        s.append("  \"cpuSecondsPerGB\": [\n");
        List<String> c = new ArrayList<>();
        for (Bench.Cost x : results.costs()) {
            c.add("    {\"transport\": " + str(x.transport()) + ", \"bytes\": " + x.bytes() + ", \"cpuSeconds\": "
                    + fmt(x.cpuSeconds(), 3) + ", \"perGB\": " + fmt(x.cpuSeconds() / (x.bytes() / 1e9), 3) + "}");
        }
        s.append(String.join(",\n", c)).append("\n  ],\n");
        s.append("  \"idleConnections\": [\n");
        List<String> idle = new ArrayList<>();
        for (Bench.Idle x : results.idle()) {
            idle.add("    {\"transport\": " + str(x.transport()) + ", \"connections\": " + x.connections()
                    + ", \"heapBytes\": " + x.heapBytes() + ", \"directBytes\": " + x.directBytes()
                    + ", \"rssBytes\": " + x.rssBytes() + "}");
        }
        s.append(String.join(",\n", idle)).append("\n  ],\n");
        s.append("  \"handshakesPerSecond\": [\n");
        List<String> rates = new ArrayList<>();
        for (Bench.Rate r : results.handshakesPerSecond()) {
            rates.add("    {\"transport\": " + str(r.transport()) + ", \"perSecond\": " + fmt(r.perSecond(), 3)
                    + ", \"failed\": " + r.failed() + "}");
        }
        s.append(String.join(",\n", rates)).append("\n  ]\n}\n");
        return s.toString();
    }

    private static String numbers(List<Double> values) {
        return "[" + String.join(", ", values.stream().map(v -> fmt(v, 3)).toList()) + "]";
    }

    private static String str(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }

    // ------------------------------------------------------------------ SVG

    /** One panel per link, each with its own scale: a bar per transport and direction, iperf3 as dashed lines. */
    String svg() {
        List<Bench.Link> links = results.options().links();
        List<String> transports = measured();
        int panelW = 60 + transports.size() * 84;
        int panelH = 260;
        int top = 50;
        int width = links.size() * panelW + 40;
        StringBuilder s = new StringBuilder();
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(width).append("\" height=\"")
                .append(panelH + top + 70).append("\" font-family=\"sans-serif\" font-size=\"11\">\n");
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        s.append("<text x=\"20\" y=\"20\" font-size=\"14\">Goodput per transport (median, Mbit/s); dashed: iperf3 "
                + "over the same link (blue upload, orange download)</text>\n");
        for (int i = 0; i < links.size(); i++) {
            Bench.Link link = links.get(i);
            int x0 = 20 + i * panelW;
            double max = results.goodput().stream().filter(g -> g.link().equals(link.name()))
                    .filter(g -> !g.mbits().isEmpty()).mapToDouble(g -> median(g.mbits())).max().orElse(1) * 1.15;
            int base = top + panelH;
            s.append("<line x1=\"").append(x0 + 40).append("\" y1=\"").append(top).append("\" x2=\"").append(x0 + 40)
                    .append("\" y2=\"").append(base).append("\" stroke=\"#888\"/>\n");
            s.append("<line x1=\"").append(x0 + 40).append("\" y1=\"").append(base).append("\" x2=\"")
                    .append(x0 + panelW - 10).append("\" y2=\"").append(base).append("\" stroke=\"#888\"/>\n");
            s.append(text(x0 + 36, top + 4, fmt(max, 0), "end"));
            s.append(text(x0 + 36, base, "0", "end"));
            s.append(text(x0 + panelW / 2 + 15, base + 40, link.name(), "middle"));
            for (int t = 0; t < transports.size(); t++) {
                int bx = x0 + 50 + t * 84;
                for (int d = 0; d < 2; d++) {
                    String direction = d == 0 ? "upload" : "download";
                    Optional<Bench.Goodput> g = find(link.name(), transports.get(t), direction);
                    if (g.isEmpty() || g.get().mbits().isEmpty()) {
                        continue;
                    }
                    double v = median(g.get().mbits());
                    int h = (int) Math.round(panelH * v / max);
                    s.append("<rect x=\"").append(bx + d * 28).append("\" y=\"").append(base - h)
                            .append("\" width=\"26\" height=\"").append(h).append("\" fill=\"")
                            .append(d == 0 ? "#4c78a8" : "#f58518").append("\"/>\n");
                    s.append(text(bx + d * 28 + 13, base - h - 3, fmt(v, 0), "middle"));
                }
                s.append(text(bx + 27, base + 16, transports.get(t), "middle"));
            }
            for (int d = 0; d < 2; d++) {
                Optional<Bench.Goodput> ip = find(link.name(), "iperf3", d == 0 ? "upload" : "download");
                if (ip.isPresent() && !ip.get().mbits().isEmpty()) {
                    int y = base - (int) Math.round(panelH * median(ip.get().mbits()) / max);
                    s.append("<line x1=\"").append(x0 + 40).append("\" y1=\"").append(y).append("\" x2=\"")
                            .append(x0 + panelW - 10).append("\" y2=\"").append(y).append("\" stroke=\"")
                            .append(d == 0 ? "#4c78a8" : "#f58518").append("\" stroke-dasharray=\"6,4\"/>\n");
                }
            }
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String text(int x, int y, String text, String anchor) {
        return "<text x=\"" + x + "\" y=\"" + y + "\" text-anchor=\"" + anchor + "\">"
                + text.replace("&", "&amp;").replace("<", "&lt;") + "</text>\n";
    }

    // ------------------------------------------------------------------ helpers

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    static String fmt(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String machine() {
        String cpu = "";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> " (" + l.substring(l.indexOf(':') + 1).strip() + ")").orElse("");
        } catch (IOException e) {
            // no model name then
        }
        return Runtime.getRuntime().availableProcessors() + " CPUs" + cpu + ", Linux " + System.getProperty("os.version")
                + ", Java " + System.getProperty("java.version");
    }

    /** @return Kizuna's and Netty's versions from the distribution's jars, and js-libp2p's from its package.json */
    private String versions() {
        List<String> v = new ArrayList<>();
        try (var jars = Files.list(results.options().dist().resolve("bundle"))) {
            for (String name : jars.map(f -> f.getFileName().toString()).sorted().toList()) {
                if (name.startsWith("core-")) {
                    v.add("Kizuna " + name.substring(5, name.length() - 4));
                } else if (name.startsWith("netty-common-")) {
                    v.add("Netty " + name.substring(13, name.length() - 4));
                }
            }
        } catch (IOException e) {
            v.add("(no distribution to read versions from: " + e.getMessage() + ")");
        }
        if (results.options().libp2p() != null) {
            Path pkg = results.options().libp2p().resolveSibling("libp2p").resolve("package.json");
            try {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"libp2p\": \"([^\"]+)\"")
                        .matcher(Files.readString(pkg));
                v.add("js-libp2p " + (m.find() ? m.group(1) : "unknown") + " on Node 22");
            } catch (IOException e) {
                v.add("js-libp2p (unknown version: " + e.getMessage() + ")");
            }
        }
        return String.join(", ", v);
    }

    private static String version(String... cmd) {
        String out = Lab.exec(List.of(cmd)).output().strip();
        return out.lines().findFirst().orElse("unknown");
    }
}
