package io.kizuna.lab;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The connectivity matrix: every ordered pair of the lab's five NAT behaviours,
 * A dialing B, each peer reachable only at its relay address, and what the
 * connection manager's upgrade made of it: the final path, the punch rounds, and
 * the milliseconds from the relayed connection to the direct one. Writes
 * {@code connectivity.md} and the 5×5 picture {@code connectivity.svg} into the
 * output folder. Run by {@code itests/bench/connectivity} as root.
 *
 * <pre>
 * Connectivity --dist DIR --out DIR [--pings N] [--only A&gt;B,...]
 * </pre>
 */
public final class Connectivity {

    private static final Lab.Nat[] NATS = Lab.Nat.values();
    private static final Pattern PUNCH_FAILED = Pattern.compile(
            "to punch failed \\(attempt 1 of \\d+\\): punch with \\S+: ([^;\\n]+)");
    private static final Pattern WEBRTC_FAILED = Pattern.compile("webrtc failed \\(attempt 1 of \\d+\\): ([^;\\n]+)");

    /**
     * One pair's row.
     *
     * @param a       the dialer's NAT
     * @param b       the listener's NAT
     * @param outcome what A ended with
     * @param punch   why the punch failed, or empty
     * @param webrtc  why WebRTC failed, or empty
     */
    record Row(Lab.Nat a, Lab.Nat b, NatPair.Outcome outcome, String punch, String webrtc) { }

    private Connectivity() {
    }

