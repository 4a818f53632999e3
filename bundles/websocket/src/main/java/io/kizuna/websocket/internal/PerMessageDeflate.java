package io.kizuna.websocket.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

import org.java_websocket.exceptions.InvalidDataException;
import org.java_websocket.exceptions.InvalidFrameException;
import org.java_websocket.exceptions.LimitExceededException;
import org.java_websocket.extensions.CompressionExtension;
import org.java_websocket.extensions.ExtensionRequestData;
import org.java_websocket.extensions.IExtension;
import org.java_websocket.framing.CloseFrame;
import org.java_websocket.framing.ContinuousFrame;
import org.java_websocket.framing.DataFrame;
import org.java_websocket.framing.Framedata;
import org.java_websocket.framing.FramedataImpl1;

/**
 * permessage-deflate (RFC 7692) without context takeover in either direction,
 * in place of Java-WebSocket's own extension.
 *
 * <p>Java-WebSocket's {@code PerMessageDeflateExtension} inflates into a buffer
 * with no bound (a few kilobytes can become gigabytes), inflates each frame as
 * it is parsed (so a ping between two fragments makes it treat the rest of the
 * message as uncompressed) and inflates continuation frames of uncompressed
 * messages. Here a compressed message is inflated whole, once the application
 * asks for it, into at most {@code maxMessageSize} bytes: one byte more fails it
 * with close code 1009. Both sides reset their compressor after every message
 * ({@code server_no_context_takeover}, {@code client_no_context_takeover}), so
 * no window outlives a message. Messages this side sends are compressed when
 * they have at least {@value #MIN_COMPRESS} bytes.
 */
final class PerMessageDeflate extends CompressionExtension {

    static final String NAME = "permessage-deflate";
    static final String OFFER = NAME + "; server_no_context_takeover; client_no_context_takeover";

    private static final byte[] TAIL = {0, 0, (byte) 0xff, (byte) 0xff};
    private static final int MIN_COMPRESS = 64;
    private static final int CHUNK = 16 * 1024;

    private final Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
    private final Inflater inflater = new Inflater(true);

    // ------------------------------------------------------------------ negotiation

