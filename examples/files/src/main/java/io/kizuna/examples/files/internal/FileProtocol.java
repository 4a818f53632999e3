package io.kizuna.examples.files.internal;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The wire format of {@value #PROTOCOL}, on one stream per file:
 *
 * <pre>
 * sender   -&gt; receiver  OFFER  u16 name length, name (UTF-8), u64 size
 * receiver -&gt; sender    REPLY  u8 code, u16 length, message (UTF-8): ACCEPTED, or REFUSED and why
 * sender   -&gt; receiver  the file's bytes, exactly size of them, then end of stream
 * receiver -&gt; sender    REPLY  STORED "name sha256-hex", or FAILED and why; then end of stream
 * </pre>
 *
 * Numbers are big-endian. Every length is bounded and checked before anything
 * is allocated.
 */
final class FileProtocol {

    /** The application protocol name the receiver's StreamHandler serves. */
    static final String PROTOCOL = "example/files/1";
    /** Longest name on the wire (bytes of UTF-8). */
    static final int MAX_NAME_BYTES = 1024;
    /** Longest reply message (bytes of UTF-8). */
    static final int MAX_MESSAGE_BYTES = 4096;

    /** A reply's code. */
    enum Code {
        /** The offer is accepted: send the bytes. */
        ACCEPTED,
        /** The offer is refused; the message says why (a limit, a name). */
        REFUSED,
        /** The file is stored; the message is the stored name and the SHA-256 of its bytes. */
        STORED,
        /** Receiving or storing failed; the message says why. */
        FAILED
    }

    /**
     * @param name the name offered
     * @param size its size in bytes
     */
    record Offer(String name, long size) {
    }

    /**
     * @param code    what happened
     * @param message the details
     */
    record Reply(Code code, String message) {
    }

    private FileProtocol() {
    }

    static void writeOffer(OutputStream out, Offer offer) throws IOException {
        byte[] name = offer.name().getBytes(StandardCharsets.UTF_8);
        if (name.length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("the name '" + offer.name() + "' takes " + name.length
                    + " bytes; at most " + MAX_NAME_BYTES);
        }
        DataOutputStream d = new DataOutputStream(out);
        d.writeShort(name.length);
        d.write(name);
        d.writeLong(offer.size());
        d.flush();
    }

    static Offer readOffer(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int length = d.readUnsignedShort();
        if (length > MAX_NAME_BYTES) {
            throw new IOException("the offered name takes " + length + " bytes; at most " + MAX_NAME_BYTES);
        }
        byte[] name = new byte[length];
        d.readFully(name);
        long size = d.readLong();
        if (size < 0) {
            throw new IOException("the offered size " + size + " is negative");
        }
        return new Offer(new String(name, StandardCharsets.UTF_8), size);
    }

    static void writeReply(OutputStream out, Reply reply) throws IOException {
        byte[] message = reply.message().getBytes(StandardCharsets.UTF_8);
        if (message.length > MAX_MESSAGE_BYTES) {
            message = java.util.Arrays.copyOf(message, MAX_MESSAGE_BYTES);
        }
        DataOutputStream d = new DataOutputStream(out);
        d.writeByte(reply.code().ordinal());
        d.writeShort(message.length);
        d.write(message);
        d.flush();
    }

    static Reply readReply(InputStream in) throws IOException {
        DataInputStream d = new DataInputStream(in);
        int code = d.read();
        if (code < 0) {
            throw new EOFException("the receiver ended the stream without a reply");
        }
        if (code >= Code.values().length) {
            throw new IOException("unknown reply code " + code);
        }
        int length = d.readUnsignedShort();
        if (length > MAX_MESSAGE_BYTES) {
            throw new IOException("a reply of " + length + " bytes; at most " + MAX_MESSAGE_BYTES);
        }
        byte[] message = new byte[length];
        d.readFully(message);
        return new Reply(Code.values()[code], new String(message, StandardCharsets.UTF_8));
    }
}
