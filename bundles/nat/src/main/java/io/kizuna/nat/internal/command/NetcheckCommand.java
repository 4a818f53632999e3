package io.kizuna.nat.internal.command;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.kizuna.nat.internal.NatDiscovery;
import io.kizuna.nat.internal.NatService;
import io.kizuna.transport.NatType;

import org.apache.felix.service.command.Descriptor;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code kizuna:netcheck}: what the network in front of this node does to UDP, as
 * STUN servers see it: reachability, reflexive addresses, NAT type with the
 * RFC 5780 behaviours behind it, hairpinning, binding lifetime when configured,
 * latency, and every failed probe with its reason.
 */
@Component(service = NetcheckCommand.class, property = {
        "osgi.command.scope=kizuna",
        "osgi.command.function=netcheck"})
public final class NetcheckCommand {

    /** The whole check gives up after this long. */
    static final Duration LIMIT = Duration.ofMinutes(5);

    private final NatService nat;

    /**
     * Activated by Declarative Services.
     *
     * @param nat the NAT service
     */
    @Activate
    public NetcheckCommand(@Reference NatService nat) {
        this.nat = nat;
    }

    /**
     * Runs the check.
     *
     * @param servers STUN servers as host:port; they override the configured ones
     * @return the report text
     * @throws Exception when no server is given or configured, or the check fails
     */
    @Descriptor("check UDP reachability and the NAT in front of this node with STUN (RFC 8489, RFC 5780)")
    public String netcheck(@Descriptor("STUN servers host:port (default: PID io.kizuna.nat stunServers)") String... servers)
            throws Exception {
        List<InetSocketAddress> targets = new ArrayList<>();
        for (String s : servers) {
            targets.add(NatService.parseAddress(s));
        }
        if (targets.isEmpty() && nat.servers().isEmpty()) {
            throw new IllegalArgumentException("no STUN server given and none configured "
                    + "(set stunServers in PID io.kizuna.nat, or give host:port)");
        }
        try {
            List<NatDiscovery.Report> reports = nat.check(targets).get(LIMIT.toSeconds(), TimeUnit.SECONDS);
            return format(reports) + punching(NatService.overall(reports), nat.hasQuicListener())
                    + "punches: " + nat.punchStats().summary() + "\n";
        } catch (ExecutionException e) {
            throw new IllegalStateException("netcheck failed: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("netcheck did not finish in " + LIMIT.toMinutes() + " minutes");
        }
    }

    /**
     * The report text.
     *
     * @param reports one per server
     * @return lines for the console
     */
    static String format(List<NatDiscovery.Report> reports) {
        StringBuilder out = new StringBuilder();
        boolean reachable = reports.stream().anyMatch(r -> r.reflexive().isPresent());
        out.append("UDP: ").append(reachable ? "reachable" : "blocked (no STUN server answered)").append('\n');
        var reflexive = reports.stream().flatMap(r -> r.reflexive().stream()).map(NetcheckCommand::text).distinct().toList();
        out.append("reflexive address").append(reflexive.size() == 1 ? "" : "es").append(": ")
                .append(reflexive.isEmpty() ? "none" : String.join(", ", reflexive)).append('\n');
        long onQuic = reports.stream().filter(NatDiscovery.Report::quicSocket).count();
        if (!reports.isEmpty()) {
            out.append("socket: ").append(onQuic == reports.size()
                    ? "the QUIC listener's, so peers reach this node over QUIC at the reflexive address"
                    : onQuic == 0 ? "discovery's own, not the QUIC listener's (see each server)"
                    : "the QUIC listener's for some servers, discovery's own for others (see each server)")
                    .append('\n');
        }
        NatDiscovery.Report best = reports.stream().filter(r -> r.mapping() != NatDiscovery.Mapping.UNKNOWN).findFirst()
                .orElse(reports.isEmpty() ? null : reports.get(0));
        if (best != null) {
            out.append("NAT type: ").append(best.type()).append(" (")
                    .append(best.natPresent() ? "NAT" : reachable ? "no NAT" : "unknown")
                    .append(", mapping ").append(name(best.mapping())).append(", filtering ").append(name(best.filtering()))
                    .append(")\n");
            boolean differsAcrossServers = reflexive.size() > 1;
            out.append("mapping varies by destination: ").append(best.mappingVariesByDestination()
                    .map(v -> v || differsAcrossServers ? "yes" : "no").orElse(differsAcrossServers ? "yes" : "unknown"))
                    .append('\n');
            out.append("hairpinning: ").append(best.hairpinning().map(h -> h ? "yes" : "no")
                    .orElse(best.natPresent() ? "not tested" : "not needed (no NAT)")).append('\n');
            out.append("binding lifetime: ").append(best.lifetime().map(d -> "survives " + d.toSeconds() + " s idle")
                    .orElse("not measured")).append('\n');
        }
        for (NatDiscovery.Report r : reports) {
            out.append("server ").append(text(r.server())).append(": ")
                    .append(r.rtt().map(d -> String.format(Locale.ROOT, "latency %.1f ms", d.toNanos() / 1e6))
                            .orElse("no answer"))
                    .append(r.reflexive().map(a -> ", reflexive " + text(a)).orElse(""))
                    .append(", ").append(r.type()).append('\n');
            out.append("  from ").append(r.socket()).append('\n');
            for (String f : r.failures()) {
                out.append("  failed probe: ").append(f).append('\n');
            }
        }
        return out.toString();
    }

    /**
     * Whether UDP hole punching into QUIC is expected to work from here, and why, from this node's NAT type; the
     * peer's NAT matters as much, so it says with which peers.
     *
     * @param type     the NAT type discovery found
     * @param quic     whether a QUIC listener is here (punched connections arrive at it)
     * @return a line for the console
     */
    static String punching(NatType type, boolean quic) {
        String why = switch (type) {
            case OPEN -> "expected to work with peers behind any NAT: this node has no NAT in front of it";
            case FULL_CONE -> "expected to work with peers behind any NAT: this NAT keeps one mapping per socket "
                    + "and lets anybody in through it";
            case RESTRICTED_CONE -> "expected to work with peers behind any NAT: this NAT keeps one mapping per "
                    + "socket and lets in any port of an address this node sent to, so a symmetric peer's new "
                    + "port gets in too";
            case PORT_RESTRICTED_CONE -> "expected to work with open peers and peers behind cone NATs, not with "
                    + "peers behind symmetric NATs: this NAT lets in only the address and port this node sent to, "
                    + "and a symmetric peer's port is not known in advance";
            case SYMMETRIC -> "expected to work only with open peers and peers behind full or restricted cone NATs: "
                    + "this NAT gives each destination a new port, which a peer's port-restricted or symmetric NAT "
                    + "does not let in";
            case BLOCKED -> "not expected to work: no STUN server answered over UDP, so peers stay on a relay";
            case UNKNOWN -> "cannot tell: the NAT type is unknown (a STUN server with a second address tells it)";
        };
        return "UDP hole punching: " + why + (quic ? "" : "; and this node has no QUIC listener, which punched "
                + "connections need, so peers upgrade over WebRTC instead") + "\n";
    }

    private static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    private static String text(InetSocketAddress a) {
        return NatDiscovery.text(a);
    }
}
