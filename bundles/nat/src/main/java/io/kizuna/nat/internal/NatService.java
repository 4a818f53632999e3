package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.kizuna.nat.internal.punch.PunchSettings;
import io.kizuna.nat.internal.punch.PunchStats;
import io.kizuna.transport.NatTraversal;
import io.kizuna.transport.NatType;
import io.kizuna.transport.udp.SharedUdpSocket;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

/**
 * NAT behaviour discovery as a service, and the optional STUN server. Discovery
 * runs on its own thread (it blocks on probes), one run at a time; with no STUN
 * server configured it reports {@link NatType#UNKNOWN} and sends nothing.
 *
 * <p>When the QUIC transport listens, discovery runs on its listener's socket
 * (a {@link SharedUdpSocket} service), so the reflexive address it finds is the
 * one peers reach over QUIC; without one, or when that socket cannot reach a
 * server, it runs on a socket of its own and its reports say why.
 */
@Component(service = {NatTraversal.class, NatService.class}, configurationPid = NatConfig.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = NatConfig.class)
public final class NatService implements NatTraversal {

    private static final System.Logger LOG = System.getLogger(NatService.class.getName());

    /** At most this many discovery runs wait for the one running. */
    static final int MAX_QUEUED = 4;

    private final List<InetSocketAddress> servers;
    private final PunchSettings punch;
    private final NatDiscovery discovery;
    private final Duration lifetime;
    private final StunServer server;
    private final ExecutorService executor;
    private final List<SharedUdpSocket> sockets = new CopyOnWriteArrayList<>();
    private volatile InetSocketAddress quicReflexive;
    private volatile NatType knownType = NatType.UNKNOWN;
    private final PunchStats punchStats = new PunchStats();

    /**
     * Activated by Declarative Services.
     *
     * @param config the configuration
     * @throws IOException when the configured STUN server cannot bind its sockets
     */
    @Activate
    public NatService(NatConfig config) throws IOException {
        this(parseServers(config.stunServers()), new StunClient.Timing(Duration.ofMillis(config.probeRtoMillis()),
                config.probeSends(), config.probeFinalWait()),
                config.lifetimeMaxSeconds() > 0 ? Duration.ofSeconds(config.lifetimeMaxSeconds()) : null,
                // Checked before the STUN server starts, so a bad value leaves nothing running.
                PunchSettings.of(config.punchNetworks(), config.punchPrivateAddresses(), config.punchRounds(),
                        config.punchRoundMillis(), config.punchSessionsPerPeerPerMinute(), config.maxPunchSessions()),
                config.serverEnabled() ? startServer(config) : null);
    }

    NatService(List<InetSocketAddress> servers, StunClient.Timing timing, Duration lifetime, StunServer server) {
        this(servers, timing, lifetime, PunchSettings.of(new String[0], false, PunchSettings.DEFAULT_ROUNDS,
                PunchSettings.DEFAULT_ROUND_MILLIS, PunchSettings.DEFAULT_PER_PEER_PER_MINUTE,
                PunchSettings.DEFAULT_MAX_SESSIONS), server);
    }

