package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.awaitility.Awaitility.await;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerMethod;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleException;

/**
 * Hot swap under load: while an echo stream over TCP carries data both ways
 * without pause, the QUIC bundle is stopped and started twice and updated
 * once. Every byte comes back (SHA-256), and after each start the first dial
 * over QUIC is timed from the bundle operation. The figures go to {@code hot-swap-figures.md} in
 * the work folder, where {@code itests/bench/hotswap} picks them up.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerMethod.class)
public class HotSwapUnderLoadIT {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String LISTEN = "tcp://127.0.0.1:0,quic://127.0.0.1:0";
    private static final int CYCLES = 3;

    @Inject
    private org.osgi.framework.BundleContext context;

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("hot-swap-load", LISTEN)};
    }

    @Test(timeout = 300_000)
    public void tcpLosesNoByteWhileQuicIsStoppedStartedAndUpdated() throws Exception {
        try (RemoteNode remote = RemoteNode.start("hot-swap-load-remote", LISTEN)) {
            PeerAddress tcp = remote.address().only("tcp");
            PeerAddress quic = remote.address().only("quic");
            join(manager.connectToPeer(quic), WAIT, "connecting over quic to " + remote);
            Connection stream = join(manager.openStream(tcp, Itest.ECHO), WAIT, "an echo stream over tcp");
            assertEquals("tcp", stream.info().protocol());

            Bundle bundle = Itest.bundle(context, "io.kizuna.quic");
            long start = System.nanoTime();
            EchoLoad load = new EchoLoad(stream, "tcp");
            List<Duration> firstDial = new ArrayList<>();
            List<String> operations = new ArrayList<>();
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                boolean update = cycle == CYCLES - 1;
                operations.add(update ? "update" : "stop, start");
                firstDial.add(swap(bundle, quic, update));
                assertTrue("the load is still running after swap " + (cycle + 1), !load.ended());
            }
            long written = load.finish();
            double seconds = (System.nanoTime() - start) / 1e9;
            writeFigures(firstDial, operations, written, seconds);
        }
    }

    /** Stops and starts (or updates) the bundle and times the first successful dial over it afterwards. */
    private Duration swap(Bundle bundle, PeerAddress quic, boolean update) throws BundleException {
        long t0;
        if (update) {
            t0 = System.nanoTime();
            bundle.update();
        } else {
            bundle.stop();
            await("the pooled quic connection to close").atMost(WAIT)
                    .until(() -> manager.connections(quic.peerId()).stream().noneMatch(c -> c.protocol().equals("quic")));
            t0 = System.nanoTime();
            bundle.start();
        }
        ConnectionInfo info = await("a dial over quic after the bundle came back").atMost(WAIT)
                .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                .until(() -> dialOnce(quic), c -> c != null);
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertEquals("quic", info.protocol());
        System.out.println("hot swap under load: first dial over quic " + took.toMillis() + " ms after "
                + (update ? "update" : "start"));
        return took;
    }

    private ConnectionInfo dialOnce(PeerAddress peer) {
        try {
            return manager.connectToPeer(peer).toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    private static void writeFigures(List<Duration> firstDial, List<String> operations, long bytes, double seconds)
            throws IOException {
        StringBuilder s = new StringBuilder("| bundle operation on quic | first dial over quic after it (ms) |\n"
                + "| --- | ---: |\n");
        for (int i = 0; i < firstDial.size(); i++) {
            s.append("| ").append(operations.get(i)).append(" | ").append(firstDial.get(i).toMillis()).append(" |\n");
        }
        s.append(String.format(Locale.ROOT, "%nMeanwhile an echo stream over tcp carried %d MiB each way in %.1f s; "
                + "bytes lost: 0 (the SHA-256 of what came back equals what was sent).%n", bytes >> 20, seconds));
        Path out = Path.of(Itest.property("itest.work")).resolve("hot-swap-figures.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, s.toString());
    }
}
