package io.kizuna.websocket.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.util.List;

import org.java_websocket.WebSocketImpl;
import org.java_websocket.drafts.Draft;
import org.java_websocket.drafts.Draft_6455;
import org.java_websocket.enums.Opcode;
import org.java_websocket.enums.Role;
import org.java_websocket.exceptions.InvalidDataException;
import org.java_websocket.exceptions.LimitExceededException;
import org.java_websocket.framing.CloseFrame;
import org.java_websocket.extensions.IExtension;
import org.java_websocket.framing.Framedata;
import org.java_websocket.protocols.IProtocol;
import org.java_websocket.protocols.Protocol;

/**
 * RFC 6455 as Java-WebSocket's {@link Draft_6455} speaks it, with the
 * subprotocol {@value #SUBPROTOCOL} required and a bound on whole messages.
 *
 * <p>{@link Draft_6455} checks each frame's declared length against its maximum
 * before it allocates the payload, and the first and last fragments of a
 * message against the same maximum, but not the fragments in between: a peer
 * could grow a message without end with small non-final continuation frames.
 * This draft adds up every data fragment of a message and fails it with 1009
 * once the sum passes {@code maxMessageSize}. It also remembers whether the
 * message was compressed (RSV1 on its first frame), because inflation happens
 * when the application reads it (see {@link PerMessageDeflate}), not here,
 * where one network read could otherwise inflate many messages at once.
 *
 * <p>Frames this side sends are encoded here too, as {@link Draft_6455} would,
 * except that a client's mask is applied eight bytes at a time (Draft_6455 masks
 * byte by byte, which made the dialer's direction the slower one).
 */
final class KizunaDraft extends Draft_6455 {

    /**
     * The WebSocket subprotocol of a kizuna stream. Not {@code kizuna/1}: RFC 6455
     * (4.1) makes a subprotocol an RFC 2616 token, where '/' is a separator, and
     * npm's ws and browsers refuse such a name before they connect.
     */
    static final String SUBPROTOCOL = "kizuna.v1";

    private static final SecureRandom MASKS = new SecureRandom();

    private final int maxMessageSize;
    private final boolean deflate;

    private boolean inMessage;
    private boolean compressed;
    private long messageBytes;
    private boolean lastMessageCompressed;
    private boolean keepFraming;

    /**
     * @param maxFrameSize   the largest frame payload accepted
     * @param maxMessageSize the largest message accepted, fragments added up
     * @param deflate        whether permessage-deflate is offered and accepted
     */
    KizunaDraft(int maxFrameSize, int maxMessageSize, boolean deflate) {
        super(deflate ? List.<IExtension>of(new PerMessageDeflate()) : List.<IExtension>of(),
                List.<IProtocol>of(new Protocol(SUBPROTOCOL)), maxFrameSize);
        this.maxMessageSize = maxMessageSize;
        this.deflate = deflate;
    }

    /**
     * From now on {@link #reset()} keeps the parser's state: this side has sent
     * Close and goes on parsing frames (to drop them) until the peer's Close.
     * Java-WebSocket resets the draft when it sends Close, which would drop a
     * frame half read and the negotiated extension, so that the frames after it
     * would no longer parse.
     */
    void keepFramingOnReset() {
        keepFraming = true;
    }

    @Override
    public void reset() {
        if (!keepFraming) {
            super.reset();
        }
    }

    @Override
    public Draft copyInstance() {
        return new KizunaDraft(getMaxFrameSize(), maxMessageSize, deflate);
    }

    /**
     * Java-WebSocket 1.6.0 lets a few malformed frames escape its parser as
     * runtime exceptions, which {@code WebSocketImpl} does not catch: a Close
     * frame whose reason is not UTF-8 ends in a NullPointerException in
     * {@code CloseFrame.isValid} (found by {@code FrameFuzzTest}). Such a frame
     * closes the connection with 1002 like any other malformed one.
     */
    @Override
    public List<Framedata> translateFrame(ByteBuffer buffer) throws InvalidDataException {
        try {
            return super.translateFrame(buffer);
        } catch (RuntimeException e) {
            throw new InvalidDataException(CloseFrame.PROTOCOL_ERROR, "a malformed frame (" + e.getClass()
                    .getSimpleName() + " in Java-WebSocket's parser)");
        }
    }

    @Override
    public void processFrame(WebSocketImpl webSocket, Framedata frame) throws InvalidDataException {
        Opcode op = frame.getOpcode();
        boolean starts = (op == Opcode.BINARY || op == Opcode.TEXT) && !inMessage;
        boolean continues = op == Opcode.CONTINUOUS && inMessage;
        if (starts) {
            inMessage = true;
            compressed = frame.isRSV1();
            messageBytes = 0;
        }
        if (starts || continues) {
            messageBytes += frame.getPayloadData().remaining();
            if (messageBytes > maxMessageSize) {
                inMessage = false;
                throw new LimitExceededException("a message of more than " + maxMessageSize
                        + " bytes (maxMessageSize)", maxMessageSize);
            }
            if (frame.isFin()) {
                inMessage = false;
                lastMessageCompressed = compressed;
            }
        }
        // Anything else (a data frame out of sequence, a control frame) is Draft_6455's to judge.
        super.processFrame(webSocket, frame);
    }

    @Override
    public ByteBuffer createBinaryFrame(Framedata frame) {
        getExtension().encodeFrame(frame);
        ByteBuffer payload = frame.getPayloadData().duplicate();
        int n = payload.remaining();
        boolean mask = role == Role.CLIENT;
        int lengthBytes = n <= 125 ? 0 : n <= 0xffff ? 2 : 8;
        ByteBuffer out = ByteBuffer.allocate(2 + lengthBytes + (mask ? 4 : 0) + n);
        out.put((byte) ((frame.isFin() ? 0x80 : 0) | (frame.isRSV1() ? 0x40 : 0) | (frame.isRSV2() ? 0x20 : 0)
                | (frame.isRSV3() ? 0x10 : 0) | opcode(frame.getOpcode())));
        int maskBit = mask ? 0x80 : 0;
        if (lengthBytes == 0) {
            out.put((byte) (maskBit | n));
        } else if (lengthBytes == 2) {
            out.put((byte) (maskBit | 126)).putShort((short) n);
        } else {
            out.put((byte) (maskBit | 127)).putLong(n);
        }
        if (!mask) {
            out.put(payload);
        } else {
            int key = MASKS.nextInt();
            out.putInt(key);
            long key8 = (key & 0xffffffffL) << 32 | (key & 0xffffffffL);
            payload.order(ByteOrder.BIG_ENDIAN);
            while (payload.remaining() >= 8) {
                out.putLong(payload.getLong() ^ key8);
            }
            for (int i = 0; payload.hasRemaining(); i++) {
                out.put((byte) (payload.get() ^ (key >>> (24 - 8 * (i & 3)))));
            }
        }
        out.flip();
        return out;
    }

    private static int opcode(Opcode op) {
        return switch (op) {
            case CONTINUOUS -> 0;
            case TEXT -> 1;
            case BINARY -> 2;
            case CLOSING -> 8;
            case PING -> 9;
            case PONG -> 10;
        };
    }

    /** @return whether the message just delivered was compressed (RSV1 on its first frame) */
    boolean lastMessageCompressed() {
        return lastMessageCompressed;
    }

    /** @return the negotiated permessage-deflate, or null when the connection does not compress */
    PerMessageDeflate deflate() {
        return getExtension() instanceof PerMessageDeflate d ? d : null;
    }
}
