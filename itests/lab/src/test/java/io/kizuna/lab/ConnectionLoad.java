package io.kizuna.lab;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import javax.net.ssl.SSLSocket;

import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.protocol.FrameDecoder;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.PeerId;

/**
 * Many authenticated connections to one node over TCP, each from a peer of its
 * own, as Kizuna nodes make them: TLS 1.3 with the identity-bound certificate
 * (the listener's PeerId checked), then the control protocol's OPEN and HELLO
 * both ways. Run as its own process by {@link Bench}:
 *
 * <pre>
 * ConnectionLoad idle HOST PORT PEER-ID COUNT   # opens COUNT, prints "ready COUNT", holds them until stdin ends
 * ConnectionLoad rate HOST PORT PEER-ID SECONDS # connects, says hello and closes, 16 at a time; prints the count
 * </pre>
 */
final class ConnectionLoad {

    private static final String CONTROL = "kizuna/control/1";
    private static final int THREADS = 16;
    private static final int TIMEOUT_MILLIS = 30_000;
    /** How long idle connections are held at most, whatever stdin does. */
    private static final long HOLD_SECONDS = 300;

    private ConnectionLoad() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            throw new IllegalArgumentException("usage: idle|rate HOST PORT PEER-ID COUNT|SECONDS");
        }
        InetSocketAddress node = new InetSocketAddress(args[1], Integer.parseInt(args[2]));
        PeerId expected = PeerId.parse(args[3]);
        int n = Integer.parseInt(args[4]);
        if (args[0].equals("idle")) {
            idle(node, expected, n);
        } else {
            rate(node, expected, n);
        }
    }

    private static void idle(InetSocketAddress node, PeerId expected, int count) throws Exception {
        if (count < 1 || count > 20_000) {
            throw new IllegalArgumentException("count " + count + ": 1 to 20000");
        }
        List<SSLSocket> open = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        long start = System.nanoTime();
        List<Future<?>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            all.add(pool.submit(() -> {
                open.add(connect(node, expected));
                return null;
            }));
        }
        for (Future<?> f : all) {
            f.get(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        }
        pool.shutdown();
        System.out.printf("ready %d in %.1f s%n", open.size(), (System.nanoTime() - start) / 1e9);
        System.out.flush();
        // hold them until the harness has measured and closes our stdin (bounded all the same)
        Thread holder = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                while (in.readLine() != null) {
                    // nothing to do but wait for the end
                }
            } catch (IOException e) {
                // the end as well
            }
        });
        holder.setDaemon(true);
        holder.start();
        holder.join(TimeUnit.SECONDS.toMillis(HOLD_SECONDS));
        for (SSLSocket s : open) {
            s.close();
        }
    }

    private static void rate(InetSocketAddress node, PeerId expected, int seconds) throws Exception {
        if (seconds < 1 || seconds > 120) {
            throw new IllegalArgumentException("seconds " + seconds + ": 1 to 120");
        }
        // identities made up front: key generation is the dialer's cost, not the listener's
        List<NodeIdentity> identities = new ArrayList<>();
        for (int i = 0; i < THREADS * 4; i++) {
            identities.add(Identities.generate());
        }
        AtomicLong done = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        for (int t = 0; t < THREADS; t++) {
            int first = t;
            pool.submit(() -> {
                for (int i = first; System.nanoTime() < deadline; i += THREADS) {
                    try (SSLSocket s = connect(node, expected, identities.get(i % identities.size()))) {
                        done.incrementAndGet();
                    } catch (IOException | RuntimeException e) {
                        failed.incrementAndGet();
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(seconds + 60L, TimeUnit.SECONDS);
        System.out.printf("handshakes %d failed %d in %d s%n", done.get(), failed.get(), seconds);
    }

    private static SSLSocket connect(InetSocketAddress node, PeerId expected) throws IOException {
        return connect(node, expected, Identities.generate());
    }

    /** TLS with the bound certificates, the listener's PeerId checked, then OPEN and HELLO, and the node's HELLO. */
    private static SSLSocket connect(InetSocketAddress node, PeerId expected, NodeIdentity self) throws IOException {
        SSLSocket s = (SSLSocket) self.sslContext().getSocketFactory().createSocket();
        try {
            s.connect(node, TIMEOUT_MILLIS);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.setTcpNoDelay(true);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            s.startHandshake();
            try {
                PeerCertificates.expect(s.getSession(), expected);
            } catch (io.kizuna.transport.TransportException e) {
                throw new IOException(e.getMessage(), e);
            }
            OutputStream out = s.getOutputStream();
            out.write(frame(new ControlMessage.Open(CONTROL)));
            out.write(frame(new ControlMessage.Hello(ControlCodec.VERSION, self.peerId(), List.of(), List.of("tcp"),
                    Optional.empty())));
            out.flush();
            awaitHello(new DataInputStream(s.getInputStream()));
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        }
    }

    private static byte[] frame(ControlMessage m) {
        ByteBuffer b = ControlCodec.encode(m, ControlCodec.DEFAULT_MAX_FRAME_SIZE);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    private static void awaitHello(DataInputStream in) throws IOException {
        FrameDecoder decoder = new FrameDecoder(ControlCodec.DEFAULT_MAX_FRAME_SIZE);
        byte[] buf = new byte[4096];
        for (int frames = 0; frames < 4; ) {
            int n = in.read(buf);
            if (n < 0) {
                throw new IOException("the node closed the connection before its HELLO");
            }
            ByteBuffer chunk = ByteBuffer.wrap(buf, 0, n);
            while (chunk.hasRemaining()) {
                ControlMessage m;
                try {
                    m = decoder.decode(chunk);
                } catch (io.kizuna.transport.TransportException e) {
                    throw new IOException("bad frame from the node: " + e.getMessage(), e);
                }
                if (m == null) {
                    break;
                }
                frames++;
                if (m instanceof ControlMessage.Hello) {
                    return;
                }
                if (!(m instanceof ControlMessage.OpenOk)) {
                    throw new IOException("expected OPEN_OK and HELLO, got " + m);
                }
            }
        }
        throw new IOException("no HELLO from the node");
    }
}
