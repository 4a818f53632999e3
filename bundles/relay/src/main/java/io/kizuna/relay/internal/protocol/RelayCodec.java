package io.kizuna.relay.internal.protocol;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.TransportException.ProtocolViolation;
import io.kizuna.transport.TransportException.RelayFailed;

/**
 * The relay protocol's framing: {@code type:u8 | length:u16 BE | payload}, at
 * most {@value #MAX_PAYLOAD} payload bytes. Reads take exactly one frame from the
 * stream, never more: after {@code CONNECTED} the same stream carries the peers'
 * own bytes.
 *
 * <pre>
 * RESERVE    0x01  token:bytes16
 * RESERVED   0x02  ttlSeconds:u32  maxCircuitBytes:u64  maxCircuitSeconds:u32  circuitRate:u64
 * REFUSED    0x03  reason:u8  message:str16
 * CONNECT    0x04  target:32  token:bytes16
 * CONNECTED  0x05  (empty)
 * INCOMING   0x06  circuit:16  dialer:32  addrLen:u8 (4|16)  addr  port:u16
 * ACCEPT     0x07  circuit:16
 * STATUS     0x08  (empty)
 * STATUS_OK  0x09  reservationsFree:u32  circuitsFree:u32
 * </pre>
 * A payload must be consumed exactly; strings are strict UTF-8. Anything else is
 * a {@link ProtocolViolation}.
 */
public final class RelayCodec {

    /** The application protocol name of relay streams. */
    public static final String PROTOCOL = "kizuna/relay/1";

    /** Largest payload accepted. */
    public static final int MAX_PAYLOAD = 1024;

    /** Length of a circuit id. */
    public static final int CIRCUIT_ID_LENGTH = 16;

    /** Largest token accepted. */
    public static final int MAX_TOKEN = 512;

    private static final int HEADER = 3;

    /** Wire codes of refusal reasons; the index is the code. Append only. */
    private static final RelayFailed.Reason[] REASONS = {
        RelayFailed.Reason.OTHER,
        RelayFailed.Reason.NOT_ADMITTED,
        RelayFailed.Reason.BAD_TOKEN,
        RelayFailed.Reason.RESERVATIONS_PER_PEER,
        RelayFailed.Reason.RESERVATIONS_TOTAL,
        RelayFailed.Reason.CIRCUITS_PER_PEER,
        RelayFailed.Reason.CIRCUITS_TOTAL,
        RelayFailed.Reason.RATE_LIMITED,
        RelayFailed.Reason.ADDRESS_NOT_ALLOWED,
        RelayFailed.Reason.BYTES_LIMIT,
        RelayFailed.Reason.DURATION_LIMIT,
        RelayFailed.Reason.TARGET_TIMEOUT,
        RelayFailed.Reason.NO_RELAY,
        RelayFailed.Reason.NO_RESERVATION,
        RelayFailed.Reason.IDLE_LIMIT,
        RelayFailed.Reason.SOURCE_LIMIT,
    };

    private RelayCodec() {
    }