    /**
     * @param args {@code --dist DIR --out DIR [--pings N] [--only A>B,...]}
     */
    public static void main(String[] args) throws Exception {
        Path dist = null;
        Path out = null;
        int pings = 22;
        List<String> only = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--dist" -> dist = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--pings" -> pings = Integer.parseInt(args[++i]);
                case "--only" -> only.addAll(List.of(args[++i].toUpperCase(Locale.ROOT).split(",")));
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: Connectivity --dist DIR --out DIR [--pings N] [--only A>B,...]");
            }
        }
        if (dist == null || out == null || pings < 1 || pings > 100) {
            throw new IllegalArgumentException("usage: Connectivity --dist DIR --out DIR [--pings 1-100] "
                    + "[--only A>B,...]");
        }
        System.setProperty("lab.dist", dist.toString());
        Path work = Path.of(System.getProperty("lab.work", "itests/lab/target/lab-work")).resolve("connectivity")
                .toAbsolutePath();
        long started = System.nanoTime();
        List<Row> rows = new ArrayList<>();
        try (Lab lab = Lab.open(work)) {
            Map<Lab.Nat, Lab.Site> dialers = new EnumMap<>(Lab.Nat.class);
            Map<Lab.Nat, Lab.Site> listenerSites = new EnumMap<>(Lab.Nat.class);
            for (Lab.Nat n : NATS) {
                dialers.put(n, lab.addSite(n));
            }
            for (Lab.Nat n : NATS) {
                listenerSites.put(n, lab.addSite(n));
            }
            lab.startCoturn();
            Path withEcho = RelayLabIT.distribution(work);
            String relayId = RelayLabIT.startRelay(lab, work, withEcho);
            Map<Lab.Nat, NatPair.Listening> listeners = new EnumMap<>(Lab.Nat.class);
            try {
                for (Lab.Nat n : NATS) {
                    listeners.put(n, NatPair.listen(lab, work.resolve("b-" + name(n)), withEcho, relayId,
                            listenerSites.get(n)));
                }
                for (Lab.Nat a : NATS) {
                    for (Lab.Nat b : NATS) {
                        if (!only.isEmpty() && !only.contains(a + ">" + b)) {
                            continue;
                        }
                        System.out.println("connectivity: " + name(a) + " -> " + name(b));
                        NatPair.Outcome o = NatPair.dial(lab, work.resolve(name(a) + "-" + name(b)), withEcho,
                                dialers.get(a), listeners.get(b), pings);
                        Row r = new Row(a, b, o, first(PUNCH_FAILED, o.evidence()), first(WEBRTC_FAILED,
                                o.evidence()));
                        rows.add(r);
                        System.out.println("connectivity: " + name(a) + " -> " + name(b) + ": " + o.path()
                                + (o.rounds() > 0 ? ", round " + o.rounds() : "")
                                + (o.millis() >= 0 ? ", " + o.millis() + " ms after relay" : "")
                                + (r.punch().isEmpty() ? "" : "; punch: " + r.punch()));
                    }
                }
            } finally {
                for (NatPair.Listening l : listeners.values()) {
                    l.close();
                }
            }
        }
        long seconds = (System.nanoTime() - started) / 1_000_000_000L;
        Files.createDirectories(out);
        String command = "itests/bench/connectivity" + (pings == 22 ? "" : " --pings " + pings)
                + (only.isEmpty() ? "" : " --only " + String.join(",", only));
        Files.writeString(out.resolve("connectivity.md"), markdown(rows, command, seconds), StandardCharsets.UTF_8);
        Files.writeString(out.resolve("connectivity.svg"), svg(rows), StandardCharsets.UTF_8);
        System.out.println("connectivity: wrote " + out.resolve("connectivity.md") + " and connectivity.svg in "
                + seconds + " s");
    }

    private static String first(Pattern p, String text) {
        Matcher m = p.matcher(text);
        return m.find() ? m.group(1).strip() : "";
    }

    /** @return e.g. {@code port-restricted cone} */
    static String name(Lab.Nat n) {
        return switch (n) {
            case NONE -> "open";
            case FULL_CONE -> "full-cone";
            case RESTRICTED_CONE -> "restricted-cone";
            case PORT_RESTRICTED_CONE -> "port-restricted";
            case SYMMETRIC -> "symmetric";
        };
    }

    /** @return whether the goal wants this pair direct */
    static boolean goalDirect(Lab.Nat a, Lab.Nat b) {
        if (a != Lab.Nat.SYMMETRIC && b != Lab.Nat.SYMMETRIC) {
            return true;
        }
        Lab.Nat other = a == Lab.Nat.SYMMETRIC ? b : a;
        return other == Lab.Nat.NONE || other == Lab.Nat.FULL_CONE || other == Lab.Nat.RESTRICTED_CONE;
    }

    /** Why a pair that stayed relayed could not go direct, from the NAT behaviours. */
    static String why(Lab.Nat a, Lab.Nat b) {
        if (a == Lab.Nat.SYMMETRIC && b == Lab.Nat.SYMMETRIC) {
            return "both NATs give each destination a new port: neither side can learn the port the other's "
                    + "probes come from, so no probe gets in (port prediction and birthday probes are not built "
                    + "yet)";
        }
        if (a == Lab.Nat.SYMMETRIC || b == Lab.Nat.SYMMETRIC) {
            return "the symmetric side's probes leave from a port nobody was told, and the port-restricted side "
                    + "lets in only the exact address and port it sent to (port mapping and prediction are not "
                    + "built yet)";
        }
        return "not expected: both sides keep one mapping";
    }

    static String markdown(List<Row> rows, String command, long seconds) {
        StringBuilder md = new StringBuilder();
        md.append("# Connectivity matrix\n\n")
                .append("Written by `").append(command).append("` (").append(LocalDate.now(ZoneOffset.UTC))
                .append(", ").append(seconds).append(" s); do not edit by hand.\n\n")
                .append("Every ordered pair of the lab's NAT behaviours: peer A (row) dials peer B (column), ")
                .append("each reachable only at its relay address on the lab's public segment. Both run ")
                .append("the runtime distribution with QUIC, TCP, WebRTC and the nat bundle, and the lab's ")
                .append("STUN server (coturn). A pings B through the relay; the connection manager upgrades ")
                .append("the relayed connection by itself: a hole punch into QUIC first, then WebRTC. ")
                .append("The path is that of the last ping; the time is from the relayed connection's ")
                .append("handshake to the direct one's, as `kizuna:peers` shows it. The NATs are Linux ")
                .append("routers in network namespaces (`itests/lab`, `Lab.Nat`): open (no NAT), full cone and ")
                .append("restricted cone (nftables maps), port-restricted cone (MASQUERADE) and symmetric ")
                .append("(MASQUERADE --random-fully). Each A is a freshly started JVM, so the times include ")
                .append("loading and compiling the code a punch runs, on a shared machine with 2 cores.\n\n")
                .append("![A 5 by 5 grid of the final path of each pair](connectivity.svg)\n\n");
        md.append("| A \\ B |");
        for (Lab.Nat b : NATS) {
            md.append(' ').append(name(b)).append(" |");
        }
        md.append("\n|---|");
        md.append("---|".repeat(NATS.length));
        md.append('\n');
        for (Lab.Nat a : NATS) {
            md.append("| **").append(name(a)).append("** |");
            for (Lab.Nat b : NATS) {
                Row r = find(rows, a, b);
                md.append(' ').append(r == null ? "not run" : cell(r)).append(" |");
            }
            md.append('\n');
        }
        md.append("\nGoal: every pair without a symmetric side direct over punched QUIC in the first round; ")
                .append("symmetric with open, full cone and restricted cone direct too. ");
        long met = rows.stream().filter(r -> !goalDirect(r.a(), r.b()) || r.outcome().path().equals("punched quic"))
                .count();
        md.append(met).append(" of ").append(rows.size()).append(" pairs run meet it.\n\n");
        md.append("| A | B | path | rounds | ms after relay | note |\n|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            NatPair.Outcome o = r.outcome();
            String note = o.direct() ? "" : why(r.a(), r.b()) + ". Punch: " + r.punch()
                    + (r.webrtc().isEmpty() ? "" : ". WebRTC: " + webrtc(r.webrtc()));
            if (o.direct() && goalDirect(r.a(), r.b()) && !o.path().equals("punched quic")) {
                note = "goal missed: punch " + r.punch();
            }
            md.append("| ").append(name(r.a())).append(" | ").append(name(r.b())).append(" | ").append(o.path())
                    .append(" | ").append(o.rounds() > 0 ? o.rounds() : "-").append(" | ")
                    .append(o.millis() >= 0 ? o.millis() : "-").append(" | ").append(note.replace("|", "/"))
                    .append(" |\n");
        }
        return md.toString();
    }

    /** @return a WebRTC failure without the peer's id and the relay's address: {@code (ICE CHECKING, ...) ...} */
    static String webrtc(String failure) {
        return failure.replaceFirst("^WebRTC connection to \\S+ via \\S+ ", "");
    }

    private static String cell(Row r) {
        NatPair.Outcome o = r.outcome();
        return switch (o.path()) {
            case "relay" -> "relay";
            case "punched quic" -> "QUIC r" + o.rounds() + ", " + o.millis() + " ms";
            default -> o.path() + (o.millis() >= 0 ? ", " + o.millis() + " ms" : "");
        };
    }

    private static Row find(List<Row> rows, Lab.Nat a, Lab.Nat b) {
        return rows.stream().filter(r -> r.a() == a && r.b() == b).findFirst().orElse(null);
    }

    /** The 5×5 grid: rows the dialer's NAT, columns the listener's, each cell coloured by its final path. */
    static String svg(List<Row> rows) {
        int cell = 130;
        int left = 130;
        int top = 60;
        int w = left + cell * NATS.length + 20;
        int h = top + cell / 2 * NATS.length + 70;
        StringBuilder s = new StringBuilder();
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").append(w).append("\" height=\"").append(h)
                .append("\" font-family=\"sans-serif\" font-size=\"12\">\n");
        s.append("<text x=\"").append(left).append("\" y=\"20\" font-weight=\"bold\">B (listens, relay address ")
                .append("only)</text>\n");
        s.append("<text x=\"10\" y=\"").append(top - 10).append("\" font-weight=\"bold\">A (dials)</text>\n");
        for (int j = 0; j < NATS.length; j++) {
            s.append("<text x=\"").append(left + j * cell + cell / 2).append("\" y=\"").append(top - 10)
                    .append("\" text-anchor=\"middle\">").append(name(NATS[j])).append("</text>\n");
        }
        for (int i = 0; i < NATS.length; i++) {
            int y = top + i * cell / 2;
            s.append("<text x=\"10\" y=\"").append(y + cell / 4 + 4).append("\">").append(name(NATS[i]))
                    .append("</text>\n");
            for (int j = 0; j < NATS.length; j++) {
                Row r = find(rows, NATS[i], NATS[j]);
                String fill = r == null ? "#eeeeee" : switch (r.outcome().path()) {
                    case "punched quic" -> "#7fc97f";
                    case "relay" -> "#fdc086";
                    default -> "#80b1d3";
                };
                int x = left + j * cell;
                s.append("<rect x=\"").append(x).append("\" y=\"").append(y).append("\" width=\"").append(cell - 4)
                        .append("\" height=\"").append(cell / 2 - 4).append("\" fill=\"").append(fill)
                        .append("\" stroke=\"#555\"/>\n");
                s.append("<text x=\"").append(x + cell / 2 - 2).append("\" y=\"").append(y + cell / 4 + 2)
                        .append("\" text-anchor=\"middle\">").append(r == null ? "not run" : cell(r))
                        .append("</text>\n");
            }
        }
        int ly = top + cell / 2 * NATS.length + 25;
        String[][] legend = {{"#7fc97f", "punched QUIC (round, ms after relay)"}, {"#80b1d3", "WebRTC"},
            {"#fdc086", "stays relayed"}};
        int lx = left;
        for (String[] l : legend) {
            s.append("<rect x=\"").append(lx).append("\" y=\"").append(ly - 11).append("\" width=\"14\" height=\"14\" ")
                    .append("fill=\"").append(l[0]).append("\" stroke=\"#555\"/>\n");
            s.append("<text x=\"").append(lx + 20).append("\" y=\"").append(ly).append("\">").append(l[1])
                    .append("</text>\n");
            lx += 20 + l[1].length() * 7 + 20;
        }
        s.append("</svg>\n");
        return s.toString();
    }
}
