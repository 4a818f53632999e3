package io.kizuna.itests;

import static io.kizuna.itests.Itest.join;
import static org.junit.Assert.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import javax.inject.Inject;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PerfResult;

import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;

/**
 * Over real TCP to a node of the runtime distribution: two perf runs and four
 * application streams all travel in one TCP connection, the one the first perf
 * run dialed (the stream multiplexer), as the operating system's socket table
 * shows.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class StreamMuxIT {

    private static final Duration STEP = Duration.ofSeconds(30);

    @Inject
    private ConnectionManager manager;

    @Configuration
    public Option[] config() {
        return new Option[] {KizunaOptions.node("stream-mux")};
    }

    @Test(timeout = 180_000)
    public void perfRunsAndStreamsShareOneTcpConnection() throws Exception {
        try (RemoteNode remote = RemoteNode.start("stream-mux")) {
            PeerAddress peer = remote.address();
            int port = peer.endpoints("tcp").get(0).address().getPort();

            for (int run = 1; run <= 2; run++) {
                PerfResult perf = join(manager.perf(peer, 1L << 20, 1L << 20, null), STEP, "perf run " + run);
                assertEquals("tcp", perf.protocol());
                assertEquals(1L << 20, perf.downloadBytes());
            }
            List<Connection> streams = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Connection s = join(manager.openStream(peer, Itest.ECHO), STEP, "opening echo stream " + i);
                Streams.roundTrip(s, "stream " + i);
                streams.add(s);
            }
            assertEquals("TCP connections from this node to " + remote + " with four streams open", 1,
                    establishedTo(port));
            Streams.echo(streams.get(0), 1L << 20);
            for (Connection s : streams) {
                join(s.close(), STEP, "closing an echo stream");
            }
            assertEquals("control connections established", 1,
                    manager.metricsByProtocol().get("tcp").established());
            assertEquals(1, establishedTo(port));
        }
    }

    /** @return ESTABLISHED TCP sockets on this host whose remote port is {@code port} (Linux socket tables) */
    private static long establishedTo(int port) throws IOException {
        String hexPort = String.format(Locale.ROOT, ":%04X", port);
        long n = 0;
        for (String table : new String[] {"/proc/net/tcp", "/proc/net/tcp6"}) {
            Path p = Path.of(table);
            if (!Files.isReadable(p)) {
                continue;
            }
            for (String line : Files.readAllLines(p)) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 3 && f[2].endsWith(hexPort) && f[3].equals("01")) {
                    n++;
                }
            }
        }
        return n;
    }
}