    /**
     * @param m a message
     * @return its frame, ready to write
     */
    public static ByteBuffer encode(RelayMessage m) {
        ByteBuffer p = ByteBuffer.allocate(HEADER + MAX_PAYLOAD);
        p.position(HEADER);
        int type;
        if (m instanceof RelayMessage.Reserve r) {
            type = 1;
            bytes16(p, r.token());
        } else if (m instanceof RelayMessage.Reserved r) {
            type = 2;
            p.putInt((int) Math.min(r.ttlSeconds(), 0xffffffffL)).putLong(r.maxCircuitBytes())
                    .putInt((int) Math.min(r.maxCircuitSeconds(), 0xffffffffL)).putLong(r.circuitRate());
        } else if (m instanceof RelayMessage.Refused r) {
            type = 3;
            p.put((byte) code(r.reason()));
            String msg = r.message();
            byte[] text = msg.getBytes(StandardCharsets.UTF_8);
            int room = MAX_PAYLOAD - 1 - 2;
            while (text.length > room) {
                msg = msg.substring(0, msg.length() - 1);
                text = msg.getBytes(StandardCharsets.UTF_8);
            }
            p.putShort((short) text.length).put(text);
        } else if (m instanceof RelayMessage.Connect c) {
            type = 4;
            p.put(c.target().bytes());
            bytes16(p, c.token());
        } else if (m instanceof RelayMessage.Connected) {
            type = 5;
        } else if (m instanceof RelayMessage.Incoming i) {
            type = 6;
            p.put(i.circuit()).put(i.dialer().bytes());
            byte[] ip = i.source().getAddress().getAddress();
            p.put((byte) ip.length).put(ip).putShort((short) i.source().getPort());
        } else if (m instanceof RelayMessage.Accept a) {
            type = 7;
            p.put(a.circuit());
        } else if (m instanceof RelayMessage.Status) {
            type = 8;
        } else if (m instanceof RelayMessage.StatusReply s) {
            type = 9;
            p.putInt((int) Math.min(s.reservationsFree(), 0xffffffffL))
                    .putInt((int) Math.min(s.circuitsFree(), 0xffffffffL));
        } else {
            throw new IllegalArgumentException("unknown message " + m);
        }
        int length = p.position() - HEADER;
        p.put(0, (byte) type).putShort(1, (short) length);
        return p.flip();
    }

    private static void bytes16(ByteBuffer p, byte[] b) {
        if (b.length > MAX_TOKEN) {
            throw new IllegalArgumentException("a token has at most " + MAX_TOKEN + " bytes, not " + b.length);
        }
        p.putShort((short) b.length).put(b);
    }

    /**
     * Decodes one payload.
     *
     * @param type    the frame type
     * @param payload the payload, consumed exactly
     * @return the message
     * @throws ProtocolViolation naming what is wrong
     */
    public static RelayMessage decode(int type, ByteBuffer payload) throws ProtocolViolation {
        Reader r = new Reader(payload);
        RelayMessage m = switch (type) {
            case 1 -> new RelayMessage.Reserve(r.bytes16("token"));
            case 2 -> new RelayMessage.Reserved(r.u32("ttl"), r.u64("max circuit bytes"), r.u32("max circuit seconds"),
                    r.u64("circuit rate"));
            case 3 -> new RelayMessage.Refused(reason(r.u8("reason")), r.str16("message"));
            case 4 -> new RelayMessage.Connect(r.peerId("target"), r.bytes16("token"));
            case 5 -> new RelayMessage.Connected();
            case 6 -> new RelayMessage.Incoming(r.fixed(CIRCUIT_ID_LENGTH, "circuit"),
                    r.peerId("dialer"), r.address("source"));
            case 7 -> new RelayMessage.Accept(r.fixed(CIRCUIT_ID_LENGTH, "circuit"));
            case 8 -> new RelayMessage.Status();
            case 9 -> new RelayMessage.StatusReply(r.u32("reservations free"), r.u32("circuits free"));
            default -> throw new ProtocolViolation("unknown relay message type 0x" + Integer.toHexString(type));
        };
        if (payload.hasRemaining()) {
            throw new ProtocolViolation("relay message type " + type + " has " + payload.remaining()
                    + " bytes left over");
        }
        return m;
    }

    private static int code(RelayFailed.Reason reason) {
        for (int i = 0; i < REASONS.length; i++) {
            if (REASONS[i] == reason) {
                return i;
            }
        }
        return 0;
    }

    private static RelayFailed.Reason reason(int code) {
        return code < REASONS.length ? REASONS[code] : RelayFailed.Reason.OTHER;
    }

    /**
     * Writes one message.
     *
     * @param c the stream
     * @param m the message
     * @return completes when written
     */
    public static CompletionStage<Void> write(Connection c, RelayMessage m) {
        return c.write(encode(m));
    }

