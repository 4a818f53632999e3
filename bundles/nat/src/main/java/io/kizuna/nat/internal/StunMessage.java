package io.kizuna.nat.internal;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * A STUN message (RFC 8489 section 5): a 20-byte header and a list of attributes.
 * Immutable; {@link #parse} checks every length and the magic cookie and never
 * reads outside the datagram.
 *
 * @param type          the message type (method and class)
 * @param transactionId the 96-bit transaction id, 12 bytes
 * @param attributes    the attributes in wire order, FINGERPRINT excluded
 * @param fingerprinted whether the message carried (or is to carry) a valid FINGERPRINT
 */
public record StunMessage(int type, byte[] transactionId, List<Attribute> attributes, boolean fingerprinted) {

    /** The magic cookie every RFC 5389/8489 message carries. */
    public static final int MAGIC_COOKIE = 0x2112A442;
    /** Binding request. */
    public static final int BINDING_REQUEST = 0x0001;
    /** Binding success response. */
    public static final int BINDING_SUCCESS = 0x0101;
    /** Binding error response. */
    public static final int BINDING_ERROR = 0x0111;

    /** MAPPED-ADDRESS. */
    public static final int MAPPED_ADDRESS = 0x0001;
    /** SOURCE-ADDRESS (RFC 3489, read for old servers). */
    public static final int SOURCE_ADDRESS = 0x0004;
    /** CHANGE-REQUEST (RFC 5780). */
    public static final int CHANGE_REQUEST = 0x0003;
    /** CHANGED-ADDRESS (RFC 3489), the old name of OTHER-ADDRESS. */
    public static final int CHANGED_ADDRESS = 0x0005;
    /** ERROR-CODE. */
    public static final int ERROR_CODE = 0x0009;
    /** UNKNOWN-ATTRIBUTES. */
    public static final int UNKNOWN_ATTRIBUTES = 0x000A;
    /** XOR-MAPPED-ADDRESS. */
    public static final int XOR_MAPPED_ADDRESS = 0x0020;
    /** PADDING (RFC 5780). */
    public static final int PADDING = 0x0026;
    /** RESPONSE-PORT (RFC 5780). */
    public static final int RESPONSE_PORT = 0x0027;
    /** SOFTWARE. */
    public static final int SOFTWARE = 0x8022;
    /** FINGERPRINT. */
    public static final int FINGERPRINT = 0x8028;
    /** RESPONSE-ORIGIN (RFC 5780). */
    public static final int RESPONSE_ORIGIN = 0x802B;
    /** OTHER-ADDRESS (RFC 5780). */
    public static final int OTHER_ADDRESS = 0x802C;

    /** CHANGE-REQUEST flag: answer from the other IP address. */
    public static final int CHANGE_IP = 0x04;
    /** CHANGE-REQUEST flag: answer from the other port. */
    public static final int CHANGE_PORT = 0x02;

    /** The largest message this code builds or accepts; a STUN message fits one unfragmented datagram. */
    public static final int MAX_SIZE = 1280;
    /** At most this many attributes are parsed from one message. */
    public static final int MAX_ATTRIBUTES = 32;

    static final int HEADER = 20;
    private static final int FINGERPRINT_XOR = 0x5354554e;
    private static final int[] KNOWN_REQUIRED = {MAPPED_ADDRESS, SOURCE_ADDRESS, CHANGE_REQUEST, CHANGED_ADDRESS,
        ERROR_CODE, UNKNOWN_ATTRIBUTES, XOR_MAPPED_ADDRESS, PADDING, RESPONSE_PORT};

    /** Copies the parts. */
    public StunMessage {
        if (transactionId.length != 12) {
            throw new IllegalArgumentException("a transaction id has 12 bytes, not " + transactionId.length);
        }
        transactionId = transactionId.clone();
        attributes = List.copyOf(attributes);
    }

    /**
     * One attribute, its value without padding.
     *
     * @param type  the attribute type
     * @param value the value bytes
     */
    public record Attribute(int type, byte[] value) {
        /** Copies the value. */
        public Attribute {
            if (type < 0 || type > 0xFFFF || value.length > 0xFFFF) {
                throw new IllegalArgumentException("attribute type " + type + " or length " + value.length);
            }
            value = value.clone();
        }

        /** @return whether the receiver must understand it (types below 0x8000) */
        public boolean comprehensionRequired() {
            return type < 0x8000;
        }
    }

    /** Why a datagram is not a STUN message. */
    public static final class MalformedException extends Exception {
        private static final long serialVersionUID = 1L;
        private final Reason reason;

        MalformedException(Reason reason, String message) {
            super(message);
            this.reason = reason;
        }

        /** @return the kind of fault */
        public Reason reason() {
            return reason;
        }
    }

    /** The kinds of fault {@link #parse} reports, also the counters the client keeps. */
    public enum Reason {
        /** Shorter than a header, or the length field disagrees with the datagram. */
        BAD_LENGTH,
        /** The magic cookie is wrong or the top bits of the type are set. */
        BAD_COOKIE,
        /** An attribute runs past the end, or too many attributes. */
        BAD_ATTRIBUTE,
        /** FINGERPRINT is wrong or not last. */
        BAD_FINGERPRINT
    }

    /** @return whether it is a request (class bits 00) */
    public boolean isRequest() {
        return (type & 0x0110) == 0x0000;
    }

    /** @return whether it is a success or error response */
    public boolean isResponse() {
        return (type & 0x0100) != 0;
    }

    /**
     * @param attributeType the type
     * @return the first attribute of that type
     */
    public Optional<Attribute> attribute(int attributeType) {
        return attributes.stream().filter(a -> a.type == attributeType).findFirst();
    }

    /** @return comprehension-required attributes this code does not know */
    public List<Integer> unknownRequired() {
        List<Integer> unknown = new ArrayList<>();
        for (Attribute a : attributes) {
            if (a.comprehensionRequired() && Arrays.stream(KNOWN_REQUIRED).noneMatch(k -> k == a.type)) {
                unknown.add(a.type);
            }
        }
        return unknown;
    }

    /**
     * Encodes the message, with FINGERPRINT last if {@link #fingerprinted}.
     *
     * @return the datagram bytes
     */
    public byte[] encode() {
        int length = 0;
        for (Attribute a : attributes) {
            length += 4 + pad(a.value.length);
        }
        int total = HEADER + length + (fingerprinted ? 8 : 0);
        if (total > MAX_SIZE) {
            throw new IllegalStateException("STUN message of " + total + " bytes exceeds " + MAX_SIZE);
        }
        ByteBuffer out = ByteBuffer.allocate(total);
        out.putShort((short) type).putShort((short) (total - HEADER)).putInt(MAGIC_COOKIE).put(transactionId);
        for (Attribute a : attributes) {
            out.putShort((short) a.type).putShort((short) a.value.length).put(a.value);
            out.position(out.position() + pad(a.value.length) - a.value.length);
        }
        if (fingerprinted) {
            CRC32 crc = new CRC32();
            crc.update(out.array(), 0, out.position());
            out.putShort((short) FINGERPRINT).putShort((short) 4).putInt((int) crc.getValue() ^ FINGERPRINT_XOR);
        }
        return out.array();
    }

    /**
     * Parses one datagram.
     *
     * @param data   the buffer
     * @param offset where the datagram starts
     * @param length its length
     * @return the message
     * @throws MalformedException when it is not a well-formed STUN message
     */
    public static StunMessage parse(byte[] data, int offset, int length) throws MalformedException {
        if (length < HEADER || length > MAX_SIZE) {
            throw new MalformedException(Reason.BAD_LENGTH, "datagram of " + length + " bytes");
        }
        ByteBuffer in = ByteBuffer.wrap(data, offset, length).slice();
        int type = in.getShort() & 0xFFFF;
        int bodyLength = in.getShort() & 0xFFFF;
        int cookie = in.getInt();
        if ((type & 0xC000) != 0 || cookie != MAGIC_COOKIE) {
            throw new MalformedException(Reason.BAD_COOKIE, "no STUN magic cookie");
        }
        if (bodyLength != length - HEADER || (bodyLength & 3) != 0) {
            throw new MalformedException(Reason.BAD_LENGTH,
                    "length field " + bodyLength + " for a datagram of " + length + " bytes");
        }
        byte[] id = new byte[12];
        in.get(id);
        List<Attribute> attributes = new ArrayList<>();
        boolean fingerprinted = false;
        while (in.hasRemaining()) {
            if (fingerprinted) {
                throw new MalformedException(Reason.BAD_FINGERPRINT, "attribute after FINGERPRINT");
            }
            if (in.remaining() < 4 || attributes.size() >= MAX_ATTRIBUTES) {
                throw new MalformedException(Reason.BAD_ATTRIBUTE, "truncated attribute header or too many attributes");
            }
            int start = in.position();
            int attrType = in.getShort() & 0xFFFF;
            int attrLength = in.getShort() & 0xFFFF;
            if (pad(attrLength) > in.remaining()) {
                throw new MalformedException(Reason.BAD_ATTRIBUTE,
                        "attribute 0x" + Integer.toHexString(attrType) + " of " + attrLength + " bytes runs past the end");
            }
            byte[] value = new byte[attrLength];
            in.get(value);
            in.position(in.position() + pad(attrLength) - attrLength);
            if (attrType == FINGERPRINT) {
                CRC32 crc = new CRC32();
                crc.update(data, offset, start);
                if (attrLength != 4 || ByteBuffer.wrap(value).getInt() != ((int) crc.getValue() ^ FINGERPRINT_XOR)) {
                    throw new MalformedException(Reason.BAD_FINGERPRINT, "FINGERPRINT does not match");
                }
                fingerprinted = true;
            } else {
                attributes.add(new Attribute(attrType, value));
            }
        }
        return new StunMessage(type, id, attributes, fingerprinted);
    }

    static int pad(int n) {
        return (n + 3) & ~3;
    }

    /**
     * Encodes a MAPPED-ADDRESS-style value, XORed when {@code xor}.
     *
     * @param address       the address
     * @param xor           whether to apply the XOR-MAPPED-ADDRESS transform
     * @param transactionId the transaction id (for IPv6 XOR)
     * @return the value bytes
     */
    public static byte[] encodeAddress(InetSocketAddress address, boolean xor, byte[] transactionId) {
        byte[] ip = address.getAddress().getAddress();
        ByteBuffer out = ByteBuffer.allocate(4 + ip.length);
        out.put((byte) 0).put((byte) (ip.length == 4 ? 1 : 2));
        out.putShort((short) (address.getPort() ^ (xor ? MAGIC_COOKIE >>> 16 : 0)));
        if (xor) {
            xorAddress(ip, transactionId);
        }
        out.put(ip);
        return out.array();
    }

    /**
     * Decodes a MAPPED-ADDRESS-style value.
     *
     * @param value         the value bytes
     * @param xor           whether it is XOR-MAPPED-ADDRESS-style
     * @param transactionId the transaction id (for IPv6 XOR)
     * @return the address, or empty when the value is malformed
     */
    public static Optional<InetSocketAddress> decodeAddress(byte[] value, boolean xor, byte[] transactionId) {
        if (value.length < 4) {
            return Optional.empty();
        }
        int family = value[1];
        int ipLength = family == 1 ? 4 : family == 2 ? 16 : -1;
        if (ipLength < 0 || value.length != 4 + ipLength) {
            return Optional.empty();
        }
        int port = ((value[2] & 0xFF) << 8 | (value[3] & 0xFF)) ^ (xor ? MAGIC_COOKIE >>> 16 : 0);
        byte[] ip = Arrays.copyOfRange(value, 4, value.length);
        if (xor) {
            xorAddress(ip, transactionId);
        }
        try {
            return Optional.of(new InetSocketAddress(InetAddress.getByAddress(ip), port));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    private static void xorAddress(byte[] ip, byte[] transactionId) {
        byte[] key = ByteBuffer.allocate(16).putInt(MAGIC_COOKIE).put(transactionId).array();
        for (int i = 0; i < ip.length; i++) {
            ip[i] ^= key[i];
        }
    }

    /**
     * @param attributeType an address attribute type
     * @return its address, XOR-decoded when the type is XOR-MAPPED-ADDRESS
     */
    public Optional<InetSocketAddress> address(int attributeType) {
        return attribute(attributeType).flatMap(a -> decodeAddress(a.value, attributeType == XOR_MAPPED_ADDRESS, transactionId));
    }

    /** @return the transaction id as a map key */
    TransactionKey key() {
        return new TransactionKey(transactionId);
    }

    /** A transaction id usable as a map key. */
    record TransactionKey(String hex) {
        TransactionKey(byte[] id) {
            this(java.util.HexFormat.of().formatHex(id));
        }
    }

    /** @return whether the family of an address is IPv6 */
    static boolean isV6(InetSocketAddress a) {
        return a.getAddress() instanceof Inet6Address;
    }

    /** @return whether the family of an address is IPv4 */
    static boolean isV4(InetSocketAddress a) {
        return a.getAddress() instanceof Inet4Address;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StunMessage m && m.type == type && Arrays.equals(m.transactionId, transactionId)
                && m.fingerprinted == fingerprinted && m.attributes.size() == attributes.size()
                && java.util.stream.IntStream.range(0, attributes.size()).allMatch(i ->
                        m.attributes.get(i).type == attributes.get(i).type
                        && Arrays.equals(m.attributes.get(i).value, attributes.get(i).value));
    }

    @Override
    public int hashCode() {
        return type * 31 + Arrays.hashCode(transactionId);
    }

    @Override
    public String toString() {
        return "StunMessage[type=0x" + Integer.toHexString(type) + ", id=" + key().hex() + ", attributes="
                + attributes.stream().map(a -> "0x" + Integer.toHexString(a.type)).toList() + "]";
    }
}
