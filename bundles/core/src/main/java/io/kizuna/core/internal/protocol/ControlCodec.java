package io.kizuna.core.internal.protocol;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.ProtocolViolation;

/**
 * Writes and reads control-protocol frames.
 *
 * <pre>
 * frame   = version:u8 (=1)  type:u8  length:u32 (big-endian, payload bytes)  payload
 * str8    = n:u8  n bytes of UTF-8          str16 = n:u16  n bytes of UTF-8
 * endpoint= protocol:str8  addrLen:u8 (4|16)  addr  port:u16
 *
 * OPEN         protocol:str16 (1-255 bytes, no control characters)
 * OPEN_OK      (empty)
 * OPEN_REFUSED code:u16  reason:str16 (&lt;=1024)  limit:str8 (&lt;=64)  limitValue:u64
 * HELLO        version:u16  peerId:32 bytes  n:u8 (&lt;=64) endpoint*n  m:u8 (&lt;=64) transport:str8*m
 *              observed:u8 (0|1) [endpoint]  [k:u8 (1-64) signaled:str8*k]
 * PING, PONG   nonce:8 bytes
 * GOAWAY       reason:str16 (&lt;=1024)
 * ERROR        code:u16  reason:str16 (&lt;=1024)
 * </pre>
 *
 * <p>Every field is checked while reading; a payload must be consumed exactly.
 * The encoding is canonical: a decoded message encodes back to the same bytes.
 * Payloads are at most {@code maxFrameSize} bytes; every valid message fits in
 * {@link #MIN_MAX_FRAME_SIZE}.
 */
public final class ControlCodec {

    /** The frame format version, the first byte of every frame. */
    public static final int VERSION = 1;

    /** Header bytes before the payload: version, type, 4-byte length. */
    public static final int HEADER_LENGTH = 6;

    /** The default bound on a frame's payload. */
    public static final int DEFAULT_MAX_FRAME_SIZE = 64 * 1024;

    /** The smallest bound that may be configured: the largest valid message fits in it. */
    public static final int MIN_MAX_FRAME_SIZE = 8 * 1024;

    /** The largest bound that may be configured. */
    public static final int MAX_MAX_FRAME_SIZE = 16 * 1024 * 1024;

    /** Longest protocol name in an OPEN, in UTF-8 bytes. */
    public static final int MAX_PROTOCOL_NAME = 255;

    /** Longest reason text, in UTF-8 bytes; longer reasons are cut when written. */
    public static final int MAX_REASON = 1024;

    /** Longest limit name in an OPEN_REFUSED, in bytes. */
    public static final int MAX_LIMIT_NAME = 64;

    /** Most endpoints, and most transport names, in a HELLO. */
    public static final int MAX_LIST = 64;

    private static final Pattern TRANSPORT_NAME = Pattern.compile("[a-z][a-z0-9-]{0,31}");

    /** Longest transport name in a HELLO. */
    private static final int MAX_TRANSPORT_NAME = 32;

    /** Largest endpoint on the wire: {@code protocol:str8, addrLen:u8, addr (IPv6), port:u16}. */
    private static final int MAX_ENDPOINT = 1 + MAX_TRANSPORT_NAME + 1 + 16 + 2;

    /** Largest HELLO: every list full, IPv6 endpoints, the observed endpoint and the signaled list present. */
    private static final int MAX_HELLO = 2 + PeerId.LENGTH + 1 + MAX_LIST * MAX_ENDPOINT
            + 1 + MAX_LIST * (1 + MAX_TRANSPORT_NAME) + 1 + MAX_ENDPOINT + 1 + MAX_LIST * (1 + MAX_TRANSPORT_NAME);

    private ControlCodec() {
    }

    /**
     * The largest payload a valid frame of a type can have, from its fields'
     * limits: the decoder refuses a longer declared length from the header, so a
     * peer cannot make it reserve {@code maxFrameSize} bytes for a short message.
     *
     * @param type a message type
     * @return its largest payload in bytes
     */
    public static int maxPayload(MessageType type) {
        return switch (type) {
            case OPEN -> 2 + MAX_PROTOCOL_NAME;
            case OPEN_OK -> 0;
            case OPEN_REFUSED -> 2 + 2 + MAX_REASON + 1 + MAX_LIMIT_NAME + 8;
            case HELLO -> MAX_HELLO;
            case PING, PONG -> 8;
            case GOAWAY -> 2 + MAX_REASON;
            case ERROR -> 2 + 2 + MAX_REASON;
        };
    }

