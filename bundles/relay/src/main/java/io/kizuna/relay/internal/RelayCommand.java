package io.kizuna.relay.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.RelayNode;

import org.apache.felix.service.command.Descriptor;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;

/**
 * {@code kizuna:relay}: the relay service (reservations, circuits, limits,
 * bytes, refusals), this node's own reservations on relays, and the known
 * relays measured by find_best_relay; {@code kizuna:relay token} issues
 * admission tokens signed by this node's key.
 */
@Component(service = RelayCommand.class, property = {
        "osgi.command.scope=kizuna",
        "osgi.command.function=relay"})
public final class RelayCommand {

    private final RelayService service;
    private final RelayTransport transport;

    /**
     * @param service   the relay service component
     * @param transport the relay transport, if present
     */
    @Activate
    public RelayCommand(@Reference RelayService service,
            @Reference(cardinality = ReferenceCardinality.OPTIONAL) RelayTransport transport) {
        this.service = service;
        this.transport = transport;
    }

    /**
     * @return the status report
     */
    @Descriptor("show the relay service (reservations, circuits, limits, bytes), this node's reservations and the best relay")
    public String relay() {
        StringBuilder out = new StringBuilder();
        RelayServer s = service.server();
        if (s == null) {
            out.append("relay service: off (enable with ./kizuna --relay or enabled=true in PID io.kizuna.relay)\n");
        } else {
            RelaySettings c = s.settings();
            out.append("relay service: on, admission ").append(c.admission().policy().name().toLowerCase())
                    .append('\n');
            List<RelayServer.ReservationView> res = s.reservations();
            List<RelayServer.CircuitView> circ = s.circuits();
            out.append(String.format("limits: reservations %d (per peer %d, per source %d, new per source %s/min), "
                    + "circuits %d (per peer %d, per dialer %d, per source %d), per circuit %s / %s / %s, idle %s, "
                    + "total %s, new streams per source %s/s, private sources %s%n",
                    c.maxReservations(), c.maxReservationsPerPeer(), c.maxReservationsPerSource(),
                    c.reservationsPerSourcePerMinute() == 0 ? "unlimited"
                            : Integer.toString(c.reservationsPerSourcePerMinute()),
                    c.maxCircuits(), c.maxCircuitsPerPeer(), c.maxCircuitsPerDialer(), c.maxCircuitsPerSource(),
                    bytes(c.circuitQuota().maxBytes()), seconds(c.circuitQuota().maxSeconds()),
                    rate(c.circuitQuota().rate()), seconds(c.circuitIdle().toSeconds()), rate(c.totalBytesPerSecond()),
                    c.streamsPerSource() == 0 ? "unlimited" : Integer.toString(c.streamsPerSource()),
                    c.allowPrivateAddresses() ? "allowed" : "refused"));
            out.append("reservations: ").append(res.size()).append('\n');
            Instant now = Instant.now();
            for (RelayServer.ReservationView r : res) {
                out.append(String.format("  %s from %s, expires in %ds%n", r.peer(),
                        r.source().getAddress().getHostAddress() + ":" + r.source().getPort(),
                        Math.max(0, Duration.between(now, r.expires()).toSeconds())));
            }
            out.append("circuits: ").append(circ.size()).append('\n');
            for (RelayServer.CircuitView v : circ) {
                out.append(String.format("  %s %s -> %s, %s, %ds%n", v.id().substring(0, 8), v.dialer().shortForm(),
                        v.target().shortForm(), bytes(v.bytes()),
                        Duration.between(v.started(), now).toSeconds()));
            }
            RelayServer.Counters k = s.counters();
            out.append(String.format("forwarded %s; reservations granted %d, circuits opened %d, "
                    + "protocol violations %d%n", bytes(k.bytesForwarded()), k.reservationsGranted(),
                    k.circuitsOpened(), k.protocolViolations()));
            List<String> refused = new ArrayList<>();
            for (Map.Entry<?, Long> e : k.refusals().entrySet()) {
                refused.add(e.getKey() + "=" + e.getValue());
            }
            out.append("refused: ").append(refused.isEmpty() ? "none" : String.join(", ", refused)).append('\n');
        }
        if (transport != null) {
            for (RelayListener l : transport.listeners()) {
                out.append("reserved on ").append(l.relay()).append(": ")
                        .append(l.reserved() ? "held, expires " + l.expires() : "not held (" + l.lastError() + ")")
                        .append(", ").append(l.reservationCount()).append(" reservation(s), ")
                        .append(l.acceptedCount()).append(" circuit(s) taken\n");
            }
            for (RelayNode n : transport.selector().last()) {
                out.append("known relay ").append(n.address()).append(": ")
                        .append(n.latency().map(d -> String.format("rtt %.1f ms", d.toNanos() / 1e6))
                                .orElse("unreachable"))
                        .append(n.available() ? ", has room" : ", no room").append('\n');
            }
            transport.selector().best().ifPresent(b -> out.append("best relay: ").append(b.address()).append('\n'));
        }
        return out.toString();
    }

    /**
     * @param what       {@code token} or {@code best}
     * @param args       for token: subject PeerId, validity in days, then optional bytes, seconds, bytes/s
     * @return the token, or the measured relays
     * @throws Exception when the arguments are wrong or measuring fails
     */
    @Descriptor("relay token <peer-id> <days> [maxBytes maxSeconds bytesPerSecond]: issue an admission token "
            + "signed by this node; relay best: measure the known relays now")
    public String relay(String what, String... args) throws Exception {
        if ("best".equals(what)) {
            if (transport == null) {
                throw new IllegalArgumentException("no relay transport");
            }
            List<RelayNode> nodes = transport.selector().measure().toCompletableFuture().get(10, TimeUnit.SECONDS);
            StringBuilder out = new StringBuilder();
            for (RelayNode n : nodes) {
                out.append(n.address()).append(": ").append(n.latency()
                        .map(d -> String.format("rtt %.1f ms", d.toNanos() / 1e6)).orElse("unreachable"))
                        .append(n.available() ? ", has room" : ", no room").append('\n');
            }
            out.append("best: ").append(transport.selector().best().map(b -> b.address().toString()).orElse("none"));
            return out.toString();
        }
        if (!"token".equals(what) || args.length != 2 && args.length != 5) {
            throw new IllegalArgumentException("usage: kizuna:relay token <peer-id> <days> "
                    + "[maxBytes maxSeconds bytesPerSecond], or kizuna:relay best");
        }
        if (transport == null) {
            throw new IllegalArgumentException("no relay transport, hence no identity to sign with");
        }
        PeerId subject = PeerId.parse(args[0]);
        long days = Long.parseLong(args[1]);
        long maxBytes = args.length == 5 ? Long.parseLong(args[2]) : 0;
        long maxSeconds = args.length == 5 ? Long.parseLong(args[3]) : 0;
        long rate = args.length == 5 ? Long.parseLong(args[4]) : 0;
        return RelayToken.issue(transport.identity(), subject, Instant.now().plus(Duration.ofDays(days)), maxBytes,
                maxSeconds, rate).text();
    }

    private static String bytes(long b) {
        if (b <= 0) {
            return "unlimited";
        }
        if (b >= 1L << 30) {
            return String.format("%.1f GiB", b / (double) (1L << 30));
        }
        if (b >= 1L << 20) {
            return String.format("%.1f MiB", b / (double) (1L << 20));
        }
        return b + " B";
    }

    private static String seconds(long s) {
        return s <= 0 ? "unlimited" : s + " s";
    }

    private static String rate(long r) {
        return r <= 0 ? "unlimited" : bytes(r) + "/s";
    }
}
