package io.kizuna.core.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.kizuna.core.internal.memory.MemoryHub;
import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;

/**
 * A node for manager tests: a manager built directly (no framework) with memory
 * transports bound to it, listening on port 0 of each.
 */
final class Node implements AutoCloseable {

    final PeerId id;
    final ConnectionManagerImpl manager;
    private final Map<String, MemoryTransport> transports = new LinkedHashMap<>();
    private final MemoryHub hub;
    private final List<MemoryTransport> all = new ArrayList<>();

    private Node(PeerId id, ConnectionManagerImpl manager, MemoryHub hub) {
        this.id = id;
        this.manager = manager;
        this.hub = hub;
    }

    /**
     * @param settings   the settings; the listen endpoints are replaced by port 0 of each transport
     * @param hub        where the memory transports meet
     * @param transports "name:priority" of each memory transport
     */
    static Node start(ManagerSettings.Builder settings, MemoryHub hub, String... transports) {
        PeerId id = TestIds.newPeerId();
        List<Endpoint> listen = new ArrayList<>();
        for (String t : transports) {
            listen.add(Endpoint.parse(t.split(":")[0] + "://127.0.0.1:0"));
        }
        Node n = new Node(id, new ConnectionManagerImpl(settings.listen(listen).build(), id), hub);
        for (String t : transports) {
            String[] parts = t.split(":");
            n.add(parts[0], Integer.parseInt(parts[1]));
        }
        return n;
    }

    /** Binds a new memory transport of this name (a fresh instance, as a restarted bundle would give). */
    MemoryTransport add(String name, int priority) {
        MemoryTransport t = new MemoryTransport(id, name, priority, 256 * 1024, 1024, hub);
        transports.put(name, t);
        all.add(t);
        manager.bindTransport(t, Map.of(Transport.PROTOCOL, name, Transport.PRIORITY, priority));
        return t;
    }

    /** Unbinds the transport of this name, as its bundle stopping would. */
    MemoryTransport remove(String name) {
        MemoryTransport t = transports.remove(name);
        manager.unbindTransport(t, Map.of(Transport.PROTOCOL, name));
        t.shutdown();
        return t;
    }

    MemoryTransport transport(String name) {
        return transports.get(name);
    }

    PeerAddress address() {
        return manager.localAddress();
    }

    PeerAddress address(String transport) {
        return manager.localAddress().only(transport);
    }

    /** @return the dials of every transport of this node */
    int dials() {
        return all.stream().mapToInt(MemoryTransport::dialCount).sum();
    }

    @Override
    public void close() {
        manager.deactivate();
        all.forEach(MemoryTransport::shutdown);
    }

    static ManagerSettings.Builder settings() {
        return ManagerSettings.builder().jmxName("").staggerDelay(Duration.ofMillis(250))
                .connectTimeout(Duration.ofSeconds(10)).openTimeout(Duration.ofSeconds(10));
    }
}
