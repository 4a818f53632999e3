package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.TransportException;

/**
 * Signaling over a stream of a connection the manager already has to the peer
 * (protocol {@value #PROTOCOL}): each message is a 4-byte big-endian length and
 * that many bytes of UTF-8 JSON. The stream is authenticated, but the messages
 * are signed all the same, so the check is one for every path.
 */
final class StreamSignaling implements SignalingChannel {

    /** The application protocol name of the signaling stream. */
    static final String PROTOCOL = "io.kizuna.webrtc/signal/1";

    private static final System.Logger LOG = System.getLogger(StreamSignaling.class.getName());
    /** Messages waiting to be written: an offer or answer and its candidates. */
    private static final int MAX_QUEUED = 128;

    private final Connection stream;
    private final int maxMessage;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final ArrayDeque<ByteBuffer> queue = new ArrayDeque<>();
    private boolean writing;

    StreamSignaling(Connection stream, int maxMessage) {
        this.stream = stream;
        this.maxMessage = maxMessage;
        stream.closeFuture().whenComplete((v, e) -> closed.complete(null));
    }

    @Override
    public void send(String json) {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer frame = ByteBuffer.allocate(4 + body.length).putInt(body.length).put(body).flip();
        synchronized (this) {
            if (closed.isDone()) {
                return;
            }
            if (queue.size() >= MAX_QUEUED) {
                LOG.log(System.Logger.Level.WARNING, "closing WebRTC signaling stream to {0}: more than {1} "
                        + "messages waiting", stream.info().peerId().shortForm(), MAX_QUEUED);
                close();
                return;
            }
            queue.add(frame);
            if (writing) {
                return;
            }
            writing = true;
        }
        writeNext();
    }

    private void writeNext() {
        ByteBuffer next;
        synchronized (this) {
            next = queue.poll();
            if (next == null) {
                writing = false;
                return;
            }
        }
        stream.write(next).whenComplete((v, e) -> {
            if (e != null) {
                close();
            } else {
                writeNext();
            }
        });
    }

    @Override
    public void onMessage(Consumer<String> receiver) {
        readFrame(ByteBuffer.allocate(4), null, receiver);
    }

    /** Reads a length, then a body of that length, then the next frame. */
    private void readFrame(ByteBuffer buf, byte[] body, Consumer<String> receiver) {
        stream.read(buf).whenComplete((n, e) -> {
            if (e != null || n < 0) {
                close();
                return;
            }
            if (buf.hasRemaining()) {
                readFrame(buf, body, receiver);
                return;
            }
            if (body == null) {
                int length = buf.flip().getInt();
                if (length < 2 || length > maxMessage) {
                    LOG.log(System.Logger.Level.WARNING, "closing WebRTC signaling stream from {0}: {1}",
                            stream.info().peerId().shortForm(), new TransportException.LimitExceeded(
                                    "maxSignalingMessage", maxMessage, "a " + length + "-byte message")
                                    .getMessage());
                    close();
                    return;
                }
                byte[] b = new byte[length];
                readFrame(ByteBuffer.wrap(b), b, receiver);
                return;
            }
            receiver.accept(new String(body, StandardCharsets.UTF_8));
            readFrame(ByteBuffer.allocate(4), null, receiver);
        });
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }

    /** Closes the stream; this channel is closed afterwards even when the stream's transport has stopped. */
    @Override
    public void close() {
        try {
            stream.close();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "WebRTC signaling stream to {0}: its close failed ({1}), the "
                    + "transport below has stopped", stream.info().peerId().shortForm(), e.toString());
        } finally {
            closed.complete(null);
        }
    }

    @Override
    public InetSocketAddress localAddress() {
        return stream.info().localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return stream.info().remoteAddress();
    }
}
