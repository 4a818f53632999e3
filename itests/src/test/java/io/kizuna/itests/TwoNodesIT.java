package io.kizuna.itests;

import static io.kizuna.itests.Itest.failure;
import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.TransportException;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Two nodes on one machine: this framework's connection manager and a second
 * node started from the runtime distribution in its own JVM. They connect over
 * TCP, ping, run perf, and carry an application stream to the second node's
 * echo handler.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class TwoNodesIT {

    private static final Duration CONNECT = Duration.ofSeconds(20);
    private static final long PERF_BYTES = 8L << 20;
    private static final long ECHO_BYTES = 4L << 20;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("two-nodes")};
    }

    @Test(timeout = 180_000)
    public void connectPingAndPerf() throws Exception {
        try (RemoteNode remote = RemoteNode.start("two-nodes-perf")) {
            PeerAddress peer = remote.address();
            ConnectionInfo info = join(manager.connectToPeer(peer), CONNECT, "connecting to " + remote);
            assertEquals("authenticated peer", peer.peerId(), info.peerId());
            assertEquals("tcp", info.protocol());
            assertEquals(ConnectionInfo.Direction.OUTBOUND, info.direction());
            assertEquals("remote endpoint", peer.endpoints("tcp").get(0).address().getPort(),
                    info.remoteAddress().getPort());
            assertFalse("pooled", manager.connections(peer.peerId()).isEmpty());

            ConnectionInfo again = join(manager.connectToPeer(peer), CONNECT, "connecting again to " + remote);
            assertEquals("the pooled connection is reused", info.id(), again.id());

            PingResult ping = join(manager.ping(peer), CONNECT, "pinging " + remote);
            assertEquals(peer.peerId(), ping.peer());
            assertEquals("tcp", ping.protocol());
            assertTrue("a measured round trip: " + ping.rtt(),
                    !ping.rtt().isNegative() && ping.rtt().compareTo(Duration.ofSeconds(5)) < 0);

            List<PerfResult.Progress> progress = new CopyOnWriteArrayList<>();
            PerfResult perf = join(manager.perf(peer, PERF_BYTES, PERF_BYTES, progress::add), Duration.ofSeconds(90),
                    "perf with " + remote);
            assertEquals("tcp", perf.protocol());
            assertEquals(peer.peerId(), perf.peer());
            assertEquals("uploaded", PERF_BYTES, perf.uploadBytes());
            assertEquals("downloaded", PERF_BYTES, perf.downloadBytes());
            assertTrue("upload throughput " + perf.uploadBitsPerSecond(), perf.uploadBitsPerSecond() > 0);
            assertTrue("download throughput " + perf.downloadBitsPerSecond(), perf.downloadBitsPerSecond() > 0);
            System.out.printf("perf over tcp to the other node: upload %.0f Mbit/s, download %.0f Mbit/s (%d MiB each)%n",
                    perf.uploadBitsPerSecond() / 1e6, perf.downloadBitsPerSecond() / 1e6, PERF_BYTES >> 20);
            assertFalse("progress was reported", progress.isEmpty());
            assertTrue("progress of both phases: " + progress,
                    progress.stream().anyMatch(p -> p.phase().equals("upload"))
                            && progress.stream().anyMatch(p -> p.phase().equals("download")));

            ConnectionMetrics tcp = manager.metricsByProtocol().get("tcp");
            assertTrue("tcp metrics: " + manager.metricsByProtocol(), tcp != null && tcp.established() >= 1);
            assertTrue("bytes counted: " + tcp, tcp.bytesSent() >= PERF_BYTES && tcp.bytesReceived() >= PERF_BYTES);
            assertTrue("per-peer metrics: " + manager.metrics(peer.peerId()),
                    manager.metrics(peer.peerId()).established() >= 1);

            join(manager.disconnect(peer.peerId()), CONNECT, "disconnecting " + remote);
            assertTrue("nothing pooled after disconnect: " + manager.connections(peer.peerId()),
                    manager.connections(peer.peerId()).isEmpty());
        }
    }

    @Test(timeout = 180_000)
    public void applicationStreamToTheOtherNode() throws Exception {
        try (RemoteNode remote = RemoteNode.start("two-nodes-stream")) {
            PeerAddress peer = remote.address();
            Connection stream = join(manager.openStream(peer, Itest.ECHO), CONNECT,
                    "opening an echo stream to " + remote);
            assertEquals("authenticated peer", peer.peerId(), stream.info().peerId());
            Streams.echo(stream, ECHO_BYTES);
            join(stream.close(), CONNECT, "closing the echo stream");
            join(stream.closeFuture(), CONNECT, "the echo stream's close");

            // the other node authenticated this one, and saw the stream end in order after every byte
            String me = manager.localPeerId().toString();
            List<String> events = await("the echo handler to see end of stream").atMost(CONNECT)
                    .until(remote::echoEvents, e -> e.stream().anyMatch(l -> l.startsWith("eof ")));
            assertTrue("echo events: " + events, events.contains("open 1 " + me));
            assertTrue("echo events: " + events, events.contains("eof 1 " + me + " " + ECHO_BYTES));

            // a protocol nobody serves there is refused with the case that says so
            Throwable refused = failure(manager.openStream(peer, "itest/nobody/1"), CONNECT,
                    "opening a stream nobody serves");
            assertTrue("UnsupportedProtocol, got " + refused, refused instanceof TransportException.UnsupportedProtocol);
            assertTrue("the message names the protocol: " + refused.getMessage(),
                    refused.getMessage().contains("itest/nobody/1"));
        }
    }
}
