package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.NatTraversal;
import io.kizuna.transport.NatType;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * NAT behaviour discovery as a service, and the optional STUN server. Discovery
 * runs on its own thread (it blocks on probes), one run at a time; with no STUN
 * server configured it reports {@link NatType#UNKNOWN} and sends nothing.
 */
@Component(service = {NatTraversal.class, NatService.class}, configurationPid = NatConfig.PID,
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = NatConfig.class)
public final class NatService implements NatTraversal {

    /** At most this many discovery runs wait for the one running. */
    static final int MAX_QUEUED = 4;

    private final List<InetSocketAddress> servers;
    private final NatDiscovery discovery;
    private final Duration lifetime;
    private final StunServer server;
    private final ExecutorService executor;

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
                config.serverEnabled() ? startServer(config) : null);
    }

    NatService(List<InetSocketAddress> servers, StunClient.Timing timing, Duration lifetime, StunServer server) {
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
                List<NatDiscovery.Report> reports = new ArrayList<>();
                for (InetSocketAddress s : targets) {
                    InetSocketAddress bind = new InetSocketAddress(StunMessage.isV6(s) ? "::" : "0.0.0.0", 0);
                    reports.add(discovery.discover(bind, s, lifetime));
                }
                result.complete(reports);
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException(
                    "more than " + MAX_QUEUED + " NAT discovery runs queued; try again when they finish", e));
        }
        return result;
    }

    /**
     * The node's overall type from several reports: the first that could tell.
     *
     * @param reports per-server reports
     * @return the type, UNKNOWN without reports, BLOCKED when every server was silent
     */
    static NatType overall(List<NatDiscovery.Report> reports) {
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
        for (String s : texts) {
            if (!s.isBlank()) {
                out.add(parseAddress(s));
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
