package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;
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

/**
 * Hot swap of each stream transport bundle under load: while an echo stream
 * over QUIC carries data both ways without pause, the TCP, WebSocket and relay
 * bundles are each stopped, started and updated. A stream open over the
 * transport being stopped fails with an error that says so; after each start
 * or update the transport is back and a new stream over it works; the QUIC
 * echo returns every byte (SHA-256). (QUIC itself is swapped under a TCP load in
 * {@link HotSwapUnderLoadIT}, WebRTC in {@link WebRtcIT}.)
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class HotSwapEachTransportIT {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String LISTEN = "tcp://127.0.0.1:0,quic://127.0.0.1:0,websocket://127.0.0.1:0";

    @Inject
    private org.osgi.framework.BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("hot-swap-each", LISTEN)};
    }

    @Test(timeout = 300_000)
    public void quicLosesNoByteWhileEachOtherTransportIsSwapped() throws Exception {
        try (RemoteNode remote = RemoteNode.start("hot-swap-each-remote", LISTEN)) {
            Connection quicStream = join(manager.openStream(remote.address().only("quic"), Itest.ECHO), WAIT,
                    "an echo stream over quic");
            assertEquals("quic", quicStream.info().protocol());
            EchoLoad load = new EchoLoad(quicStream, "quic");
            for (String protocol : List.of("tcp", "websocket", "relay")) {
                Bundle bundle = Itest.bundle(context, "io.kizuna." + protocol);
                Connection open = protocol.equals("relay") ? null
                        : join(manager.openStream(remote.address().only(protocol), Itest.ECHO), WAIT,
                                "an echo stream over " + protocol);
                bundle.stop();
                assertTrue(protocol + " is gone", Itest.reference(context, Transport.class, filter(protocol)) == null);
                if (open != null) {
                    Throwable failed = Itest.failure(open.write(ByteBuffer.wrap(new byte[1024])).thenCompose(v ->
                            open.read(ByteBuffer.allocate(1024))), WAIT, "the " + protocol + " stream after stop");
                    assertTrue(protocol + ": " + failed, Itest.cause(failed) instanceof TransportException);
                    assertTrue(protocol + " stream closed: " + failed, !open.isConnected());
                }
                assertFalse("the quic load runs on after " + protocol + " stopped", load.ended());

                bundle.start();
                usable(remote, protocol);
                bundle.update();
                usable(remote, protocol);
                assertFalse("the quic load runs on after " + protocol + " was updated", load.ended());
            }
            long bytes = load.finish();
            System.out.println("hot swap of tcp, websocket and relay: " + (bytes >> 20) + " MiB echoed over quic "
                    + "meanwhile, every byte back");
        }
    }

    /** Waits for the transport to be back, then opens a stream over it (the relay has no endpoint here). */
    private void usable(RemoteNode remote, String protocol) {
        Itest.awaitService(context, Transport.class, filter(protocol), WAIT);
        if (protocol.equals("relay")) {
            return;
        }
        PeerAddress only = remote.address().only(protocol);
        Connection stream = await("a stream over " + protocol + " once it is back").atMost(WAIT)
                .pollInterval(Duration.ofMillis(50)).until(() -> {
                    try {
                        return manager.openStream(only, Itest.ECHO).toCompletableFuture().get();
                    } catch (Exception e) {
                        return null;
                    }
                }, c -> c != null);
        assertEquals(protocol, stream.info().protocol());
        Streams.echo(stream, 1 << 20);
    }

    private static String filter(String protocol) {
        return "(" + Transport.PROTOCOL + "=" + protocol + ")";
    }
}
