package io.kizuna.nat.internal.punch;

import java.lang.management.ManagementFactory;
import java.util.Hashtable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import javax.management.JMException;
import javax.management.ObjectName;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.NatService;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;

import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * Registers the {@link PunchTransport} (as a {@link Transport} and the
 * {@code kizuna/punch/1} {@link StreamHandler}) while a QUIC listener's socket
 * is there, and withdraws it when the last one goes: HELLO then offers
 * {@code punch} only while punched connections can arrive, and a peer without
 * a QUIC listener is upgraded over the next signaled transport (WebRTC)
 * instead of a punch bound to fail.
 *
 * <p>The registration runs on a thread of its own, not in the bind of the
 * socket: QUIC registers its sockets on its event loop, and registering a
 * transport there would call into the connection manager, which may be
 * waiting for that very event loop to finish a listen.
 */
@Component(immediate = true, service = {})
public final class PunchComponent {

    private static final System.Logger LOG = System.getLogger(PunchComponent.class.getName());

    /** Most registration changes waiting; more are dropped, the last one queued still sees the current state. */
    static final int MAX_QUEUED = 16;

    private final BundleContext context;
    private final PunchTransport transport;
    private final ExecutorService registrar;
    private ServiceRegistration<?> registration; // on the registrar thread, or after it stopped
    private volatile boolean active = true;
    private final ObjectName mbean;

    /** The JMX name of the punch counters. */
    static final String MBEAN = "io.kizuna:type=Punch";

    /**
     * Activated by Declarative Services.
     *
     * @param context  to register the transport with
     * @param identity this node's key
     * @param nat      discovery, for the punch settings and what it found
     */
    @Activate
    public PunchComponent(BundleContext context, @Reference NodeIdentity identity, @Reference NatService nat) {
        this.context = context;
        this.transport = new PunchTransport(new PunchEngine(identity, nat.punchSettings(), nat::knownNatType,
                nat::mappedAddress, nat.punchStats()));
        this.registrar = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(MAX_QUEUED),
                r -> {
                    Thread t = new Thread(r, "kizuna-punch-registrar");
                    t.setDaemon(true);
                    return t;
                });
        this.mbean = register(nat.punchStats());
        update();
    }

    /** Registers the counters as {@value #MBEAN}; a name taken already (a second framework in the JVM) is logged. */
    private static ObjectName register(PunchStats stats) {
        try {
            ObjectName name = new ObjectName(MBEAN);
            ManagementFactory.getPlatformMBeanServer().registerMBean(stats, name);
            return name;
        } catch (JMException e) {
            LOG.log(System.Logger.Level.INFO, "punch: counters not on JMX as " + MBEAN + ": " + e.getMessage());
            return null;
        }
    }

    /** @param m the manager whose connections carry the punch streams */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, unbind = "removeManager")
    void setManager(ConnectionManager m) {
        transport.manager(m);
    }

    /** @param m the manager that went */
    void removeManager(ConnectionManager m) {
        transport.manager(null);
    }

    /** @param s the QUIC transport's punch sockets */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY, target = "(" + SharedUdpSocket.OWNER + "=quic)",
            unbind = "removePunchSockets")
    void setPunchSockets(PunchSockets s) {
        transport.punchSockets(s);
    }

    /** @param s the punch sockets that went */
    void removePunchSockets(PunchSockets s) {
        transport.punchSockets(null);
    }

    /** @param socket a QUIC listener's socket came */
    @Reference(service = SharedUdpSocket.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY,
            target = "(" + SharedUdpSocket.OWNER + "=quic)", unbind = "removeSocket")
    void addSocket(SharedUdpSocket socket) {
        transport.addSocket(socket);
        update();
    }

    /** @param socket a QUIC listener's socket went */
    void removeSocket(SharedUdpSocket socket) {
        transport.removeSocket(socket);
        update();
    }

    /** Registers or withdraws the transport, on the registrar thread, to match whether a socket is there. */
    private void update() {
        if (registrar == null) {
            return; // a socket bound before the constructor finished: the constructor's update follows
        }
        try {
            registrar.execute(this::apply);
        } catch (RejectedExecutionException e) {
            LOG.log(System.Logger.Level.DEBUG, "punch: registration change not queued (stopping, or "
                    + MAX_QUEUED + " queued): {0}", e.getMessage());
        }
    }

    private void apply() {
        boolean want = active && transport.hasSocket();
        if (want && registration == null) {
            Hashtable<String, Object> properties = new Hashtable<>();
            properties.put(Transport.PROTOCOL, PunchTransport.PROTOCOL_NAME);
            properties.put(Transport.PRIORITY, PunchTransport.PRIORITY);
            properties.put(StreamHandler.PROTOCOL, PunchCodec.PROTOCOL);
            try {
                registration = context.registerService(new String[] {Transport.class.getName(),
                    StreamHandler.class.getName()}, transport, properties);
            } catch (IllegalStateException e) {
                // the bundle is stopping
            }
        } else if (!want && registration != null) {
            unregister();
        }
    }

    private void unregister() {
        try {
            registration.unregister();
        } catch (IllegalStateException e) {
            // already gone with the stopping bundle
        }
        registration = null;
    }

    /** Withdraws the transport and stops the sessions under way; punched connections are QUIC's and stay. */
    @Deactivate
    void deactivate() throws InterruptedException {
        active = false;
        registrar.shutdown();
        if (!registrar.awaitTermination(5, TimeUnit.SECONDS)) {
            registrar.shutdownNow();
        }
        if (registration != null) {
            unregister();
        }
        transport.engine().close();
        if (mbean != null) {
            try {
                ManagementFactory.getPlatformMBeanServer().unregisterMBean(mbean);
            } catch (JMException e) {
                LOG.log(System.Logger.Level.DEBUG, "punch: counters already off JMX: {0}", e.getMessage());
            }
        }
    }
}