    @Override
    public boolean acceptProvidedExtensionAsServer(String header) {
        for (String offer : header.split(",")) {
            if (acceptable(ExtensionRequestData.parseExtensionRequest(offer), true)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean acceptProvidedExtensionAsClient(String header) {
        String[] answers = header.split(",");
        return answers.length == 1 && acceptable(ExtensionRequestData.parseExtensionRequest(answers[0]), false);
    }

    /**
     * An offer (as server) or an answer (as client) this side can honour: the
     * deflater always uses a 15-bit window, the inflater reads any window.
     */
    private static boolean acceptable(ExtensionRequestData data, boolean asServer) {
        if (!NAME.equalsIgnoreCase(data.getExtensionName().trim())) {
            return false;
        }
        for (Map.Entry<String, String> p : data.getExtensionParameters().entrySet()) {
            String value = p.getValue() == null ? "" : p.getValue().trim().replace("\"", "");
            switch (p.getKey().trim().toLowerCase(java.util.Locale.ROOT)) {
                case "server_no_context_takeover", "client_no_context_takeover" -> {
                    if (!value.isEmpty()) {
                        return false;
                    }
                }
                // As server: a limit on the client's window needs nothing from us. As client: the
                // server asks us to use a smaller window than the 15 bits our deflater uses.
                case "client_max_window_bits" -> {
                    if (!asServer && !value.isEmpty() && !value.equals("15")) {
                        return false;
                    }
                }
                // As server: the client asks us for a smaller window, which our deflater cannot do.
                case "server_max_window_bits" -> {
                    if (asServer && !value.equals("15")) {
                        return false;
                    }
                }
                default -> {
                    return false;
                }
            }
        }
        return true;
    }

    @Override
    public String getProvidedExtensionAsClient() {
        return OFFER;
    }

    @Override
    public String getProvidedExtensionAsServer() {
        return OFFER;
    }

    @Override
    public IExtension copyInstance() {
        return new PerMessageDeflate();
    }

    @Override
    public void reset() {
        deflater.reset();
        inflater.reset();
    }

    // ------------------------------------------------------------------ frames

    @Override
    public void isFrameValid(Framedata frame) throws InvalidDataException {
        if (frame instanceof ContinuousFrame && frame.isRSV1()) {
            throw new InvalidFrameException("RSV1 is set on a continuation frame; permessage-deflate marks only "
                    + "the first frame of a message");
        }
        super.isFrameValid(frame);
    }

    /** Inflation is left to {@link #inflate}, called when the application reads the message. */
    @Override
    public void decodeFrame(Framedata frame) {
        // nothing: see the class comment
    }

    @Override
    public void encodeFrame(Framedata frame) {
        if (!(frame instanceof DataFrame) || frame instanceof ContinuousFrame || !frame.isFin()
                || frame.getPayloadData().remaining() < MIN_COMPRESS) {
            return;
        }
        deflater.setInput(frame.getPayloadData().duplicate());
        ByteArrayOutputStream out = new ByteArrayOutputStream(frame.getPayloadData().remaining() / 2 + 64);
        byte[] chunk = new byte[CHUNK];
        int n;
        do {
            n = deflater.deflate(chunk, 0, chunk.length, Deflater.SYNC_FLUSH);
            out.write(chunk, 0, n);
        } while (n == chunk.length);
        deflater.reset();
        byte[] bytes = out.toByteArray();
        int length = bytes.length;
        if (endsWithTail(bytes)) {
            length -= TAIL.length;
        }
        FramedataImpl1 f = (FramedataImpl1) frame;
        f.setRSV1(true);
        f.setPayload(ByteBuffer.wrap(bytes, 0, length));
    }

    /**
     * Inflates one whole compressed message.
     *
     * @param compressed the message as received
     * @param limit      the most bytes it may inflate to
     * @return the message
     * @throws LimitExceededException when it inflates to more than {@code limit} (close code 1009)
     * @throws InvalidDataException   when it is not valid DEFLATE data (close code 1007)
     */
    ByteBuffer inflate(ByteBuffer compressed, int limit) throws InvalidDataException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.min(limit, Math.max(CHUNK,
                compressed.remaining() * 4)));
        byte[] chunk = new byte[CHUNK];
        try {
            inflater.setInput(compressed.duplicate());
            drain(out, chunk, limit);
            inflater.setInput(TAIL);
            drain(out, chunk, limit);
        } catch (DataFormatException e) {
            throw new InvalidDataException(CloseFrame.NO_UTF8, "a compressed message is not valid DEFLATE data: "
                    + e.getMessage());
        } finally {
            inflater.reset();
        }
        return ByteBuffer.wrap(out.toByteArray());
    }

    private void drain(ByteArrayOutputStream out, byte[] chunk, int limit) throws DataFormatException,
            LimitExceededException {
        while (!inflater.needsInput() && !inflater.finished()) {
            int room = limit - out.size();
            // One byte more than the room tells "over the limit" apart from "exactly at it".
            int n = inflater.inflate(chunk, 0, Math.min(chunk.length, room + 1));
            if (n > room) {
                throw new LimitExceededException("a compressed message inflates to more than " + limit
                        + " bytes (maxMessageSize)", limit);
            }
            out.write(chunk, 0, n);
            if (n == 0 && !inflater.needsInput() && !inflater.finished()) {
                throw new DataFormatException(inflater.needsDictionary() ? "a preset dictionary is asked for"
                        : "the inflater makes no progress");
            }
        }
    }

    private static boolean endsWithTail(byte[] b) {
        int n = b.length;
        return n >= 4 && b[n - 4] == 0 && b[n - 3] == 0 && b[n - 2] == (byte) 0xff && b[n - 1] == (byte) 0xff;
    }

    @Override
    public String toString() {
        return NAME;
    }
}
