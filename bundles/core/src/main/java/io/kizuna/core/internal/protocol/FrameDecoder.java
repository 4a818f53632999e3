package io.kizuna.core.internal.protocol;

import java.nio.ByteBuffer;
import java.util.function.IntFunction;

import io.kizuna.transport.TransportException.ProtocolViolation;

/**
 * Reads control frames incrementally from whatever bytes arrive.
 *
 * <p>{@link #decode} consumes bytes up to the end of one frame at most, so bytes
 * after a frame stay in the caller's buffer (they may belong to an application).
 * The header is checked byte by byte as it arrives: a wrong version byte or an
 * unknown type fails at once, and a declared length is checked against the
 * bound and against its type's own largest payload
 * ({@link ControlCodec#maxPayload}) before any payload buffer exists. The only
 * allocation that depends on the input is the payload buffer, requested from
 * the allocator given at construction with the declared length, never more than
 * the smaller of the two.
 *
 * <p>After a {@link ProtocolViolation} the decoder stays failed: the connection
 * it reads is to be closed. Not thread-safe; one reader at a time.
 */
public final class FrameDecoder {

    private final int maxFrameSize;
    private final IntFunction<ByteBuffer> allocator;
    private final byte[] header = new byte[ControlCodec.HEADER_LENGTH];
    private int headerFill;
    private MessageType type;
    private int length;
    private ByteBuffer payload;
    private ProtocolViolation failed;
    private long frames;

    /**
     * @param maxFrameSize the largest payload accepted
     * @param allocator    gives payload buffers of exactly the size asked
     */
    public FrameDecoder(int maxFrameSize, IntFunction<ByteBuffer> allocator) {
        if (maxFrameSize < 0) {
            throw new IllegalArgumentException("maxFrameSize must not be negative");
        }
        this.maxFrameSize = maxFrameSize;
        this.allocator = allocator;
    }

    /** @param maxFrameSize the largest payload accepted */
    public FrameDecoder(int maxFrameSize) {
        this(maxFrameSize, ByteBuffer::allocate);
    }

    /**
     * Consumes bytes from {@code src} until one frame is complete or {@code src}
     * is empty.
     *
     * @param src bytes read from the connection, from position to limit; the
     *            position advances past what was consumed
     * @return the message when a frame was completed, else null (more bytes needed)
     * @throws ProtocolViolation when the bytes break the frame format
     */
    public ControlMessage decode(ByteBuffer src) throws ProtocolViolation {
        if (failed != null) {
            throw failed;
        }
        try {
            return step(src);
        } catch (ProtocolViolation v) {
            failed = v;
            payload = null;
            throw v;
        }
    }

    private ControlMessage step(ByteBuffer src) throws ProtocolViolation {
        while (payload == null) {
            if (headerFill == ControlCodec.HEADER_LENGTH) {
                // A zero-length payload completes with its header.
                return complete(ByteBuffer.allocate(0));
            }
            if (!src.hasRemaining()) {
                return null;
            }
            header[headerFill++] = src.get();
            switch (headerFill) {
                case 1 -> checkVersion();
                case 2 -> checkType();
                case ControlCodec.HEADER_LENGTH -> checkLength();
                default -> {
                }
            }
        }
        int n = Math.min(src.remaining(), payload.remaining());
        if (n > 0) {
            int limit = src.limit();
            src.limit(src.position() + n);
            payload.put(src);
            src.limit(limit);
        }
        if (payload.hasRemaining()) {
            return null;
        }
        ByteBuffer p = payload;
        p.flip();
        return complete(p);
    }

    private void checkVersion() throws ProtocolViolation {
        int v = header[0] & 0xff;
        if (v != ControlCodec.VERSION) {
            throw new ProtocolViolation("not a control frame: first byte 0x" + hex(v) + ", expected frame version "
                    + ControlCodec.VERSION + (frames == 0 ? " (is the peer speaking this protocol?)"
                            : " after " + frames + " good frames"));
        }
    }

    private void checkType() throws ProtocolViolation {
        int code = header[1] & 0xff;
        type = MessageType.of(code);
        if (type == null) {
            throw new ProtocolViolation("unknown control message type 0x" + hex(code));
        }
    }

    private void checkLength() throws ProtocolViolation {
        long declared = ((header[2] & 0xffL) << 24) | ((header[3] & 0xffL) << 16) | ((header[4] & 0xffL) << 8)
                | (header[5] & 0xffL);
        if (declared > maxFrameSize) {
            throw new ProtocolViolation(type + " frame declares a " + declared + "-byte payload, more than the "
                    + maxFrameSize + "-byte limit (maxFrameSize)");
        }
        if (type.fixedLength() >= 0 && declared != type.fixedLength()) {
            throw new ProtocolViolation(type + " frame declares a " + declared + "-byte payload; its payload is "
                    + type.fixedLength() + " bytes");
        }
        if (declared > ControlCodec.maxPayload(type)) {
            throw new ProtocolViolation(type + " frame declares a " + declared + "-byte payload; a valid " + type
                    + " is at most " + ControlCodec.maxPayload(type) + " bytes");
        }
        length = (int) declared;
        if (length > 0) {
            payload = allocator.apply(length);
            if (payload.capacity() < length) {
                throw new IllegalStateException("allocator gave " + payload.capacity() + " bytes for " + length);
            }
            payload.clear().limit(length);
        }
    }

    private ControlMessage complete(ByteBuffer p) throws ProtocolViolation {
        MessageType t = type;
        headerFill = 0;
        type = null;
        payload = null;
        ControlMessage m = ControlCodec.decodePayload(t, p);
        frames++;
        return m;
    }

    /** @return how many more bytes the frame being read needs at least: its header's rest, or its payload's rest */
    public int wanted() {
        if (payload != null) {
            return payload.remaining();
        }
        return ControlCodec.HEADER_LENGTH - headerFill;
    }

    /** @return whether part of a frame has been read */
    public boolean midFrame() {
        return headerFill > 0;
    }

    /** @return how many frames were decoded */
    public long frames() {
        return frames;
    }

    /**
     * Tells the decoder that the connection reached end of stream.
     *
     * @throws ProtocolViolation when the stream ended inside a frame
     */
    public void endOfStream() throws ProtocolViolation {
        if (failed != null) {
            throw failed;
        }
        if (headerFill == 0) {
            return;
        }
        ProtocolViolation v;
        if (headerFill < ControlCodec.HEADER_LENGTH) {
            v = new ProtocolViolation("truncated frame: the connection ended after " + headerFill + " of the "
                    + ControlCodec.HEADER_LENGTH + " header bytes");
        } else {
            int got = payload == null ? 0 : payload.position();
            v = new ProtocolViolation("truncated " + type + " frame: the connection ended after " + got + " of its "
                    + length + " payload bytes");
        }
        failed = v;
        payload = null;
        throw v;
    }

    private static String hex(int v) {
        return String.format("%02x", v);
    }
}
