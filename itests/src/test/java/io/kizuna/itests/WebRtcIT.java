package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The WebRTC transport inside Felix, against a runtime node listening on TCP and
 * WebRTC: libwebrtc loads from the bundle, a peer connection is signaled over the
 * WebSocket endpoint or over the TCP connection already there, streams are
 * further DataChannels, the shell's ping and perf run over it, the bundle can be
 * stopped, started and updated while the node runs, and a node whose libwebrtc
 * does not load keeps working without it.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class WebRtcIT {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final Duration BACK_WITHIN = Duration.ofSeconds(5);
    private static final String LISTEN = "tcp://127.0.0.1:0,webrtc://127.0.0.1:0";
    private static final String PID = "io.kizuna.webrtc";
    /** Both nodes on one machine: ICE over loopback only. */
    private static final String LOOPBACK = "loopbackCandidates = true\n";
    private static final String WEBRTC = "(" + Transport.PROTOCOL + "=webrtc)";
    private static final String WEBRTC_LOOPBACK = "(&" + WEBRTC + "(loopbackCandidates=true))";

    @Inject
    private BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Inject
    private ConfigurationAdmin configurationAdmin;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("webrtc", LISTEN)};
    }

    private Transport configure(Map<String, Object> values, String filter) throws Exception {
        Dictionary<String, Object> props = new Hashtable<>(values);
        configurationAdmin.getConfiguration(PID, "?").update(props);
        return context.getService(Itest.awaitService(context, Transport.class, filter, WAIT));
    }

    private Transport loopback() throws Exception {
        return configure(Map.of("loopbackCandidates", true), WEBRTC_LOOPBACK);
    }

    @Test(timeout = 240_000)
    public void webrtcCarriesPingPerfAndStreams() throws Exception {
        Transport webrtc = loopback();
        assertTrue("webrtc available in Felix: " + webrtc.unavailableReason(), webrtc.isAvailable());

        try (RemoteNode remote = RemoteNode.start("webrtc-remote", LISTEN, Map.of("io.kizuna.webrtc.cfg", LOOPBACK))) {
            PeerAddress peer = remote.address();
            assertTrue("the remote node listens on webrtc: " + peer, !peer.endpoints("webrtc").isEmpty());
            long start = System.nanoTime();
            ConnectionInfo info = join(manager.connectToPeer(peer.only("webrtc")), WAIT, "connecting over webrtc");
            System.out.println("webrtc: connected over the WebSocket endpoint in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms");
            assertEquals("webrtc", info.protocol());
            assertEquals("signaled through the webrtc endpoint", peer.endpoints("webrtc").get(0).address(),
                    info.remoteAddress());
            PingResult ping = join(manager.ping(peer.only("webrtc")), WAIT, "pinging " + remote);
            assertEquals("the pooled webrtc connection carries the ping", "webrtc", ping.protocol());

            // streams are further DataChannels of the one peer connection
            long before = manager.metricsByProtocol().get("webrtc").established();
            List<Connection> streams = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Connection s = join(manager.openStream(peer.only("webrtc"), Itest.ECHO), WAIT, "echo stream " + i);
                assertEquals("webrtc", s.info().protocol());
                streams.add(s);
            }
            for (Connection s : streams) {
                Streams.echo(s, 256 * 1024);
            }
            String pair = streams.get(0).info().path().orElse("");
            System.out.println("webrtc: path " + pair);
            assertTrue("a webrtc stream tells its ICE path, on loopback: " + pair,
                    pair.matches("ice (host|prflx) 127\\.0\\.0\\.1:\\d+ -> (host|prflx|srflx) \\S+"));
            assertEquals("WebRTC connections established while opening 4 streams", before,
                    manager.metricsByProtocol().get("webrtc").established());

            String transports = Gogo.run(context, "kizuna:transports").ok();
            assertTrue("kizuna:transports lists webrtc available:\n" + transports,
                    transports.matches("(?s).*\\bwebrtc\\s+90\\s+available\\b.*"));
            String ping2 = Gogo.run(context, "kizuna:ping -t webrtc " + peer + " 3").ok();
            assertTrue("kizuna:ping over webrtc:\n" + ping2, ping2.contains("webrtc"));
            String perf = Gogo.run(context, "kizuna:perf -t webrtc " + peer + " 8M").ok();
            assertTrue("kizuna:perf over webrtc:\n" + perf, perf.contains("transport webrtc"));
            System.out.println(perf);
        }
    }

    @Test(timeout = 240_000)
    public void aPeerReachedOverTcpIsUpgradedWithSignalingOverThatConnection() throws Exception {
        loopback();
        try (RemoteNode remote = RemoteNode.start("webrtc-upgrade", LISTEN, Map.of("io.kizuna.webrtc.cfg",
                LOOPBACK))) {
            PeerAddress peer = remote.address();
            ConnectionInfo tcp = join(manager.connectToPeer(peer.only("tcp")), WAIT, "connecting over tcp");
            assertEquals("tcp", tcp.protocol());
            ConnectionInfo upgraded = join(manager.connectToPeer(peer.only("webrtc")), WAIT, "upgrading to webrtc");
            assertEquals("webrtc", upgraded.protocol());
            assertEquals("signaled over a stream of the tcp transport, not the WebSocket endpoint",
                    peer.endpoints("tcp").get(0).address(), upgraded.remoteAddress());
            assertEquals("webrtc", join(manager.ping(peer.only("webrtc")), WAIT, "ping").protocol());
            Streams.echo(join(manager.openStream(peer.only("webrtc"), Itest.ECHO), WAIT, "echo"), 1 << 20);
        }
    }

    @Test(timeout = 240_000)
    public void stopStartAndUpdateTheWebRtcBundle() throws Exception {
        loopback();
        try (RemoteNode remote = RemoteNode.start("webrtc-swap", LISTEN, Map.of("io.kizuna.webrtc.cfg", LOOPBACK))) {
            PeerAddress peer = remote.address();
            Bundle bundle = Itest.bundle(context, "io.kizuna.webrtc");
            Connection stream = join(manager.openStream(peer.only("webrtc"), Itest.ECHO), WAIT, "an echo stream");
            assertEquals("webrtc", stream.info().protocol());
            Streams.roundTrip(stream, "before the swap");

            long stopping = System.nanoTime();
            bundle.stop();
            System.out.println("hot swap: stopping the webrtc bundle took "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopping) + " ms");
            join(stream.closeFuture().exceptionally(e -> null), WAIT, "the webrtc stream to close when webrtc stops");
            assertTrue("no webrtc service after stop", Itest.reference(context, Transport.class, WEBRTC) == null);
            PingResult fallback = join(manager.ping(peer), WAIT, "pinging without webrtc");
            assertEquals("tcp carries on without webrtc", "tcp", fallback.protocol());

            Duration started = usableAgain(peer.only("webrtc"), bundle::start);
            assertTrue("webrtc usable again " + started.toMillis() + " ms after start",
                    started.compareTo(BACK_WITHIN) < 0);

            BundleRevision revision = bundle.adapt(BundleRevision.class);
            Duration updated = usableAgain(peer.only("webrtc"), bundle::update);
            assertNotSame("a new revision runs", revision, bundle.adapt(BundleRevision.class));
            assertTrue("webrtc usable again " + updated.toMillis() + " ms after update",
                    updated.compareTo(BACK_WITHIN) < 0);
            Streams.echo(join(manager.openStream(peer.only("webrtc"), Itest.ECHO), WAIT, "a new echo stream"),
                    1 << 20);
            assertTrue("the other node still runs", remote.isAlive());
        }
    }

    @Test(timeout = 180_000)
    public void aNodeWhoseLibwebrtcDoesNotLoadKeepsWorking() throws Exception {
        Transport broken = configure(Map.of("nativeLibrary", "webrtc-java-absent"),
                "(&" + WEBRTC + "(nativeLibrary=webrtc-java-absent))");
        assertFalse("webrtc unavailable", broken.isAvailable());
        assertTrue(broken.unavailableReason().orElse(""), broken.unavailableReason().orElse("")
                .contains("webrtc-java-absent"));
        String transports = Gogo.run(context, "kizuna:transports").ok();
        assertTrue("kizuna:transports says why webrtc is unavailable:\n" + transports,
                transports.contains("webrtc-java-absent"));
        try (RemoteNode remote = RemoteNode.start("webrtc-broken", LISTEN)) {
            PingResult ping = join(manager.ping(remote.address()), WAIT, "pinging over tcp");
            assertEquals("tcp", ping.protocol());
            Throwable refused = Itest.failure(manager.connectToPeer(remote.address().only("webrtc")), WAIT,
                    "a webrtc dial");
            // The manager leaves an unavailable transport out of its choice (kizuna:transports says why).
            assertTrue("no webrtc dial: " + refused, refused instanceof TransportException.UnsupportedProtocol
                    && !String.valueOf(refused.getMessage()).matches("(?s).*this node has \\[[^]]*webrtc.*"));
        }
    }

    private Duration usableAgain(PeerAddress webrtcOnly, BundleAction action) throws BundleException {
        long start = System.nanoTime();
        action.run();
        long acted = System.nanoTime();
        PingResult ping = await("a ping over webrtc").atMost(WAIT).pollDelay(Duration.ZERO)
                .pollInterval(Duration.ofMillis(20)).until(() -> pingOnce(webrtcOnly), p -> p != null);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertEquals("webrtc", ping.protocol());
        System.out.println("hot swap: webrtc usable again " + took.toMillis() + " ms after the bundle operation "
                + "began (" + TimeUnit.NANOSECONDS.toMillis(acted - start) + " ms in the operation itself)");
        return took;
    }

    private PingResult pingOnce(PeerAddress peer) {
        try {
            return manager.ping(peer).toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    @FunctionalInterface
    private interface BundleAction {
        void run() throws BundleException;
    }
}