    /**
     * Reads exactly one message, and not a byte more.
     *
     * @param c the stream
     * @return the message; fails with {@link ProtocolViolation} on a malformed frame
     *         or an end of stream inside or before it
     */
    public static CompletionStage<RelayMessage> read(Connection c) {
        ByteBuffer header = ByteBuffer.allocate(HEADER);
        return readFully(c, header).thenCompose(h -> {
            int type = h.get(0) & 0xff;
            int length = h.getShort(1) & 0xffff;
            if (type < 1 || type > 9) {
                return CompletableFuture.failedFuture(
                        new ProtocolViolation("unknown relay message type 0x" + Integer.toHexString(type)));
            }
            if (length > MAX_PAYLOAD) {
                return CompletableFuture.failedFuture(new ProtocolViolation("relay message of " + length
                        + " bytes; at most " + MAX_PAYLOAD + " are accepted"));
            }
            return readFully(c, ByteBuffer.allocate(length)).thenCompose(p -> {
                try {
                    return CompletableFuture.completedFuture(decode(type, p.flip()));
                } catch (ProtocolViolation e) {
                    return CompletableFuture.failedFuture(e);
                } catch (IllegalArgumentException e) {
                    return CompletableFuture.failedFuture(new ProtocolViolation("relay message type " + type
                            + ": " + e.getMessage()));
                }
            });
        });
    }

    private static CompletionStage<ByteBuffer> readFully(Connection c, ByteBuffer dst) {
        if (!dst.hasRemaining()) {
            return CompletableFuture.completedFuture(dst);
        }
        return c.read(dst).thenCompose(n -> {
            if (n < 0) {
                return CompletableFuture.failedFuture(new ProtocolViolation(
                        "the relay stream ended " + (dst.position() == 0 ? "before a message" : "inside a message")));
            }
            return readFully(c, dst);
        });
    }

    /** Reads payload fields, failing with the field's name. */
    private static final class Reader {
        private final ByteBuffer b;

        Reader(ByteBuffer b) {
            this.b = b;
        }

        private void need(int n, String field) throws ProtocolViolation {
            if (b.remaining() < n) {
                throw new ProtocolViolation("relay message ends inside field '" + field + "'");
            }
        }

        int u8(String field) throws ProtocolViolation {
            need(1, field);
            return b.get() & 0xff;
        }

        long u32(String field) throws ProtocolViolation {
            need(4, field);
            return b.getInt() & 0xffffffffL;
        }

        long u64(String field) throws ProtocolViolation {
            need(8, field);
            long v = b.getLong();
            if (v < 0) {
                throw new ProtocolViolation("relay message field '" + field + "' is out of range");
            }
            return v;
        }

        PeerId peerId(String field) throws ProtocolViolation {
            byte[] key = fixed(PeerId.LENGTH, field);
            try {
                return PeerId.of(key);
            } catch (IllegalArgumentException e) {
                throw new ProtocolViolation("relay message field '" + field + "': " + e.getMessage());
            }
        }

        byte[] fixed(int n, String field) throws ProtocolViolation {
            need(n, field);
            byte[] out = new byte[n];
            b.get(out);
            return out;
        }

        byte[] bytes16(String field) throws ProtocolViolation {
            need(2, field);
            int n = b.getShort() & 0xffff;
            if (n > MAX_TOKEN) {
                throw new ProtocolViolation("relay message field '" + field + "' has " + n + " bytes; at most "
                        + MAX_TOKEN);
            }
            return fixed(n, field);
        }

        String str16(String field) throws ProtocolViolation {
            need(2, field);
            int n = b.getShort() & 0xffff;
            byte[] raw = fixed(n, field);
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolViolation("relay message field '" + field + "' is not UTF-8");
            }
        }

        InetSocketAddress address(String field) throws ProtocolViolation {
            int n = u8(field + " length");
            if (n != 4 && n != 16) {
                throw new ProtocolViolation("relay message field '" + field + "' has an address of " + n
                        + " bytes; 4 or 16 expected");
            }
            byte[] ip = fixed(n, field);
            need(2, field + " port");
            int port = b.getShort() & 0xffff;
            try {
                return new InetSocketAddress(InetAddress.getByAddress(ip), port);
            } catch (UnknownHostException e) {
                throw new ProtocolViolation("relay message field '" + field + "' is no address");
            }
        }
    }

    /**
     * @param relay   the relay that answered
     * @param refused its answer
     * @return the failure to report to the caller
     */
    public static TransportException failure(PeerId relay, RelayMessage.Refused refused) {
        return new RelayFailed(refused.reason(), "relay " + relay + " refused (" + refused.reason() + "): "
                + refused.message(), null);
    }
}
