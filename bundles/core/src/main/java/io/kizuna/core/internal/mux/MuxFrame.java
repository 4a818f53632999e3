package io.kizuna.core.internal.mux;

import java.nio.ByteBuffer;

import io.kizuna.transport.TransportException;

/**
 * The stream multiplexer's frame header, as yamux defines it: twelve bytes,
 * {@code version:u8 (=0) | type:u8 | flags:u16 | streamId:u32 | length:u32}, all
 * big-endian. A DATA frame's length counts the payload that follows; a
 * WINDOW_UPDATE's is the window increment, a PING's its opaque value, a GO_AWAY's
 * its error code. No other frame has a payload.
 *
 * <p>{@link #decode} checks every field a header can get wrong on its own: the
 * version, the type, unknown flag bits, flags a type cannot carry, the stream id
 * a type must (not) have, a GO_AWAY code, and stream ids above 2^31-1, which this
 * node never uses. What needs the session's state (the window, whether the
 * stream exists) the session checks.
 *
 * @param type     {@link #DATA}, {@link #WINDOW_UPDATE}, {@link #PING} or {@link #GO_AWAY}
 * @param flags    a combination of {@link #SYN}, {@link #ACK}, {@link #FIN}, {@link #RST}
 * @param streamId the stream, 0 for the session itself
 * @param length   the payload length, window increment, ping value or error code (unsigned 32 bits)
 */
record MuxFrame(int type, int flags, int streamId, long length) {

    /** Bytes in a header. */
    static final int HEADER_BYTES = 12;
    /** The only version yamux defines. */
    static final int VERSION = 0;

    static final int DATA = 0;
    static final int WINDOW_UPDATE = 1;
    static final int PING = 2;
    static final int GO_AWAY = 3;

    /** Opens a stream (on its first frame), or asks for a ping's answer. */
    static final int SYN = 1;
    /** Acknowledges a stream's SYN, or answers a ping. */
    static final int ACK = 2;
    /** Half-closes a stream: the sender writes no more on it. */
    static final int FIN = 4;
    /** Resets a stream at once, both directions. */
    static final int RST = 8;
    private static final int ALL_FLAGS = SYN | ACK | FIN | RST;

    static final int GO_AWAY_NORMAL = 0;
    static final int GO_AWAY_PROTOCOL_ERROR = 1;
    static final int GO_AWAY_INTERNAL_ERROR = 2;

    /** The largest stream id used or accepted (yamux's ids are 32 bits; 2^31 streams are enough). */
    static final long MAX_STREAM_ID = Integer.MAX_VALUE;

    /** The window every stream starts with, on both sides, before any WINDOW_UPDATE. */
    static final int INITIAL_WINDOW = 256 * 1024;

    /** Checks the parts as {@link #decode} would. */
    MuxFrame {
        if (type < DATA || type > GO_AWAY) {
            throw new IllegalArgumentException("frame type " + type);
        }
        if ((flags & ~ALL_FLAGS) != 0 || streamId < 0 || length < 0 || length > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("flags " + flags + ", stream " + streamId + ", length " + length);
        }
    }

    /** @return the frame's header, ready to be written */
    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
        encodeInto(b);
        return b.flip();
    }

    /** Writes the header at the buffer's position. */
    void encodeInto(ByteBuffer b) {
        b.put((byte) VERSION).put((byte) type).putShort((short) flags).putInt(streamId).putInt((int) length);
    }

    boolean has(int flag) {
        return (flags & flag) != 0;
    }

    /**
     * Reads and checks one header.
     *
     * @param b twelve bytes from its position; consumed
     * @return the frame
     * @throws TransportException.ProtocolViolation naming the field that is wrong
     */
    static MuxFrame decode(ByteBuffer b) throws TransportException.ProtocolViolation {
        int version = b.get() & 0xFF;
        int type = b.get() & 0xFF;
        int flags = b.getShort() & 0xFFFF;
        long stream = b.getInt() & 0xFFFF_FFFFL;
        long length = b.getInt() & 0xFFFF_FFFFL;
        if (version != VERSION) {
            throw violation("version " + version + ", expected " + VERSION);
        }
        if (type > GO_AWAY) {
            throw violation("unknown frame type " + type);
        }
        String name = name(type);
        if ((flags & ~ALL_FLAGS) != 0) {
            throw violation(name + " with unknown flag bits 0x" + Integer.toHexString(flags & ~ALL_FLAGS));
        }
        if (stream > MAX_STREAM_ID) {
            throw violation(name + " for stream " + stream + ", above the largest stream id " + MAX_STREAM_ID);
        }
        switch (type) {
            case DATA, WINDOW_UPDATE -> {
                if (stream == 0) {
                    throw violation(name + " for stream 0, which is the session");
                }
                if ((flags & SYN) != 0 && (flags & ACK) != 0) {
                    throw violation(name + " for stream " + stream + " with both SYN and ACK");
                }
            }
            case PING -> {
                if (stream != 0) {
                    throw violation("PING for stream " + stream + ", must be 0");
                }
                if (flags != SYN && flags != ACK) {
                    throw violation("PING with flags 0x" + Integer.toHexString(flags) + ", must be SYN or ACK");
                }
            }
            default -> {
                if (stream != 0) {
                    throw violation("GO_AWAY for stream " + stream + ", must be 0");
                }
                if (flags != 0) {
                    throw violation("GO_AWAY with flags 0x" + Integer.toHexString(flags));
                }
                if (length > GO_AWAY_INTERNAL_ERROR) {
                    throw violation("GO_AWAY with unknown error code " + length);
                }
            }
        }
        return new MuxFrame(type, flags, (int) stream, length);
    }

    static String name(int type) {
        return switch (type) {
            case DATA -> "DATA";
            case WINDOW_UPDATE -> "WINDOW_UPDATE";
            case PING -> "PING";
            case GO_AWAY -> "GO_AWAY";
            default -> "type " + type;
        };
    }

    private static TransportException.ProtocolViolation violation(String what) {
        return new TransportException.ProtocolViolation("stream multiplexer: " + what);
    }

    @Override
    public String toString() {
        StringBuilder f = new StringBuilder();
        String[] names = {"SYN", "ACK", "FIN", "RST"};
        for (int i = 0; i < names.length; i++) {
            if ((flags & (1 << i)) != 0) {
                f.append(f.length() == 0 ? "" : "|").append(names[i]);
            }
        }
        return name(type) + "(stream " + streamId + (f.length() == 0 ? "" : ", " + f) + ", " + length + ")";
    }
}
