package io.kizuna.core.internal.protocol;

/**
 * The control protocol's message types and their type byte on the wire.
 *
 * <p>Types whose payload has a fixed size say so, so the decoder can refuse a
 * wrong length from the header alone, before it allocates anything.
 */
public enum MessageType {
    /** Dialer to acceptor, first frame of every stream: which protocol the stream speaks. */
    OPEN(0x01, -1),
    /** Acceptor to dialer: the stream is accepted; raw protocol bytes follow. */
    OPEN_OK(0x02, 0),
    /** Acceptor to dialer: the stream is refused, with a code and a reason; the acceptor closes it. */
    OPEN_REFUSED(0x03, -1),
    /** Both ways, first frame of a control session: who the sender is and where it listens. */
    HELLO(0x10, -1),
    /** A round-trip probe with an 8-byte nonce. */
    PING(0x20, 8),
    /** The answer to a PING, echoing its nonce. */
    PONG(0x21, 8),
    /** The sender closes the session in order, with a reason. */
    GOAWAY(0x30, -1),
    /** The sender saw an error and closes the connection, with a code and a reason. */
    ERROR(0x31, -1);

    private static final MessageType[] BY_CODE = new MessageType[256];

    static {
        for (MessageType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final int fixedLength;

    MessageType(int code, int fixedLength) {
        this.code = code;
        this.fixedLength = fixedLength;
    }

    /** @return the type byte on the wire */
    public int code() {
        return code;
    }

    /** @return the payload length every frame of this type has, or -1 when it varies */
    public int fixedLength() {
        return fixedLength;
    }

    /**
     * @param code a type byte, 0-255
     * @return its type, or null when no type has that byte
     */
    public static MessageType of(int code) {
        return code >= 0 && code < 256 ? BY_CODE[code] : null;
    }
}
