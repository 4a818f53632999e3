package io.kizuna.nat.internal.punch;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.punch.PunchMessage.Abort;
import io.kizuna.nat.internal.punch.PunchMessage.AbortCode;
import io.kizuna.nat.internal.punch.PunchMessage.Candidate;
import io.kizuna.nat.internal.punch.PunchMessage.Candidates;
import io.kizuna.nat.internal.punch.PunchMessage.Kind;
import io.kizuna.nat.internal.punch.PunchMessage.Protocol;
import io.kizuna.nat.internal.punch.PunchMessage.Result;
import io.kizuna.nat.internal.punch.PunchMessage.Sync;
import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.ProtocolViolation;

/**
 * The {@code kizuna/punch/1} codec, in the control codec's style.
 *
 * <pre>
 * frame      = version:u8 (=1)  type:u8  length:u32 (big-endian, payload bytes)  payload
 * session    = 16 bytes          addr = family:u8 (4|6)  4 or 16 bytes (IPv4-mapped IPv6 refused)  port:u16 (1-65535)
 * candidate  = kind:u8 (1 host, 2 reflexive, 3 observed, 4 mapped)  protocol:u8 (1 udp, 2 tcp)  addr
 *
 * CANDIDATES 0x01  session  peerId:32  issuedAt:u64 (ms)  round:u8  natType:u8 (1 + NatType ordinal)
 *                  n:u8 (&lt;=16) candidate*n (no two alike)  signature:64
 * SYNC       0x02  session  round:u8
 * RESULT     0x03  session  round:u8  protocol:u8  initiator:addr  responder:addr
 * ABORT      0x04  session  round:u8  code:u16 (1 + AbortCode ordinal)  reason:str16 (&lt;=256 bytes, UTF-8)
 * </pre>
 *
 * <p>A header with a wrong version, an unknown type or a length above the type's
 * largest payload is refused before any payload is read; every payload must be
 * consumed exactly, every field is checked, and the encoding is canonical (a
 * decoded message encodes back to the same bytes). Each refusal is a
 * {@link ProtocolViolation} whose message names the field.
 *
 * <p>CANDIDATES is signed with the sender's node key (Ed25519) over
 * {@value #SIGNATURE_CONTEXT} followed by the payload without the signature, so
 * the signature cannot be taken for one of another protocol's messages; the
 * receiver checks it against the PeerId the connection authenticated, the
 * session and the time ({@link #verify}), since a relay forwards the stream and
 * candidates steer where a node sends packets.
 */
final class PunchCodec {

    /** The stream protocol name. */
    static final String PROTOCOL = "kizuna/punch/1";

    /** The frame format version. */
    static final int VERSION = 1;

    /** Header bytes before the payload. */
    static final int HEADER_LENGTH = 6;

    /** Bytes of a session id. */
    static final int SESSION_ID_LENGTH = 16;

    /** Most candidates in one CANDIDATES. */
    static final int MAX_CANDIDATES = 16;

    /** The highest round number on the wire (the configured rounds are at most this). */
    static final int MAX_ROUND = 10;

    /** Longest ABORT reason, in UTF-8 bytes; longer ones are cut when written. */
    static final int MAX_REASON = 256;

    /** Bytes of an Ed25519 signature. */
    static final int SIGNATURE_LENGTH = 64;

    /** The domain separation prefix of the signed bytes of CANDIDATES. */
    static final String SIGNATURE_CONTEXT = "kizuna punch candidates v1";

    static final int CANDIDATES = 0x01;
    static final int SYNC = 0x02;
    static final int RESULT = 0x03;
    static final int ABORT = 0x04;

    private static final int MAX_ADDR = 1 + 16 + 2;
    private static final int MAX_CANDIDATES_PAYLOAD = SESSION_ID_LENGTH + PeerId.LENGTH + 8 + 1 + 1 + 1
            + MAX_CANDIDATES * (2 + MAX_ADDR) + SIGNATURE_LENGTH;

