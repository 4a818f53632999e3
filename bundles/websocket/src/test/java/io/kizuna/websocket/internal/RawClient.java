package io.kizuna.websocket.internal;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * A WebSocket client written for tests, byte by byte on a JDK TLS socket, so
 * tests can send what no well-behaved library sends: huge declared lengths,
 * endless fragments, deflate bombs, reserved bits.
 */
final class RawClient implements AutoCloseable {

    /** A frame as read: header bits and payload. */
    record Frame(boolean fin, int rsv, int opcode, byte[] payload) {
        /** @return the close code of a Close frame, 1005 when it has none */
        int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        }

        String closeReason() {
            return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
        }
    }

    private static final SecureRandom RANDOM = new SecureRandom();

    private final SSLSocket socket;
    private final DataInputStream in;
    private final OutputStream out;

    /**
     * @param address    the listener
     * @param keyManager the client's certificate (a node identity's key manager), or null for none
     * @throws Exception when TLS fails
     */
    RawClient(InetSocketAddress address, KeyManager keyManager) throws Exception {
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keyManager == null ? null : new KeyManager[] {keyManager},
                new TrustManager[] {new TrustEverything()}, null);
        socket = (SSLSocket) context.getSocketFactory().createSocket();
        socket.connect(address, 5000);
        socket.setSoTimeout(10_000);
        socket.setEnabledProtocols(new String[] {"TLSv1.3"});
        socket.startHandshake();
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /**
     * Sends an upgrade request and reads the response head.
     *
     * @param path        the request path
     * @param subprotocol the Sec-WebSocket-Protocol offered, or null
     * @param extensions  the Sec-WebSocket-Extensions offered, or null
     * @return the status line first (key ":status"), then the headers in lower case
     * @throws IOException when the socket fails
     */
    Map<String, String> upgrade(String path, String subprotocol, String extensions) throws IOException {
        byte[] key = new byte[16];
        RANDOM.nextBytes(key);
        StringBuilder r = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                + Base64.getEncoder().encodeToString(key) + "\r\n");
        if (subprotocol != null) {
            r.append("Sec-WebSocket-Protocol: ").append(subprotocol).append("\r\n");
        }
        if (extensions != null) {
            r.append("Sec-WebSocket-Extensions: ").append(extensions).append("\r\n");
        }
        r.append("\r\n");
        sendRaw(r.toString().getBytes(StandardCharsets.US_ASCII));
        Map<String, String> head = new LinkedHashMap<>();
        head.put(":status", line());
        for (String l = line(); !l.isEmpty(); l = line()) {
            int colon = l.indexOf(':');
            head.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
        }
        return head;
    }

    private String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new EOFException("end of stream in the HTTP response after " + b);
            }
            if (c != '\r') {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.US_ASCII);
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Sends a masked frame. */
    void sendFrame(boolean fin, int rsv, int opcode, byte[] payload) throws IOException {
        sendRaw(frame(fin, rsv, opcode, payload.length, payload));
    }

    /**
     * Encodes a masked frame whose header may declare another length than the payload has.
     *
     * @param declared the length written in the header
     */
    static byte[] frame(boolean fin, int rsv, int opcode, long declared, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(14 + payload.length);
        b.put((byte) ((fin ? 0x80 : 0) | (rsv << 4) | opcode));
        if (declared <= 125) {
            b.put((byte) (0x80 | declared));
        } else if (declared <= 0xffff) {
            b.put((byte) (0x80 | 126)).putShort((short) declared);
        } else {
            b.put((byte) (0x80 | 127)).putLong(declared);
        }
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        b.put(mask);
        for (int i = 0; i < payload.length; i++) {
            b.put((byte) (payload[i] ^ mask[i & 3]));
        }
        b.flip();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /** @return the next frame (servers do not mask) */
    Frame readFrame() throws IOException {
        int b0 = in.readUnsignedByte();
        int b1 = in.readUnsignedByte();
        long length = b1 & 0x7f;
        if (length == 126) {
            length = in.readUnsignedShort();
        } else if (length == 127) {
            length = in.readLong();
        }
        if ((b1 & 0x80) != 0) {
            throw new IOException("the server masked a frame");
        }
        if (length > 64L * 1024 * 1024) {
            throw new IOException("a frame of " + length + " bytes");
        }
        byte[] payload = new byte[(int) length];
        in.readFully(payload);
        return new Frame((b0 & 0x80) != 0, (b0 >> 4) & 7, b0 & 0x0f, payload);
    }

    /** @return the first Close frame, skipping data, pings and pongs before it */
    Frame readUntilClose() throws IOException {
        for (int i = 0; i < 100_000; i++) {
            Frame f = readFrame();
            if (f.opcode() == 8) {
                return f;
            }
        }
        throw new IOException("no Close frame in 100000 frames");
    }

    /** @return -1 at end of stream, else the next byte */
    int readByte() throws IOException {
        return in.read();
    }

    InputStream input() {
        return in;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    /**
     * A test client that does not care who the listener is: only the listener's checks are under test. As a
     * raw listener's trust manager, it counts the client certificates it was shown.
     */
    static final class TrustEverything extends X509ExtendedTrustManager {
        final java.util.concurrent.atomic.AtomicInteger clientChains = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {
            clientChains.incrementAndGet();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
            clientChains.incrementAndGet();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            clientChains.incrementAndGet();
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
