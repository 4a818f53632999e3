package io.kizuna.itests;

import static io.kizuna.itests.Itest.awaitService;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import io.kizuna.transport.NatTraversal;
import io.kizuna.transport.udp.SharedUdpSocket;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * kizuna:netcheck on the QUIC listener's socket in a node: the node's own STUN
 * server (on 127.0.0.1 and 127.0.0.2) reports the QUIC listener's port; with the
 * quic bundle stopped, netcheck falls back to a socket of its own and says so;
 * started again, and updated and refreshed, the quic bundle's new socket is
 * used, and the nat bundle itself is never restarted.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class NatQuicSocketIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String QUIC_SOCKET = "(" + SharedUdpSocket.OWNER + "=quic)";

    @Inject
    private BundleContext context;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("nat-quic", "tcp://127.0.0.1:0,quic://127.0.0.1:0")};
    }

    @Test(timeout = 120_000)
    public void netcheckReportsTheQuicListenersPortAndFollowsTheQuicBundle() throws Exception {
        NatIT.ownStunServer(configurationAdmin, 100);

        String first = quicSocket();
        String out = netcheckUntil("from the QUIC listener's socket " + first);
        assertTrue(out, out.contains("reflexive address: " + first));
        assertTrue(out, out.contains("socket: the QUIC listener's"));
        assertTrue(out, out.contains("NAT type: OPEN"));
        Bundle nat = Itest.bundle(context, "io.kizuna.nat");
        BundleRevision natRevision = nat.adapt(BundleRevision.class);
        Object natService = context.getServiceReference(NatTraversal.class).getProperty("service.id");

        Bundle quic = Itest.bundle(context, "io.kizuna.quic");
        quic.stop();
        assertNull("no shared QUIC socket while quic is stopped", Itest.reference(context, SharedUdpSocket.class,
                QUIC_SOCKET));
        String own = Gogo.run(context, "kizuna:netcheck").ok();
        assertTrue(own, own.contains("socket: discovery's own"));
        assertTrue(own, own.contains("from its own socket 0.0.0.0:"));
        assertTrue(own, own.contains("no QUIC listener here"));
        assertFalse(own, own.contains("reflexive address: " + first));

        quic.start();
        String second = quicSocket();
        String back = netcheckUntil("from the QUIC listener's socket " + second);
        assertTrue(back, back.contains("reflexive address: " + second));
        Object before = Itest.reference(context, SharedUdpSocket.class, QUIC_SOCKET).getProperty("service.id");

        quic.update();
        CompletableFuture<Void> refreshed = new CompletableFuture<>();
        context.getBundle(0).adapt(FrameworkWiring.class).refreshBundles(Collections.singleton(quic),
                e -> refreshed.complete(null));
        refreshed.get(30, TimeUnit.SECONDS);
        ServiceReference<SharedUdpSocket> after = await("a shared socket of the updated quic bundle").atMost(WAIT)
                .pollInterval(Duration.ofMillis(50))
                .until(() -> Itest.reference(context, SharedUdpSocket.class, QUIC_SOCKET),
                        r -> r != null && !before.equals(r.getProperty("service.id")));
        String third = (String) after.getProperty(SharedUdpSocket.LOCAL_ADDRESS);
        String updated = netcheckUntil("from the QUIC listener's socket " + third);
        assertTrue(updated, updated.contains("reflexive address: " + third));

        assertEquals("the nat bundle was not refreshed with quic", natRevision, nat.adapt(BundleRevision.class));
        assertEquals(Bundle.ACTIVE, nat.getState());
        assertEquals("the nat service was not restarted", natService,
                context.getServiceReference(NatTraversal.class).getProperty("service.id"));
    }

    /** @return the QUIC listener's socket as {@code ip:port}, once the transport listens */
    private String quicSocket() {
        ServiceReference<SharedUdpSocket> ref = awaitService(context, SharedUdpSocket.class, QUIC_SOCKET, WAIT);
        return (String) ref.getProperty(SharedUdpSocket.LOCAL_ADDRESS);
    }

    /** Runs netcheck until its output has {@code text}: the nat service restarts after a configuration change. */
    private String netcheckUntil(String text) {
        return await("kizuna:netcheck saying '" + text + "'").atMost(WAIT).pollInterval(Duration.ofMillis(200))
                .until(() -> {
                    Gogo.Result r = Gogo.run(context, "kizuna:netcheck");
                    return r.failure() == null ? r.ok() : String.valueOf(r.failure());
                }, out -> out.contains(text));
    }
}
