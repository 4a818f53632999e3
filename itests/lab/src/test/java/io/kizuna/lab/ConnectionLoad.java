package io.kizuna.lab;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
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
 * Many authenticated connections to one node, each from a peer of its own, as
 * Kizuna nodes make them: the transport's handshake with the identity-bound
 * certificates (the listener's PeerId checked), then the control protocol's OPEN
 * and HELLO both ways. TCP is TLS 1.3 over a socket; WebSocket is the same plus
 * the HTTP upgrade (subprotocol {@code kizuna.v1}) and masked binary messages;
 * QUIC is {@link QuicLoad}. Run as its own process by {@link Bench}:
 *
 * <pre>
 * ConnectionLoad idle TRANSPORT HOST PORT PEER-ID COUNT   # opens COUNT, prints "ready COUNT", holds them until stdin ends
 * ConnectionLoad rate TRANSPORT HOST PORT PEER-ID SECONDS # connects, says hello and closes, 16 at a time; prints the count
 * </pre>
 *
 * <p>Each connection presents a new identity, and no TLS session is resumed: every
 * handshake is a full one.
 */
final class ConnectionLoad {

    static final String CONTROL = "kizuna/control/1";
    static final int THREADS = 16;
    static final int TIMEOUT_MILLIS = 30_000;
    /** How long idle connections are held at most, whatever stdin does. */
    private static final long HOLD_SECONDS = 600;
    /** The path of the WebSocket listener (the transport's default). */
    private static final String WEBSOCKET_PATH = "/kizuna";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Opens one authenticated connection with a given identity. */
    interface Dialer {
        AutoCloseable connect(NodeIdentity self) throws IOException;
    }

    private ConnectionLoad() {
    }

    public static void main(String[] args) {
        try {
            load(args);
        } catch (Exception e) {
            // the dialers' and event loops' threads would keep the process alive: end it
            System.out.println("the load failed: " + e);
            e.printStackTrace(System.out);
            System.exit(1);
        }
        System.exit(0);
    }

    private static void load(String[] args) throws Exception {
        if (args.length != 6 || !List.of("idle", "rate").contains(args[0])) {
            throw new IllegalArgumentException("usage: idle|rate tcp|websocket|quic HOST PORT PEER-ID COUNT|SECONDS");
        }
        InetSocketAddress node = new InetSocketAddress(args[2], Integer.parseInt(args[3]));
        PeerId expected = PeerId.parse(args[4]);
        int n = Integer.parseInt(args[5]);
        boolean idle = args[0].equals("idle");
        if (idle && (n < 1 || n > 20_000)) {
            throw new IllegalArgumentException("count " + n + ": 1 to 20000");
        }
        if (!idle && (n < 1 || n > 120)) {
            throw new IllegalArgumentException("seconds " + n + ": 1 to 120");
        }
        switch (args[1]) {
            case "tcp" -> run(idle, n, self -> tcp(node, expected, self, !idle));
            case "websocket" -> run(idle, n, self -> websocket(node, expected, self, !idle));
            case "quic" -> {
                try (QuicLoad quic = new QuicLoad(node, expected, idle)) {
                    run(idle, n, quic::connect);
                }
            }
            default -> throw new IllegalArgumentException("transport " + args[1] + ": tcp, websocket or quic");
        }
    }

    private static void run(boolean idle, int n, Dialer dialer) throws Exception {
        if (idle) {
            idle(n, dialer);
        } else {
            rate(n, dialer);
        }
    }

    private static void idle(int count, Dialer dialer) throws Exception {
        List<AutoCloseable> open = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        long start = System.nanoTime();
        List<Future<?>> all = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            all.add(pool.submit(() -> {
                open.add(dialer.connect(Identities.generate()));
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
        for (AutoCloseable c : open) {
            c.close();
        }
    }

    private static void rate(int seconds, Dialer dialer) throws Exception {
        // identities made up front: key generation is the dialer's cost, not the listener's
        List<NodeIdentity> identities = new ArrayList<>();
        for (int i = 0; i < THREADS * 4; i++) {
            identities.add(Identities.generate());
        }
        AtomicLong done = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicLong firstFailure = new AtomicLong();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        for (int t = 0; t < THREADS; t++) {
            int first = t;
            pool.submit(() -> {
                for (int i = first; System.nanoTime() < deadline; i += THREADS) {
                    try (AutoCloseable c = dialer.connect(identities.get(i % identities.size()))) {
                        done.incrementAndGet();
                    } catch (Exception e) {
                        if (failed.incrementAndGet() == 1 && firstFailure.compareAndSet(0, 1)) {
                            System.out.println("first failure: " + e);
                        }
                    }
                }
            });
        }
        pool.shutdown();
        pool.awaitTermination(seconds + 60L, TimeUnit.SECONDS);
        System.out.printf("handshakes %d failed %d in %d s%n", done.get(), failed.get(), seconds);
    }

    // ------------------------------------------------------------------ tcp

    /** TLS with the bound certificates, the listener's PeerId checked, then OPEN and HELLO, and the node's HELLO. */
    private static SSLSocket tcp(InetSocketAddress node, PeerId expected, NodeIdentity self, boolean forgetSession)
            throws IOException {
        SSLSocket s = tls(node, expected, self, forgetSession);
        try {
            OutputStream out = s.getOutputStream();
            out.write(hello(self, "tcp"));
            out.flush();
            awaitHello(new DataInputStream(s.getInputStream())::read);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        }
    }

    private static SSLSocket tls(InetSocketAddress node, PeerId expected, NodeIdentity self, boolean forgetSession)
            throws IOException {
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
            if (forgetSession) {
                // the identities of the rate load are reused: no later connect may resume this session
                s.getSession().invalidate();
            }
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ websocket

    /** TLS as for TCP, then the HTTP upgrade, then OPEN and HELLO in a masked binary message. */
    private static SSLSocket websocket(InetSocketAddress node, PeerId expected, NodeIdentity self,
            boolean forgetSession) throws IOException {
        SSLSocket s = tls(node, expected, self, forgetSession);
        try {
            byte[] key = new byte[16];
            RANDOM.nextBytes(key);
            String request = "GET " + WEBSOCKET_PATH + " HTTP/1.1\r\nHost: " + node.getHostString() + ":"
                    + node.getPort() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                    + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
                    + "Sec-WebSocket-Protocol: kizuna.v1\r\n\r\n";
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            DataInputStream in = new DataInputStream(s.getInputStream());
            String status = upgradeResponse(in);
            if (!status.startsWith("HTTP/1.1 101")) {
                throw new IOException("the node refused the upgrade: " + status);
            }
            out.write(maskedBinary(hello(self, "websocket")));
            out.flush();
            WebSocketReader reader = new WebSocketReader(in);
            awaitHello(reader::read);
            return s;
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        }
    }

    /** @return the status line, after reading the response head to its blank line (at most 8 KiB) */
    private static String upgradeResponse(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0 || head.length() > 8192) {
                throw new IOException("no complete upgrade response: " + head);
            }
            head.append((char) b);
        }
        return head.substring(0, head.indexOf("\r\n"));
    }

    /** One final binary frame as a client sends it: masked (RFC 6455, 5.3). */
    static byte[] maskedBinary(byte[] payload) {
        int n = payload.length;
        int header = n < 126 ? 2 : n < 65536 ? 4 : 10;
        byte[] frame = new byte[header + 4 + n];
        frame[0] = (byte) 0x82;
        if (n < 126) {
            frame[1] = (byte) (0x80 | n);
        } else if (n < 65536) {
            frame[1] = (byte) (0x80 | 126);
            frame[2] = (byte) (n >>> 8);
            frame[3] = (byte) n;
        } else {
            frame[1] = (byte) (0x80 | 127);
            for (int i = 0; i < 8; i++) {
                frame[2 + i] = (byte) ((long) n >>> (56 - 8 * i));
            }
        }
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        System.arraycopy(mask, 0, frame, header, 4);
        for (int i = 0; i < n; i++) {
            frame[header + 4 + i] = (byte) (payload[i] ^ mask[i & 3]);
        }
        return frame;
    }

    /** The payload bytes of the server's binary messages, frame by frame; control frames are skipped. */
    static final class WebSocketReader {
        private final DataInputStream in;
        private long left;

        WebSocketReader(DataInputStream in) {
            this.in = in;
        }

        int read(byte[] buf) throws IOException {
            while (left == 0) {
                int b0 = in.readUnsignedByte();
                int b1 = in.readUnsignedByte();
                long n = b1 & 0x7f;
                if (n == 126) {
                    n = in.readUnsignedShort();
                } else if (n == 127) {
                    n = in.readLong();
                }
                if ((b1 & 0x80) != 0 || n < 0 || n > ControlCodec.DEFAULT_MAX_FRAME_SIZE + 64) {
                    throw new IOException("bad WebSocket frame from the node");
                }
                int opcode = b0 & 0x0f;
                if (opcode == 0x8) {
                    return -1;
                }
                if (opcode != 0x0 && opcode != 0x2) {
                    in.skipNBytes(n); // ping or pong: nothing the load answers while it connects
                    continue;
                }
                left = n;
            }
            int r = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (r > 0) {
                left -= r;
            }
            return r;
        }
    }

    // ------------------------------------------------------------------ the control protocol

    /** @return OPEN of the control protocol and this peer's HELLO, framed */
    static byte[] hello(NodeIdentity self, String transport) {
        byte[] open = frame(new ControlMessage.Open(CONTROL));
        byte[] hello = frame(new ControlMessage.Hello(ControlCodec.VERSION, self.peerId(), List.of(),
                List.of(transport), Optional.empty()));
        byte[] both = new byte[open.length + hello.length];
        System.arraycopy(open, 0, both, 0, open.length);
        System.arraycopy(hello, 0, both, open.length, hello.length);
        return both;
    }

    private static byte[] frame(ControlMessage m) {
        ByteBuffer b = ControlCodec.encode(m, ControlCodec.DEFAULT_MAX_FRAME_SIZE);
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /** Reads into a buffer, as {@link InputStream#read(byte[])}. */
    interface Source {
        int read(byte[] buf) throws IOException;
    }

    /** Waits for the node's OPEN_OK and HELLO. */
    private static void awaitHello(Source in) throws IOException {
        HelloWaiter waiter = new HelloWaiter();
        byte[] buf = new byte[4096];
        while (true) {
            int n = in.read(buf);
            if (n < 0) {
                throw new IOException("the node closed the connection before its HELLO");
            }
            if (waiter.take(ByteBuffer.wrap(buf, 0, n))) {
                return;
            }
        }
    }

    /** Decodes the node's answer to OPEN and HELLO, chunk by chunk. */
    static final class HelloWaiter {
        private final FrameDecoder decoder = new FrameDecoder(ControlCodec.DEFAULT_MAX_FRAME_SIZE);
        private int frames;

        /** @return whether the node's HELLO has come */
        boolean take(ByteBuffer chunk) throws IOException {
            while (chunk.hasRemaining()) {
                ControlMessage m;
                try {
                    m = decoder.decode(chunk);
                } catch (io.kizuna.transport.TransportException e) {
                    throw new IOException("bad frame from the node: " + e.getMessage(), e);
                }
                if (m == null) {
                    return false;
                }
                if (m instanceof ControlMessage.Hello) {
                    return true;
                }
                if (!(m instanceof ControlMessage.OpenOk) || ++frames > 2) {
                    throw new IOException("expected OPEN_OK and HELLO, got " + m);
                }
            }
            return false;
        }
    }
}