    // ------------------------------------------------------------------ writing

    /**
     * Encodes one frame.
     *
     * @param message      the message
     * @param maxFrameSize the bound on the payload
     * @return the frame, ready to write (position 0, limit at its end)
     * @throws IllegalArgumentException when a field is out of range or the payload exceeds the bound
     */
    public static ByteBuffer encode(ControlMessage message, int maxFrameSize) {
        Writer w = new Writer();
        if (message instanceof ControlMessage.Open m) {
            w.str16(checkProtocolName(m.protocol()), MAX_PROTOCOL_NAME);
        } else if (message instanceof ControlMessage.OpenRefused m) {
            w.u16(m.code());
            w.str16(cut(m.reason(), MAX_REASON), MAX_REASON);
            w.str8(m.limit(), MAX_LIMIT_NAME);
            w.u64(m.limitValue());
        } else if (message instanceof ControlMessage.Hello m) {
            w.u16(m.version());
            w.bytes(m.peerId().bytes());
            list(m.listen().size(), "listen endpoints");
            w.u8(m.listen().size());
            m.listen().forEach(w::endpoint);
            list(m.transports().size(), "transports");
            w.u8(m.transports().size());
            m.transports().forEach(t -> w.str8(transportName(t), MAX_TRANSPORT_NAME));
            w.u8(m.observed().isPresent() ? 1 : 0);
            m.observed().ifPresent(w::endpoint);
            // Absent when empty, so a HELLO without it is read as before (and the encoding stays canonical).
            if (!m.signaled().isEmpty()) {
                list(m.signaled().size(), "signaled transports");
                w.u8(m.signaled().size());
                m.signaled().forEach(t -> w.str8(transportName(t), MAX_TRANSPORT_NAME));
            }
        } else if (message instanceof ControlMessage.Ping m) {
            w.u64(m.nonce());
        } else if (message instanceof ControlMessage.Pong m) {
            w.u64(m.nonce());
        } else if (message instanceof ControlMessage.GoAway m) {
            w.str16(cut(m.reason(), MAX_REASON), MAX_REASON);
        } else if (message instanceof ControlMessage.Error m) {
            w.u16(m.code());
            w.str16(cut(m.reason(), MAX_REASON), MAX_REASON);
        }
        // OPEN_OK has no payload.
        int length = w.size();
        if (length > maxFrameSize) {
            throw new IllegalArgumentException(message.type() + " payload of " + length
                    + " bytes exceeds the frame limit of " + maxFrameSize + " bytes");
        }
        ByteBuffer frame = ByteBuffer.allocate(HEADER_LENGTH + length);
        frame.put((byte) VERSION).put((byte) message.type().code()).putInt(length).put(w.buf, 0, length).flip();
        return frame;
    }