    private PunchCodec() {
    }

    /**
     * @param type a message type byte
     * @return its largest valid payload, or -1 for an unknown type
     */
    static int maxPayload(int type) {
        return switch (type) {
            case CANDIDATES -> MAX_CANDIDATES_PAYLOAD;
            case SYNC -> SESSION_ID_LENGTH + 1;
            case RESULT -> SESSION_ID_LENGTH + 1 + 1 + 2 * MAX_ADDR;
            case ABORT -> SESSION_ID_LENGTH + 1 + 2 + 2 + MAX_REASON;
            default -> -1;
        };
    }

    // ------------------------------------------------------------------ signing

    /**
     * Makes and signs a CANDIDATES.
     *
     * @param identity   the node key
     * @param sessionId  the session
     * @param issuedAt   now, ms since the epoch
     * @param round      the round
     * @param natType    this node's NAT type
     * @param candidates this node's candidates
     * @return the signed message
     */
    static Candidates sign(NodeIdentity identity, byte[] sessionId, long issuedAt, int round, NatType natType,
            List<Candidate> candidates) {
        Candidates unsigned = new Candidates(sessionId, identity.peerId(), issuedAt, round, natType, candidates,
                new byte[SIGNATURE_LENGTH]);
        return new Candidates(sessionId, identity.peerId(), issuedAt, round, natType, candidates,
                identity.sign(signedBytes(unsigned)));
    }

    /**
     * @param c a CANDIDATES
     * @return what its signature covers: {@link #SIGNATURE_CONTEXT} (ASCII) and its payload without the signature
     */
    static byte[] signedBytes(Candidates c) {
        Writer w = new Writer();
        w.out.put(SIGNATURE_CONTEXT.getBytes(StandardCharsets.US_ASCII));
        candidatesBody(w, c);
        return Arrays.copyOf(w.out.array(), w.out.position());
    }

    /**
     * Checks a received CANDIDATES before anything in it is used.
     *
     * @param c             the message
     * @param authenticated the PeerId the connection authenticated
     * @param sessionId     the session it must belong to
     * @param round         the round it must be for (an earlier one is a replay)
     * @param now           now, ms since the epoch
     * @param maxAge        the oldest issuedAt accepted, ms before now
     * @param maxSkew       the latest issuedAt accepted, ms after now
     * @throws ProtocolViolation naming what is wrong
     */
    static void verify(Candidates c, PeerId authenticated, byte[] sessionId, int round, long now, long maxAge,
            long maxSkew) throws ProtocolViolation {
        if (!c.sender().equals(authenticated)) {
            throw new ProtocolViolation("punch CANDIDATES from " + c.sender() + " over a connection authenticated as "
                    + authenticated);
        }
        if (!Arrays.equals(c.sessionId(), sessionId)) {
            throw new ProtocolViolation("punch CANDIDATES for another session");
        }
        if (c.round() != round) {
            throw new ProtocolViolation("punch CANDIDATES for round " + c.round() + ", expected round " + round);
        }
        if (c.issuedAt() < now - maxAge) {
            throw new ProtocolViolation("punch CANDIDATES issued " + (now - c.issuedAt()) + " ms ago, older than "
                    + maxAge + " ms");
        }
        if (c.issuedAt() > now + maxSkew) {
            throw new ProtocolViolation("punch CANDIDATES issued " + (c.issuedAt() - now)
                    + " ms in the future, beyond the allowed clock skew of " + maxSkew + " ms");
        }
        if (!Identities.verify(c.sender(), signedBytes(c), c.signature())) {
            throw new ProtocolViolation("punch CANDIDATES with a bad signature for " + c.sender());
        }
    }

    // ------------------------------------------------------------------ writing