    private NatService(List<InetSocketAddress> servers, StunClient.Timing timing, Duration lifetime,
            PunchSettings punch, StunServer server) {
        this.punch = punch;
        this.servers = List.copyOf(servers);
        this.discovery = new NatDiscovery(timing);
        this.lifetime = lifetime;
        this.server = server;
        this.executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(MAX_QUEUED), r -> {
            Thread t = new Thread(r, "kizuna-nat-discovery");
            t.setDaemon(true);
            return t;
        });
    }

    /** @return the hole-punching settings, checked at activation, for the punch engine */
    public PunchSettings punchSettings() {
        return punch;
    }

    /**
     * @return the reflexive address of the QUIC listener's socket that the last discovery on it found, for the
     *         punch engine's candidates (it does not run discovery: a punch must not wait for STUN)
     */
    public Optional<InetSocketAddress> knownReflexive() {
        return Optional.ofNullable(quicReflexive);
    }

    /** The Binding a punch sends to learn a socket's mapping: two sends 250 ms apart, given up 500 ms later. */
    static final StunClient.Timing PUNCH_BINDING = new StunClient.Timing(Duration.ofMillis(250), 2, 2);

    /**
     * The mapped address of a socket a punch sends from, learned with one STUN
     * Binding to the first configured server it can reach (at most
     * {@link #PUNCH_BINDING}'s 750 ms). For a QUIC listener's socket the address
     * the last discovery found serves when there is one, and what this Binding
     * finds is kept for the next punch; a fresh punch socket always asks, since
     * its mapping is new.
     *
     * @param socket   the socket
     * @param listener whether it is a QUIC listener's socket, not a punch socket
     * @return the mapped address; empty without a server, with none that fits, and on a timeout (logged)
     */
    public CompletableFuture<Optional<InetSocketAddress>> mappedAddress(SharedUdpSocket socket, boolean listener) {
        InetSocketAddress known = quicReflexive;
        if (listener && known != null) {
            return CompletableFuture.completedFuture(Optional.of(known));
        }
        Optional<InetSocketAddress> server = servers.stream()
                .filter(s -> choose(List.of(socket), s).shared() != null).findFirst();
        if (server.isEmpty()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        StunClient client;
        try {
            client = new StunClient(socket, PUNCH_BINDING);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.INFO, "punch: no STUN Binding on " + socket.localAddress() + ": "
                    + e.getMessage());
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return client.binding(server.get(), List.of()).handle((r, e) -> {
            client.close();
            if (e != null) {
                LOG.log(System.Logger.Level.INFO, "punch: STUN Binding from " + socket.localAddress() + " to "
                        + server.get() + " failed, the punch goes on without a reflexive candidate: "
                        + (e.getCause() != null ? e.getCause() : e).getMessage());
                return Optional.<InetSocketAddress>empty();
            }
            if (listener) {
                quicReflexive = r.mapped();
            }
            return Optional.of(r.mapped());
        });
    }

    /** @return what the hole punches of this node came to, for the punch engine, netcheck and JMX */
    public PunchStats punchStats() {
        return punchStats;
    }

    /** @return whether a QUIC listener's socket is here, which punched connections need */
    public boolean hasQuicListener() {
        return !sockets.isEmpty();
    }

    /** @return the NAT type the last discovery found, UNKNOWN before one ran */
    public NatType knownNatType() {
        return knownType;
    }

    /**
     * A QUIC listener's socket came: discovery uses it from now on.
     *
     * @param socket the shared socket
     */
    @Reference(service = SharedUdpSocket.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY,
            target = "(" + SharedUdpSocket.OWNER + "=quic)", unbind = "removeSocket")
    void addSocket(SharedUdpSocket socket) {
        sockets.add(socket);
    }

    /**
     * A QUIC listener's socket went (the listener closed, the transport stopped).
     *
     * @param socket the shared socket
     */
    void removeSocket(SharedUdpSocket socket) {
        sockets.remove(socket);
        if (sockets.isEmpty()) {
            quicReflexive = null; // a new listener has another port, and so another mapping
        }
    }

    /**
     * The shared socket discovery against {@code server} runs on: one of the same
     * address family that can reach it (a socket bound to loopback reaches only
     * loopback), a wildcard-bound one first.
     *
     * @param candidates the sockets the transport shares
     * @param server     the STUN server
     * @return the socket, or why none fits
     */
    static Choice choose(List<SharedUdpSocket> candidates, InetSocketAddress server) {
        if (candidates.isEmpty()) {
            return new Choice(null, "no QUIC listener here, so the reflexive port is not QUIC's");
        }
        SharedUdpSocket specific = null;
        List<String> unfit = new ArrayList<>();
        for (SharedUdpSocket s : candidates) {
            InetSocketAddress a = s.localAddress();
            if (a == null) {
                continue;
            }
            InetAddress ip = a.getAddress();
            // a socket bound to the IPv6 wildcard is dual-stack (Netty's epoll sockets are): it reaches IPv4 too
            boolean dualStack = ip instanceof Inet6Address && ip.isAnyLocalAddress();
            if ((!dualStack && (ip instanceof Inet6Address) != (server.getAddress() instanceof Inet6Address))
                    || (ip.isLoopbackAddress() && !server.getAddress().isLoopbackAddress())) {
                unfit.add(NatDiscovery.text(a));
            } else if (ip.isAnyLocalAddress()) {
                return new Choice(s, "");
            } else if (specific == null) {
                specific = s;
            }
        }
        return specific != null ? new Choice(specific, "")
                : new Choice(null, "the QUIC listener's socket " + String.join(", ", unfit) + " cannot reach "
                        + NatDiscovery.text(server) + ", so the reflexive port is not QUIC's");
    }

    /**
     * Where discovery against one server runs.
     *
     * @param shared the transport's socket, or null for a socket of discovery's own
     * @param whyOwn why not the transport's socket, or empty
     */
    record Choice(SharedUdpSocket shared, String whyOwn) {
    }

    private static StunServer startServer(NatConfig config) throws IOException {
        InetSocketAddress primary = parseAddress(config.serverAddress());
        String alt = config.serverAlternateIp().strip();
        return alt.isEmpty() ? new StunServer(primary, null, 0)
                : new StunServer(primary, InetAddress.getByName(alt), config.serverAlternatePort());
    }

    /** @return the configured STUN servers */
    public List<InetSocketAddress> servers() {
        return servers;
    }

    /** @return the running STUN server, if enabled */
    public Optional<StunServer> stunServer() {
        return Optional.ofNullable(server);
    }

    /**
     * Runs discovery against each server, one after the other.
     *
     * @param against the servers; the configured ones when empty
     * @return one report per server
     */
    public CompletableFuture<List<NatDiscovery.Report>> check(List<InetSocketAddress> against) {
        List<InetSocketAddress> targets = against.isEmpty() ? servers : List.copyOf(against);
        CompletableFuture<List<NatDiscovery.Report>> result = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    List<NatDiscovery.Report> reports = new ArrayList<>();
                    for (InetSocketAddress s : targets) {
                        InetSocketAddress bind = new InetSocketAddress(StunMessage.isV6(s) ? "::" : "0.0.0.0", 0);
                        Choice on = choose(sockets, s);
                        reports.add(discovery.discover(bind, on.shared(), on.whyOwn(), s, lifetime));
                    }
                    remember(reports);
                    result.complete(reports);
                } catch (RuntimeException e) { // a caller must never wait for a check that died
                    result.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException(
                    "more than " + MAX_QUEUED + " NAT discovery runs queued; try again when they finish", e));
        }
        return result;
    }

    private void remember(List<NatDiscovery.Report> reports) {
        reports.stream().filter(NatDiscovery.Report::quicSocket).flatMap(r -> r.reflexive().stream()).findFirst()
                .ifPresent(a -> quicReflexive = a);
        NatType t = overall(reports);
        if (t != NatType.UNKNOWN) {
            knownType = t;
        }
    }

    /**
     * The node's overall type from several reports: the first that could tell.
     *
     * @param reports per-server reports
     * @return the type, UNKNOWN without reports, BLOCKED when every server was silent
     */
    public static NatType overall(List<NatDiscovery.Report> reports) {
        if (reports.isEmpty()) {
            return NatType.UNKNOWN;
        }
        return reports.stream().map(NatDiscovery.Report::type)
                .filter(t -> t != NatType.UNKNOWN && t != NatType.BLOCKED).findFirst()
                .orElse(reports.stream().allMatch(r -> r.type() == NatType.BLOCKED) ? NatType.BLOCKED : NatType.UNKNOWN);
    }

    @Override
    public CompletionStage<NatType> discoverNatType() {
        return check(List.of()).thenApply(NatService::overall);
    }

    @Override
    public CompletionStage<Optional<InetSocketAddress>> reflexiveAddress() {
        return check(List.of()).thenApply(rs -> rs.stream().flatMap(r -> r.reflexive().stream()).findFirst());
    }

    /**
     * Parses {@code host:port} or {@code [ipv6]:port}.
     *
     * @param text the text
     * @return the resolved address
     * @throws IllegalArgumentException with the reason
     */
    public static InetSocketAddress parseAddress(String text) {
        String t = text.strip();
        int colon = t.lastIndexOf(':');
        if (colon <= 0 || colon == t.length() - 1) {
            throw new IllegalArgumentException("STUN server '" + text + "' must be host:port or [ipv6]:port");
        }
        String host = t.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException("STUN server '" + text + "': write an IPv6 address in brackets");
        }
        int port;
        try {
            port = Integer.parseInt(t.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("STUN server '" + text + "': port is not a number");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("STUN server '" + text + "': port must be 1-65535");
        }
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("STUN server '" + text + "': cannot resolve " + host);
        }
    }

    static List<InetSocketAddress> parseServers(String[] texts) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String text : texts) {
            for (String s : text.split(",")) { // a configuration file's list may arrive as one string
                if (!s.isBlank()) {
                    out.add(parseAddress(s));
                }
            }
        }
        return out;
    }

    /** Stops discovery and the STUN server. */
    @Deactivate
    public void deactivate() {
        executor.shutdownNow();
        if (server != null) {
            server.close();
        }
    }

}
