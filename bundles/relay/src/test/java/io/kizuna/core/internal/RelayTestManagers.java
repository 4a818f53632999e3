package io.kizuna.core.internal;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;

/**
 * Builds real connection managers outside the framework for the relay's tests
 * (the manager's test constructor and binders are package-private).
 */
public final class RelayTestManagers {

    private RelayTestManagers() {
    }

    /**
     * @param id     the node's PeerId, as its transports authenticate it
     * @param listen the endpoints to listen on once their transports are bound
     * @return a manager with no transport yet
     */
    public static ConnectionManager start(PeerId id, List<Endpoint> listen) {
        return new ConnectionManagerImpl(ManagerSettings.builder().jmxName("").listen(listen)
                .staggerDelay(Duration.ofMillis(250)).connectTimeout(Duration.ofSeconds(10))
                .openTimeout(Duration.ofSeconds(10)).build(), id);
    }

    /** Binds a transport, as the framework would when its service appears. */
    public static void bind(ConnectionManager m, Transport t) {
        ((ConnectionManagerImpl) m).bindTransport(t, Map.of(Transport.PROTOCOL, t.protocolName(),
                Transport.PRIORITY, t.priority()));
    }

    /** Unbinds a transport, as the framework would when its bundle stops. */
    public static void unbind(ConnectionManager m, Transport t) {
        ((ConnectionManagerImpl) m).unbindTransport(t, Map.of(Transport.PROTOCOL, t.protocolName()));
    }

    /** Registers a stream handler for one protocol. */
    public static void handle(ConnectionManager m, StreamHandler h, String protocol) {
        ((ConnectionManagerImpl) m).bindStreamHandler(h, Map.of(StreamHandler.PROTOCOL, protocol,
                "service.id", 1L));
    }

    /** Stops a manager: listeners and connections close. */
    public static void stop(ConnectionManager m) {
        ((ConnectionManagerImpl) m).deactivate();
    }
}