    /**
     * Encodes one frame.
     *
     * @param message the message
     * @return the frame (position 0, limit at its end)
     * @throws IllegalArgumentException when a field is out of range
     */
    static ByteBuffer encode(PunchMessage message) {
        Writer w = new Writer();
        int type;
        w.out.position(HEADER_LENGTH);
        if (message instanceof Candidates c) {
            type = CANDIDATES;
            candidatesBody(w, c);
            w.out.put(c.signature());
        } else if (message instanceof Sync s) {
            type = SYNC;
            w.session(s.sessionId());
            w.round(s.round());
        } else if (message instanceof Result r) {
            type = RESULT;
            w.session(r.sessionId());
            w.round(r.round());
            w.out.put((byte) (r.protocol().ordinal() + 1));
            w.addr(r.initiator());
            w.addr(r.responder());
        } else {
            Abort a = (Abort) message;
            type = ABORT;
            w.session(a.sessionId());
            w.round(a.round());
            w.out.putShort((short) (a.code().ordinal() + 1));
            byte[] reason = cut(a.reason());
            w.out.putShort((short) reason.length).put(reason);
        }
        int length = w.out.position() - HEADER_LENGTH;
        w.out.put(0, (byte) VERSION).put(1, (byte) type).putInt(2, length);
        w.out.flip();
        return w.out;
    }

    private static void candidatesBody(Writer w, Candidates c) {
        w.session(c.sessionId());
        w.out.put(c.sender().bytes());
        w.out.putLong(c.issuedAt());
        w.round(c.round());
        w.out.put((byte) (c.natType().ordinal() + 1));
        if (c.candidates().size() > MAX_CANDIDATES) {
            throw new IllegalArgumentException(c.candidates().size() + " candidates, at most " + MAX_CANDIDATES);
        }
        if (new HashSet<>(c.candidates()).size() != c.candidates().size()) {
            throw new IllegalArgumentException("a candidate is listed twice: " + c.candidates());
        }
        w.out.put((byte) c.candidates().size());
        for (Candidate k : c.candidates()) {
            w.out.put((byte) (k.kind().ordinal() + 1)).put((byte) (k.protocol().ordinal() + 1));
            w.addr(k.address());
        }
    }

