package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;

/**
 * A WebRTC peer from the command line, outside OSGi, for the network lab and
 * benchmarks: one node listens and echoes, another dials, sends bytes and checks
 * the echo's SHA-256. Each prints the ICE candidate pair that carried the data.
 *
 * <pre>
 * WebRtcTool listen ip:port [options]          prints "listening &lt;address&gt;", echoes one connection
 * WebRtcTool dial &lt;address&gt; &lt;bytes&gt; [options] prints "connected in N ms over &lt;pair&gt;", "echo sha256 ok"
 * WebRtcTool bench-open &lt;count&gt; [options]      two nodes in this JVM: time to an open DataChannel,
 *                                             for new peer connections and for further DataChannels
 * options: --stun ip:port  --turn ip:port  --turn-user U  --turn-password P  --relay-only
 *          --networks cidr[,cidr]  --loopback  --native-log (libwebrtc's log on stderr)
 * </pre>
 */
public final class WebRtcTool {

    private static final int CHUNK = 64 * 1024;

    private WebRtcTool() {
    }

    /**
     * @param args the command, see the class comment
     * @throws Exception on any failure (the exit status is then 1)
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: WebRtcTool listen ip:port [options] | dial <address> <bytes> [options]");
            System.exit(2);
        }
        boolean dial = args[0].equals("dial");
        List<String> options = new ArrayList<>(Arrays.asList(args).subList(dial ? 3 : 2, args.length));
        if (args[0].equals("bench-open")) {
            System.exit(benchOpen(Integer.parseInt(args[1]), settings(options)));
        }
        if (options.remove("--native-log")) {
            // libwebrtc's own log on stderr, for diagnosing ICE
            dev.onvoid.webrtc.logging.Logging.logToDebug(dev.onvoid.webrtc.logging.Logging.Severity.INFO);
            dev.onvoid.webrtc.logging.Logging.logTimestamps(true);
        }
        WebRtcTransport t = new WebRtcTransport(Identities.generate(), settings(options));
        if (!t.isAvailable()) {
            System.out.println("unavailable: " + t.unavailableReason().orElse(""));
            System.exit(1);
        }
        int status;
        try {
            status = dial ? dial(t, PeerAddress.parse(args[1]), Long.parseLong(args[2])) : listen(t, args[1]);
        } finally {
            t.deactivate();
        }
        System.out.flush();
        Runtime.getRuntime().halt(status); // libwebrtc's threads need not be waited for
    }

    static WebRtcSettings settings(List<String> options) {
        List<String> stun = new ArrayList<>();
        List<String> turn = new ArrayList<>();
        String user = "";
        String password = "";
        boolean relayOnly = false;
        List<Cidr> networks = List.of();
        boolean loopback = false;
        for (int i = 0; i < options.size(); i++) {
            String o = options.get(i);
            switch (o) {
                case "--stun" -> stun.add(options.get(++i));
                case "--turn" -> turn.add(options.get(++i));
                case "--turn-user" -> user = options.get(++i);
                case "--turn-password" -> password = options.get(++i);
                case "--relay-only" -> relayOnly = true;
                case "--networks" -> networks = Arrays.stream(options.get(++i).split(",")).map(Cidr::parse).toList();
                case "--loopback" -> loopback = true;
                default -> throw new IllegalArgumentException("unknown option " + o);
            }
        }
        return WebRtcSettings.defaults().withIceServers(stun, turn, user, password, relayOnly)
                .withCandidateNetworks(networks).withLoopbackCandidates(loopback);
    }

    private static int benchOpen(int count, WebRtcSettings settings) throws Exception {
        WebRtcTransport a = new WebRtcTransport(Identities.generate(), settings);
        WebRtcTransport b = new WebRtcTransport(Identities.generate(), settings);
        try {
            BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            Listener l = b.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                    .get(10, TimeUnit.SECONDS);
            PeerAddress to = PeerAddress.of(b.identity().peerId(), l.endpoint());
            long[] connects = new long[count];
            long[] streams = new long[count];
            String pair = "";
            for (int i = -3; i < count; i++) { // three rounds to warm up
                long t0 = System.nanoTime();
                Connection c = a.connect(to, Duration.ofSeconds(10)).toCompletableFuture().get(15, TimeUnit.SECONDS);
                long t1 = System.nanoTime();
                Connection in = accepted.poll(10, TimeUnit.SECONDS);
                if (in == null) {
                    throw new IllegalStateException("the listener accepted nothing");
                }
                ((WebRtcConnection) in).onStream(s -> { });
                long t2 = System.nanoTime();
                ((WebRtcConnection) c).openStream().toCompletableFuture().get(10, TimeUnit.SECONDS);
                long t3 = System.nanoTime();
                pair = ((WebRtcConnection) c).candidatePair();
                c.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
                in.closeFuture().toCompletableFuture().get(10, TimeUnit.SECONDS);
                if (i >= 0) {
                    connects[i] = t1 - t0;
                    streams[i] = t3 - t2;
                }
            }
            Arrays.sort(connects);
            Arrays.sort(streams);
            System.out.printf("new peer connection to an open DataChannel: median %.1f ms, min %.1f ms, max %.1f ms "
                    + "(%d runs, %s)%n", connects[count / 2] / 1e6, connects[0] / 1e6, connects[count - 1] / 1e6,
                    count, pair);
            System.out.printf("further DataChannel on an open connection: median %.2f ms, min %.2f ms, max %.2f ms%n",
                    streams[count / 2] / 1e6, streams[0] / 1e6, streams[count - 1] / 1e6);
            return 0;
        } finally {
            a.deactivate();
            b.deactivate();
        }
    }

    private static int listen(WebRtcTransport t, String at) throws Exception {
        String[] hp = at.split(":");
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = t.listen(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), accepted::add)
                .toCompletableFuture().get(10, TimeUnit.SECONDS);
        System.out.println("listening " + t.identity().peerId() + "@" + l.endpoint());
        System.out.flush();
        Connection c = accepted.poll(120, TimeUnit.SECONDS);
        if (c == null) {
            System.out.println("nobody connected");
            return 1;
        }
        System.out.println("accepted from " + c.info().peerId().shortForm() + " over "
                + ((WebRtcConnection) c).candidatePair());
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        long echoed = 0;
        while (true) {
            buf.clear();
            int n = c.read(buf).toCompletableFuture().get(60, TimeUnit.SECONDS);
            if (n < 0) {
                break;
            }
            buf.flip();
            c.write(buf).toCompletableFuture().get(60, TimeUnit.SECONDS);
            echoed += n;
        }
        c.shutdownOutput().toCompletableFuture().get(10, TimeUnit.SECONDS);
        c.closeFuture().toCompletableFuture().get(10, TimeUnit.SECONDS);
        System.out.println("echoed " + echoed + " bytes");
        return 0;
    }

    private static int dial(WebRtcTransport t, PeerAddress to, long bytes) throws Exception {
        long start = System.nanoTime();
        Connection c = t.connect(to, Duration.ofSeconds(20)).toCompletableFuture().get(30, TimeUnit.SECONDS);
        long connected = System.nanoTime();
        System.out.println("connected in " + TimeUnit.NANOSECONDS.toMillis(connected - start) + " ms over "
                + ((WebRtcConnection) c).candidatePair());
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        MessageDigest back = MessageDigest.getInstance("SHA-256");
        Thread reader = new Thread(() -> {
            try {
                ByteBuffer buf = ByteBuffer.allocate(CHUNK);
                while (true) {
                    buf.clear();
                    int n = c.read(buf).toCompletableFuture().get(60, TimeUnit.SECONDS);
                    if (n < 0) {
                        return;
                    }
                    back.update(buf.array(), 0, n);
                }
            } catch (Exception e) {
                System.out.println("read failed: " + e);
            }
        }, "echo-reader");
        reader.start();
        SplittableRandom data = new SplittableRandom(bytes);
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        for (long left = bytes; left > 0; left -= buf.limit()) {
            buf.clear();
            buf.limit((int) Math.min(CHUNK, left));
            while (buf.hasRemaining()) {
                buf.put((byte) data.nextInt());
            }
            buf.flip();
            sent.update(buf.duplicate());
            c.write(buf).toCompletableFuture().get(60, TimeUnit.SECONDS);
        }
        c.shutdownOutput().toCompletableFuture().get(10, TimeUnit.SECONDS);
        reader.join(TimeUnit.SECONDS.toMillis(120));
        double seconds = (System.nanoTime() - connected) / 1e9;
        byte[] a = sent.digest();
        byte[] b = back.digest();
        System.out.printf("%d bytes echoed in %.3f s; sha256 %s%n", bytes, seconds, HexFormat.of().formatHex(a));
        System.out.println(Arrays.equals(a, b) ? "echo sha256 ok" : "echo sha256 MISMATCH "
                + HexFormat.of().formatHex(b));
        System.out.println("pair at the end: " + ((WebRtcConnection) c).candidatePair());
        c.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
        return Arrays.equals(a, b) ? 0 : 1;
    }
}