    /**
     * Checks an application protocol name as OPEN carries it.
     *
     * @param name the name
     * @return the name
     * @throws IllegalArgumentException saying what is wrong
     */
    public static String checkProtocolName(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("an application protocol name must not be empty");
        }
        if (name.getBytes(StandardCharsets.UTF_8).length > MAX_PROTOCOL_NAME) {
            throw new IllegalArgumentException("application protocol name '" + name.substring(0, 40)
                    + "...' is longer than " + MAX_PROTOCOL_NAME + " bytes");
        }
        if (name.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("application protocol name '" + name.replaceAll("\\p{Cntrl}", "?")
                    + "' contains control characters");
        }
        return name;
    }

    private static String transportName(String t) {
        if (!TRANSPORT_NAME.matcher(t).matches()) {
            throw new IllegalArgumentException("transport name '" + t + "' is not valid");
        }
        return t;
    }

    private static void list(int size, String what) {
        if (size > MAX_LIST) {
            throw new IllegalArgumentException("a HELLO carries at most " + MAX_LIST + " " + what + ", not " + size);
        }
    }

    /** Cuts a text to at most {@code max} UTF-8 bytes, at a character boundary, marking the cut. */
    static String cut(String s, int max) {
        if (s.length() <= max / 3 || s.getBytes(StandardCharsets.UTF_8).length <= max) {
            return s;
        }
        StringBuilder sb = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
            if (bytes + n > max - 3) {
                break;
            }
            sb.appendCodePoint(cp);
            bytes += n;
            i += Character.charCount(cp);
        }
        return sb.append("...").toString();
    }

    /** A growable payload buffer. */
    private static final class Writer {
        private byte[] buf = new byte[64];
        private int size;

        int size() {
            return size;
        }

        private void ensure(int n) {
            if (size + n > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
            }
        }

        void u8(int v) {
            if (v < 0 || v > 0xff) {
                throw new IllegalArgumentException("value " + v + " does not fit in one byte");
            }
            ensure(1);
            buf[size++] = (byte) v;
        }

        void u16(int v) {
            if (v < 0 || v > 0xffff) {
                throw new IllegalArgumentException("value " + v + " does not fit in two bytes");
            }
            ensure(2);
            buf[size++] = (byte) (v >>> 8);
            buf[size++] = (byte) v;
        }

        void u64(long v) {
            ensure(8);
            for (int i = 7; i >= 0; i--) {
                buf[size++] = (byte) (v >>> (8 * i));
            }
        }

        void bytes(byte[] b) {
            ensure(b.length);
            System.arraycopy(b, 0, buf, size, b.length);
            size += b.length;
        }

        void str8(String s, int max) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > Math.min(max, 0xff)) {
                throw new IllegalArgumentException("'" + s + "' is longer than " + max + " bytes");
            }
            u8(b.length);
            bytes(b);
        }

        void str16(String s, int max) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > max) {
                throw new IllegalArgumentException("text of " + b.length + " bytes is longer than " + max);
            }
            u16(b.length);
            bytes(b);
        }

        void endpoint(Endpoint e) {
            str8(e.protocol(), MAX_TRANSPORT_NAME);
            byte[] a = e.address().getAddress().getAddress();
            u8(a.length);
            bytes(a);
            u16(e.address().getPort());
        }
    }

    // ------------------------------------------------------------------ reading

    /**
     * Reads a payload whose header the decoder has checked.
     *
     * @param type    the frame's type
     * @param payload the payload, position 0 to its length
     * @return the message
     * @throws ProtocolViolation naming the field that is wrong
     */
    static ControlMessage decodePayload(MessageType type, ByteBuffer payload) throws ProtocolViolation {
        Reader r = new Reader(type, payload);
        ControlMessage m = switch (type) {
            case OPEN -> {
                String p = r.str16("protocol", MAX_PROTOCOL_NAME);
                if (p.isEmpty()) {
                    throw r.violation("the protocol name is empty");
                }
                if (p.chars().anyMatch(Character::isISOControl)) {
                    throw r.violation("the protocol name contains control characters");
                }
                yield new ControlMessage.Open(p);
            }
            case OPEN_OK -> new ControlMessage.OpenOk();
            case OPEN_REFUSED -> new ControlMessage.OpenRefused(r.u16("code"), r.str16("reason", MAX_REASON),
                    r.str8("limit", MAX_LIMIT_NAME), r.u64("limitValue"));
            case HELLO -> {
                int version = r.u16("version");
                PeerId peer = r.peerId();
                int n = r.count("listen endpoint count");
                List<Endpoint> listen = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    listen.add(r.endpoint("listen endpoint " + i));
                }
                List<String> transports = r.transports("transport", r.count("transport count"));
                int flag = r.u8("observed flag");
                if (flag > 1) {
                    throw r.violation("the observed-address flag is " + flag + ", expected 0 or 1");
                }
                Optional<Endpoint> observed = flag == 1 ? Optional.of(r.endpoint("observed endpoint"))
                        : Optional.empty();
                List<String> signaled = List.of();
                if (r.hasMore()) {
                    int k = r.count("signaled transport count");
                    if (k == 0) {
                        throw r.violation("the signaled transport list is present but empty (it is left out when "
                                + "empty)");
                    }
                    signaled = r.transports("signaled transport", k);
                }
                yield new ControlMessage.Hello(version, peer, listen, transports, observed, signaled);
            }
            case PING -> new ControlMessage.Ping(r.u64("nonce"));
            case PONG -> new ControlMessage.Pong(r.u64("nonce"));
            case GOAWAY -> new ControlMessage.GoAway(r.str16("reason", MAX_REASON));
            case ERROR -> new ControlMessage.Error(r.u16("code"), r.str16("reason", MAX_REASON));
        };
        r.end();
        return m;
    }

    /** Reads fields from a payload, checking each against what is left of it. */
    private static final class Reader {
        private final MessageType type;
        private final ByteBuffer b;

        Reader(MessageType type, ByteBuffer b) {
            this.type = type;
            this.b = b;
        }

        ProtocolViolation violation(String what) {
            return new ProtocolViolation("malformed " + type + " frame: " + what);
        }

        private void need(int n, String field) throws ProtocolViolation {
            if (b.remaining() < n) {
                throw violation("field '" + field + "' needs " + n + " bytes but only " + b.remaining()
                        + " remain of the " + b.limit() + "-byte payload");
            }
        }

        int u8(String field) throws ProtocolViolation {
            need(1, field);
            return b.get() & 0xff;
        }

        int u16(String field) throws ProtocolViolation {
            need(2, field);
            return b.getShort() & 0xffff;
        }

        long u64(String field) throws ProtocolViolation {
            need(8, field);
            return b.getLong();
        }

        PeerId peerId() throws ProtocolViolation {
            byte[] key = bytes(PeerId.LENGTH, "peerId");
            try {
                return PeerId.of(key);
            } catch (IllegalArgumentException e) {
                throw violation("peerId: " + e.getMessage());
            }
        }

        byte[] bytes(int n, String field) throws ProtocolViolation {
            need(n, field);
            byte[] out = new byte[n];
            b.get(out);
            return out;
        }

        int count(String field) throws ProtocolViolation {
            int n = u8(field);
            if (n > MAX_LIST) {
                throw violation(field + " is " + n + ", at most " + MAX_LIST + " are allowed");
            }
            return n;
        }

        /** @return {@code n} transport names, each checked */
        List<String> transports(String field, int n) throws ProtocolViolation {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String t = str8(field + " " + i, MAX_TRANSPORT_NAME);
                if (!TRANSPORT_NAME.matcher(t).matches()) {
                    throw violation(field + " name " + i + " is not 1-32 lowercase letters, digits or '-'");
                }
                out.add(t);
            }
            return out;
        }

        boolean hasMore() {
            return b.hasRemaining();
        }

        String str8(String field, int max) throws ProtocolViolation {
            int n = u8(field + " length");
            return text(n, field, max);
        }

        String str16(String field, int max) throws ProtocolViolation {
            int n = u16(field + " length");
            return text(n, field, max);
        }

        private String text(int n, String field, int max) throws ProtocolViolation {
            if (n > max) {
                throw violation("field '" + field + "' declares " + n + " bytes, at most " + max + " are allowed");
            }
            need(n, field);
            ByteBuffer slice = b.slice();
            slice.limit(n);
            b.position(b.position() + n);
            CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            try {
                CharBuffer chars = utf8.decode(slice);
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw violation("field '" + field + "' is not valid UTF-8");
            }
        }

        Endpoint endpoint(String field) throws ProtocolViolation {
            String protocol = str8(field + " protocol", MAX_TRANSPORT_NAME);
            if (!TRANSPORT_NAME.matcher(protocol).matches()) {
                throw violation(field + ": transport name is not 1-32 lowercase letters, digits or '-'");
            }
            int len = u8(field + " address length");
            if (len != 4 && len != 16) {
                throw violation(field + ": address length " + len + ", expected 4 (IPv4) or 16 (IPv6)");
            }
            byte[] raw = bytes(len, field + " address");
            int port = u16(field + " port");
            InetAddress ip;
            try {
                // Inet6Address.getByAddress keeps a v4-mapped address as IPv6, so it encodes back the same.
                ip = len == 4 ? InetAddress.getByAddress(raw) : Inet6Address.getByAddress(null, raw, -1);
            } catch (UnknownHostException e) {
                throw violation(field + ": bad address bytes");
            }
            return new Endpoint(protocol, new InetSocketAddress(ip, port));
        }

        void end() throws ProtocolViolation {
            if (b.hasRemaining()) {
                throw violation(b.remaining() + " bytes left over after the last field of the " + b.limit()
                        + "-byte payload");
            }
        }
    }
}