    /** Cuts a reason to {@link #MAX_REASON} bytes of UTF-8 without splitting a character. */
    private static byte[] cut(String reason) {
        byte[] b = reason.getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_REASON) {
            return b;
        }
        int n = MAX_REASON;
        while ((b[n] & 0xC0) == 0x80) {
            n--;
        }
        return Arrays.copyOf(b, n);
    }

    private static final class Writer {
        final ByteBuffer out = ByteBuffer.allocate(HEADER_LENGTH + MAX_CANDIDATES_PAYLOAD + 64);

        void session(byte[] id) {
            if (id.length != SESSION_ID_LENGTH) {
                throw new IllegalArgumentException("a session id has " + SESSION_ID_LENGTH + " bytes, not "
                        + id.length);
            }
            out.put(id);
        }

        void round(int round) {
            if (round < 1 || round > MAX_ROUND) {
                throw new IllegalArgumentException("round " + round + " is not 1 to " + MAX_ROUND);
            }
            out.put((byte) round);
        }

        void addr(InetSocketAddress a) {
            if (a.isUnresolved() || a.getPort() == 0) {
                throw new IllegalArgumentException("not an IP address and port: " + a);
            }
            byte[] ip = a.getAddress().getAddress();
            out.put((byte) (ip.length == 4 ? 4 : 6)).put(ip).putShort((short) a.getPort());
        }
    }

    // ------------------------------------------------------------------ reading

    /**
     * Checks a frame header.
     *
     * @param header {@link #HEADER_LENGTH} bytes
     * @return the payload length it declares
     * @throws ProtocolViolation for a wrong version, an unknown type or a length above the type's largest payload
     */
    static int payloadLength(ByteBuffer header) throws ProtocolViolation {
        int version = header.get(header.position()) & 0xFF;
        int type = header.get(header.position() + 1) & 0xFF;
        long length = header.getInt(header.position() + 2) & 0xFFFFFFFFL;
        if (version != VERSION) {
            throw new ProtocolViolation("punch frame version " + version + ", expected " + VERSION);
        }
        int max = maxPayload(type);
        if (max < 0) {
            throw new ProtocolViolation("unknown punch message type 0x" + Integer.toHexString(type));
        }
        if (length > max) {
            throw new ProtocolViolation("punch message type 0x" + Integer.toHexString(type) + " of " + length
                    + " bytes, at most " + max);
        }
        return (int) length;
    }

    /**
     * Decodes one whole frame.
     *
     * @param frame the frame, from position to limit, nothing more
     * @return the message
     * @throws ProtocolViolation naming the field that is wrong
     */
    static PunchMessage decode(ByteBuffer frame) throws ProtocolViolation {
        ByteBuffer in = frame.duplicate();
        if (in.remaining() < HEADER_LENGTH) {
            throw new ProtocolViolation("punch frame of " + in.remaining() + " bytes ends inside its header");
        }
        int length = payloadLength(in);
        int type = in.get(in.position() + 1) & 0xFF;
        in.position(in.position() + HEADER_LENGTH);
        if (in.remaining() != length) {
            throw new ProtocolViolation("punch frame declares " + length + " payload bytes but has "
                    + in.remaining());
        }
        return decodePayload(type, in);
    }

    /**
     * Decodes a payload whose header was checked by {@link #payloadLength}.
     *
     * @param type    the type byte
     * @param payload exactly the payload
     * @return the message
     * @throws ProtocolViolation naming the field that is wrong
     */
    static PunchMessage decodePayload(int type, ByteBuffer payload) throws ProtocolViolation {
        Reader r = new Reader(payload);
        try {
            PunchMessage m = switch (type) {
                case CANDIDATES -> {
                    byte[] session = r.bytes(SESSION_ID_LENGTH, "session id");
                    PeerId sender;
                    try {
                        sender = PeerId.of(r.bytes(PeerId.LENGTH, "peer id"));
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolViolation("punch CANDIDATES peer id: " + e.getMessage());
                    }
                    r.field = "issued-at";
                    long issuedAt = payload.getLong();
                    if (issuedAt < 0) {
                        throw new ProtocolViolation("punch CANDIDATES issued-at " + issuedAt + " is negative");
                    }
                    int round = r.round();
                    r.field = "NAT type";
                    int nat = payload.get() & 0xFF;
                    if (nat < 1 || nat > NatType.values().length) {
                        throw new ProtocolViolation("punch CANDIDATES NAT type " + nat + " is not 1 to "
                                + NatType.values().length);
                    }
                    r.field = "candidate count";
                    int n = payload.get() & 0xFF;
                    if (n > MAX_CANDIDATES) {
                        throw new ProtocolViolation("punch CANDIDATES with " + n + " candidates, at most "
                                + MAX_CANDIDATES);
                    }
                    List<Candidate> list = new ArrayList<>(n);
                    Set<Candidate> seen = new HashSet<>();
                    for (int i = 0; i < n; i++) {
                        r.field = "candidate " + (i + 1) + " kind";
                        int kind = payload.get() & 0xFF;
                        if (kind < 1 || kind > Kind.values().length) {
                            throw new ProtocolViolation("punch candidate kind " + kind + " is not 1 to "
                                    + Kind.values().length);
                        }
                        Protocol protocol = r.protocol();
                        Candidate c = new Candidate(Kind.values()[kind - 1], protocol, r.addr("candidate " + (i + 1)));
                        if (!seen.add(c)) {
                            throw new ProtocolViolation("punch candidate " + c + " listed twice");
                        }
                        list.add(c);
                    }
                    byte[] signature = r.bytes(SIGNATURE_LENGTH, "signature");
                    yield new Candidates(session, sender, issuedAt, round, NatType.values()[nat - 1], list, signature);
                }
                case SYNC -> new Sync(r.bytes(SESSION_ID_LENGTH, "session id"), r.round());
                case RESULT -> new Result(r.bytes(SESSION_ID_LENGTH, "session id"), r.round(), r.protocol(),
                        r.addr("initiator"), r.addr("responder"));
                case ABORT -> {
                    byte[] session = r.bytes(SESSION_ID_LENGTH, "session id");
                    int round = r.round();
                    r.field = "code";
                    int code = payload.getShort() & 0xFFFF;
                    if (code < 1 || code > AbortCode.values().length) {
                        throw new ProtocolViolation("punch ABORT code " + code + " is not 1 to "
                                + AbortCode.values().length);
                    }
                    r.field = "reason length";
                    int len = payload.getShort() & 0xFFFF;
                    if (len > MAX_REASON) {
                        throw new ProtocolViolation("punch ABORT reason of " + len + " bytes, at most " + MAX_REASON);
                    }
                    yield new Abort(session, round, AbortCode.values()[code - 1], r.utf8(len, "reason"));
                }
                default -> throw new ProtocolViolation("unknown punch message type 0x" + Integer.toHexString(type));
            };
            if (payload.hasRemaining()) {
                throw new ProtocolViolation("punch message type 0x" + Integer.toHexString(type) + " has "
                        + payload.remaining() + " bytes after its last field");
            }
            return m;
        } catch (BufferUnderflowException e) {
            throw new ProtocolViolation("punch message type 0x" + Integer.toHexString(type) + " ends inside its "
                    + r.field);
        }
    }

    private static final class Reader {
        final ByteBuffer in;
        String field = "first field";

        Reader(ByteBuffer in) {
            this.in = in;
        }

        byte[] bytes(int n, String name) {
            field = name;
            byte[] b = new byte[n];
            in.get(b);
            return b;
        }

        int round() throws ProtocolViolation {
            field = "round";
            int round = in.get() & 0xFF;
            if (round < 1 || round > MAX_ROUND) {
                throw new ProtocolViolation("punch round " + round + " is not 1 to " + MAX_ROUND);
            }
            return round;
        }

        Protocol protocol() throws ProtocolViolation {
            field = "protocol";
            int p = in.get() & 0xFF;
            if (p < 1 || p > Protocol.values().length) {
                throw new ProtocolViolation("punch protocol " + p + " is not 1 (udp) or 2 (tcp)");
            }
            return Protocol.values()[p - 1];
        }

        InetSocketAddress addr(String name) throws ProtocolViolation {
            field = name + " address family";
            int family = in.get() & 0xFF;
            if (family != 4 && family != 6) {
                throw new ProtocolViolation("punch " + name + " address family " + family + " is not 4 or 6");
            }
            byte[] ip = bytes(family == 4 ? 4 : 16, name + " address");
            field = name + " port";
            int port = in.getShort() & 0xFFFF;
            if (port == 0) {
                throw new ProtocolViolation("punch " + name + " port 0");
            }
            InetAddress address;
            try {
                address = InetAddress.getByAddress(ip);
            } catch (UnknownHostException e) {
                throw new ProtocolViolation("punch " + name + " address: " + e.getMessage());
            }
            // getByAddress turns an IPv4-mapped IPv6 address into IPv4, which would encode back in 4 bytes.
            if (family == 6 && !(address instanceof Inet6Address) || family == 4 && !(address instanceof Inet4Address)) {
                throw new ProtocolViolation("punch " + name + " address " + address.getHostAddress()
                        + " is IPv4-mapped: send it as IPv4");
            }
            return new InetSocketAddress(address, port);
        }

        String utf8(int n, String name) throws ProtocolViolation {
            byte[] b = bytes(n, name);
            try {
                CharBuffer chars = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolViolation("punch " + name + " is not valid UTF-8");
            }
        }
    }
}
