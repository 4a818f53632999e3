package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;

/**
 * One QUIC transfer between two processes, for tests that put each end in a
 * network namespace of their own (the lab's migration test):
 *
 * <pre>
 * QuicTransferTool listen IP PORT receive        # prints "listening ADDRESS", then "received N sha256 HEX in MS ms"
 * QuicTransferTool listen IP PORT send BYTES     # the listener sends, the dialer receives
 * QuicTransferTool dial ADDRESS send BYTES       # prints "progress N" now and then, then "sent N sha256 HEX"
 * QuicTransferTool dial ADDRESS receive
 * </pre>
 *
 * The receiver times its part from its first read to the end of the stream.
 * System properties: {@code quic.tool.stats=true} prints quiche's counters every
 * second, {@code quic.tool.gso=false} turns segmentation offload off,
 * {@code quic.tool.cc=BBR} chooses the congestion controller.
 * Both ends give up after {@value #LIMIT_SECONDS} s.
 */
public final class QuicTransferTool {

    private static final int CHUNK = 64 * 1024;
    private static final long LIMIT_SECONDS = 180;
    private static final Duration STEP = Duration.ofSeconds(60);
    /** Bytes this end has read or written so far, for the statistics lines. */
    private static final AtomicLong MOVED = new AtomicLong();

    private QuicTransferTool() {
    }

    public static void main(String[] args) throws Exception {
        Thread limit = new Thread(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(LIMIT_SECONDS));
                System.out.println("gave up after " + LIMIT_SECONDS + " s");
                System.exit(3);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        limit.setDaemon(true);
        limit.start();
        if (args.length < 3 || !(args[0].equals("listen") || args[0].equals("dial"))) {
            System.err.println("usage: listen IP PORT receive|send BYTES, dial ADDRESS receive|send BYTES");
            System.exit(2);
        }
        boolean listen = args[0].equals("listen");
        int action = listen ? 3 : 2;
        QuicSettings settings = QuicSettings.defaults()
                .withSegmentationOffload(Boolean.parseBoolean(System.getProperty("quic.tool.gso", "true")))
                .withCongestionControl(QuicSettings.congestionControl(System.getProperty("quic.tool.cc", "CUBIC")));
        QuicTransport quic = new QuicTransport(Identities.generate(), settings);
        Connection c = listen ? accept(quic, new InetSocketAddress(args[1], Integer.parseInt(args[2])))
                : quic.connect(PeerAddress.parse(args[1]), Duration.ofSeconds(10)).toCompletableFuture()
                        .get(20, TimeUnit.SECONDS);
        if (Boolean.getBoolean("quic.tool.stats")) {
            Thread watch = new Thread(() -> {
                while (true) {
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException e) {
                        return;
                    }
                    stats(c);
                }
            });
            watch.setDaemon(true);
            watch.start();
        }
        if (args[action].equals("send")) {
            send(c, Long.parseLong(args[action + 1]));
        } else {
            receive(c);
        }
        quic.deactivate();
        System.exit(0);
    }

    private static Connection accept(QuicTransport quic, InetSocketAddress at) throws Exception {
        BlockingQueue<Connection> accepted = new ArrayBlockingQueue<>(1);
        Listener listener = quic.listen(at, accepted::offer).toCompletableFuture().get(10, TimeUnit.SECONDS);
        System.out.println("listening " + PeerAddress.of(quic.identity().peerId(), listener.endpoint()));
        Connection c = accepted.poll(LIMIT_SECONDS, TimeUnit.SECONDS);
        if (c == null) {
            throw new IllegalStateException("no connection");
        }
        return c;
    }

    /** Reads to the end of the stream, then closes it. */
    private static void receive(Connection c) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        ByteBuffer buffer = ByteBuffer.allocate(CHUNK);
        long total = 0;
        long reported = 0;
        long start = System.nanoTime();
        while (true) {
            buffer.clear();
            int n = c.read(buffer).toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            if (n < 0) {
                break;
            }
            digest.update(buffer.array(), 0, n);
            total += n;
            MOVED.set(total);
            reported = progress(total, reported);
        }
        System.out.println("received " + total + " sha256 " + HexFormat.of().formatHex(digest.digest()) + " in "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms");
        stats(c);
        c.close().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
    }

    /** Sends seeded random bytes, half-closes, and waits for the peer to close. */
    private static void send(Connection c, long bytes) throws Exception {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        SplittableRandom random = new SplittableRandom(bytes);
        byte[] chunk = new byte[CHUNK];
        long sent = 0;
        long reported = 0;
        while (sent < bytes) {
            int n = (int) Math.min(CHUNK, bytes - sent);
            random.nextBytes(chunk);
            digest.update(chunk, 0, n);
            c.write(ByteBuffer.wrap(chunk, 0, n)).toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
            sent += n;
            MOVED.set(sent);
            reported = progress(sent, reported);
        }
        c.shutdownOutput().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
        stats(c);
        c.closeFuture().toCompletableFuture().get(STEP.toSeconds(), TimeUnit.SECONDS);
        System.out.println("sent " + sent + " sha256 " + HexFormat.of().formatHex(digest.digest()));
    }

    /** Prints quiche's counters: packets sent and lost, and per path its state, congestion window and round trip. */
    private static void stats(Connection c) {
        if (c instanceof QuicConnection q && q.channel() != null) {
            try {
                var s = q.channel().collectStats().get(5, TimeUnit.SECONDS);
                StringBuilder line = new StringBuilder("stats app " + MOVED.get() + " sent " + s.sent() + " lost "
                        + s.lost() + " retrans " + s.retrans() + " sentBytes " + s.sentBytes() + " recvBytes "
                        + s.recvBytes() + " lostBytes " + s.lostBytes() + " paths " + s.pathsCount());
                for (int i = 0; i < s.pathsCount(); i++) {
                    var p = q.channel().collectPathStats(i).get(5, TimeUnit.SECONDS);
                    line.append(" | path ").append(i).append(' ').append(p.peerAddress())
                            .append(p.active() ? " active" : "")
                            .append(" validation ").append(p.validationState()).append(" sent ").append(p.sent())
                            .append(" recv ").append(p.recv()).append(" lost ").append(p.lost()).append(" rtt ")
                            .append(TimeUnit.NANOSECONDS.toMicros(p.rtt())).append(" us cwnd ").append(p.cwnd());
                }
                System.out.println(line);
            } catch (Exception e) {
                System.out.println("stats unavailable: " + e);
            }
        }
    }

    private static long progress(long done, long reported) {
        if (done - reported < 4L << 20) {
            return reported;
        }
        System.out.println("progress " + done);
        return done;
    }
}
