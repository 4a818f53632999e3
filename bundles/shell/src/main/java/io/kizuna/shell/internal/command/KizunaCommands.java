package io.kizuna.shell.internal.command;

import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Transport;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The Gogo commands of scope {@code kizuna}. Each prints to the session's output
 * (Gogo routes {@code System.out} per session) and fails with a one-line
 * {@link CommandFailure}.
 */
@Component(service = KizunaCommands.class, property = {
        "osgi.command.scope=kizuna",
        "osgi.command.function=id",
        "osgi.command.function=transports",
        "osgi.command.function=connect",
        "osgi.command.function=disconnect",
        "osgi.command.function=peers",
        "osgi.command.function=ping",
        "osgi.command.function=perf",
        "osgi.command.function=metrics"})
public final class KizunaCommands {

    private static final String TRANSPORT = "force one transport, e.g. tcp";
    private static final String PEER = "peer: <peer-id>@tcp://ip:port, a peer id, or the start of a connected peer's id";

    /** The transports and their service properties; the priority property may differ from the object's. */
    private final Map<Transport, Map<String, Object>> transports = new ConcurrentHashMap<>();
    private final Commands commands;

    /**
     * Activated by Declarative Services.
     *
     * @param manager the connection manager
     */
    @Activate
    public KizunaCommands(@Reference(name = "manager") ConnectionManager manager) {
        this.commands = new Commands(manager, this::transportViews, Clock.systemUTC(), Commands.Timing.DEFAULT);
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, updated = "updatedTransport")
    void addTransport(Transport transport, Map<String, Object> properties) {
        transports.put(transport, Map.copyOf(properties));
    }

    void updatedTransport(Transport transport, Map<String, Object> properties) {
        transports.put(transport, Map.copyOf(properties));
    }

    void removeTransport(Transport transport) {
        transports.remove(transport);
    }

    private List<TransportView> transportViews() {
        List<TransportView> views = new ArrayList<>();
        transports.forEach((t, props) -> views.add(view(t, props)));
        return views;
    }

    private static TransportView view(Transport t, Map<String, Object> props) {
        Object name = props.get(Transport.PROTOCOL);
        Object priority = props.get(Transport.PRIORITY);
        try {
            boolean available = t.isAvailable();
            return new TransportView(name instanceof String s ? s : t.protocolName(),
                    priority instanceof Number n ? n.intValue() : t.priority(), available,
                    available ? Optional.empty() : t.unavailableReason(), t.capabilities().summary(), t.tlsEngine());
        } catch (RuntimeException e) {
            // A transport that is going away may refuse calls; show it as unavailable rather than fail.
            return new TransportView(name instanceof String s ? s : "?",
                    priority instanceof Number n ? n.intValue() : 0, false,
                    Optional.of("not answering: " + e.getMessage()), "", Optional.empty());
        }
    }

    /** {@code kizuna:id} */
    @Descriptor("show this node's peer id, listen endpoints and the address peers dial")
    public void id() {
        commands.id(System.out);
    }

    /** {@code kizuna:transports} */
    @Descriptor("list the transports: priority, availability, capabilities, TLS engine, listen endpoints")
    public void transports() {
        commands.transports(System.out);
    }

    /**
     * {@code kizuna:connect <address>}
     *
     * @param address the peer's address
     */
    @Descriptor("connect to a peer (or reuse the pooled connection)")
    public void connect(@Descriptor("<peer-id>@tcp://ip:port") String address) {
        commands.connect(System.out, address);
    }

    /**
     * {@code kizuna:disconnect <peer>}
     *
     * @param peer the peer
     */
    @Descriptor("close every pooled connection to a peer, gracefully")
    public void disconnect(@Descriptor(PEER) String peer) {
        commands.disconnect(System.out, peer);
    }

    /** {@code kizuna:peers} */
    @Descriptor("list the open connections")
    public void peers() {
        commands.peers(System.out);
    }

    /**
     * {@code kizuna:ping [-t tcp] <peer>}
     *
     * @param transport the transport to force, or empty
     * @param peer      the peer
     */
    @Descriptor("ping a peer " + Commands.DEFAULT_PING_COUNT + " times, one second apart")
    public void ping(
            @Descriptor(TRANSPORT) @Parameter(names = {"-t", "--transport"}, absentValue = "") String transport,
            @Descriptor(PEER) String peer) {
        commands.ping(System.out, transport, peer, Commands.DEFAULT_PING_COUNT);
    }

    /**
     * {@code kizuna:ping [-t tcp] <peer> <count>}
     *
     * @param transport the transport to force, or empty
     * @param peer      the peer
     * @param count     how many pings
     */
    @Descriptor("ping a peer, one second apart")
    public void ping(
            @Descriptor(TRANSPORT) @Parameter(names = {"-t", "--transport"}, absentValue = "") String transport,
            @Descriptor(PEER) String peer,
            @Descriptor("number of pings, 1 to " + Commands.MAX_PING_COUNT) int count) {
        commands.ping(System.out, transport, peer, count);
    }

    /**
     * {@code kizuna:perf [-t tcp] <peer>}
     *
     * @param transport the transport to force, or empty
     * @param peer      the peer
     */
    @Descriptor("measure throughput to a peer: upload 64 MiB, then download 64 MiB")
    public void perf(
            @Descriptor(TRANSPORT) @Parameter(names = {"-t", "--transport"}, absentValue = "") String transport,
            @Descriptor(PEER) String peer) {
        commands.perf(System.out, transport, peer, Long.toString(Commands.DEFAULT_PERF_BYTES));
    }

    /**
     * {@code kizuna:perf [-t tcp] <peer> <size>}
     *
     * @param transport the transport to force, or empty
     * @param peer      the peer
     * @param size      bytes each way
     */
    @Descriptor("measure throughput to a peer: upload the given size, then download as much")
    public void perf(
            @Descriptor(TRANSPORT) @Parameter(names = {"-t", "--transport"}, absentValue = "") String transport,
            @Descriptor(PEER) String peer,
            @Descriptor("bytes each way, with K, M, G suffixes (powers of 1024), e.g. 64M or 1G") String size) {
        commands.perf(System.out, transport, peer, size);
    }

    /** {@code kizuna:metrics} */
    @Descriptor("show connection counters: overall, per transport, per connected peer")
    public void metrics() {
        commands.metrics(System.out);
    }
}
