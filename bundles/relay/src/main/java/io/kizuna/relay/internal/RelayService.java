package io.kizuna.relay.internal;

import java.util.Dictionary;
import java.util.Hashtable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.transport.Connection;
import io.kizuna.transport.StreamHandler;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The relay service component (PID {@value #PID}). When enabled (configuration
 * {@code enabled=true}, or the framework property {@value #ENABLE_PROPERTY}), it
 * registers a {@link StreamHandler} for {@value RelayCodec#PROTOCOL} through which
 * the connection manager hands it relay streams; otherwise it serves nothing and
 * says so to the shell.
 */
@Component(service = RelayService.class, immediate = true, configurationPid = RelayService.PID)
@Designate(ocd = RelayConfig.class)
public final class RelayService {

    /** The configuration PID. */
    static final String PID = "io.kizuna.relay";

    /** The framework property that enables the service ({@code ./kizuna --relay}). */
    static final String ENABLE_PROPERTY = "kizuna.relay";

    private static final System.Logger LOG = System.getLogger(RelayService.class.getName());

    private final RelayServer server;
    private final ScheduledThreadPoolExecutor timer;
    private final ExecutorService pool;
    private final ServiceRegistration<StreamHandler> registration;

    /**
     * Activated by Declarative Services.
     *
     * @param config  the configuration
     * @param context the bundle context, to register the stream handler when enabled
     */
    @Activate
    public RelayService(RelayConfig config, BundleContext context) {
        boolean enabled = config.enabled() || Boolean.parseBoolean(context.getProperty(ENABLE_PROPERTY));
        if (!enabled) {
            server = null;
            timer = null;
            pool = null;
            registration = null;
            return;
        }
        timer = new ScheduledThreadPoolExecutor(1, RelayTransport.daemon("kizuna-relay-timer"));
        timer.setRemoveOnCancelPolicy(true);
        pool = Executors.newFixedThreadPool(2, RelayTransport.daemon("kizuna-relay"));
        server = new RelayServer(RelaySettings.from(config), timer, pool, Splice.Tap.NONE);
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(StreamHandler.PROTOCOL, RelayCodec.PROTOCOL);
        StreamHandler handler = (Connection stream, String protocol) -> server.handle(stream);
        registration = context.registerService(StreamHandler.class, handler, props);
        LOG.log(System.Logger.Level.INFO, "relay service on: admission " + server.settings().admission().policy()
                + ", " + server.settings().maxReservations() + " reservations, " + server.settings().maxCircuits()
                + " circuits");
    }

    /** Stops serving: the handler goes, then every reservation and circuit is closed. */
    @Deactivate
    void deactivate() {
        if (server == null) {
            return;
        }
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already gone with the bundle
        }
        try {
            server.close().toCompletableFuture().get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.DEBUG, "relay service: closing took too long", e);
        }
        timer.shutdownNow();
        SerialExecutor.stop(pool);
    }

    /** @return the running server, or null when the service is not enabled */
    RelayServer server() {
        return server;
    }
}
