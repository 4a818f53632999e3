package io.kizuna.core.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.core.internal.memory.MemoryHub;
import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.core.internal.protocol.ControlCodec;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.protocol.FrameDecoder;
import io.kizuna.core.internal.protocol.FrameReader;
import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;

/**
 * A peer without a manager, speaking the wire protocol by hand over a memory
 * transport: to be mute, or to send bytes no real node would.
 */
final class RawPeer implements AutoCloseable {

    final PeerId id = TestIds.newPeerId();
    final MemoryTransport transport;
    final BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
    private Listener listener;
    private volatile boolean mute;

    private RawPeer(MemoryHub hub, String protocol) {
        this.transport = new MemoryTransport(id, protocol, 10, 256 * 1024, 64, hub);
    }

    /** A raw peer that listens; what it does with accepted connections is set by the test. */
    static RawPeer listen(MemoryHub hub, String protocol) throws Exception {
        RawPeer p = new RawPeer(hub, protocol);
        p.listener = p.transport.listen(new InetSocketAddress("127.0.0.1", 0), c -> {
            if (p.mute) {
                p.answerMutely(c);
            } else {
                p.accepted.add(c);
            }
        }).toCompletableFuture().get();
        return p;
    }

    /** A raw peer that only dials. */
    static RawPeer dialer(MemoryHub hub, String protocol) {
        return new RawPeer(hub, protocol);
    }

    PeerAddress address() {
        return PeerAddress.of(id, listener.endpoint());
    }

    /** Accepted control streams get OPEN_OK and a HELLO; after that nothing is ever answered. */
    void answerOpenAndHello() {
        mute = true;
    }

    private void answerMutely(Connection c) {
        FrameReader r = new FrameReader(c, new FrameDecoder(ControlCodec.DEFAULT_MAX_FRAME_SIZE), 4096, false);
        r.next().thenCompose(open -> {
            if (refusesMux(c, open)) {
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            }
            return c.write(concat(frame(new ControlMessage.OpenOk()), frame(hello(c))))
                    .thenCompose(v -> Async.loop(() -> r.next().thenApply(m -> m != null)));
        });
    }

    /**
     * As a node without the stream multiplexer: an OPEN naming it is refused like any platform protocol
     * the node does not serve, and the connection closed.
     *
     * @return whether {@code open} was such an OPEN
     */
    private static boolean refusesMux(Connection c, ControlMessage open) {
        if (!(open instanceof ControlMessage.Open o) || !o.protocol().equals(StreamMux.PROTOCOL)) {
            return false;
        }
        c.write(frame(new ControlMessage.OpenRefused(ControlMessage.Codes.UNSUPPORTED_PROTOCOL, "'"
                + StreamMux.PROTOCOL + "' is not served here", "", 0))).whenComplete((v, e) -> c.close());
        return true;
    }

    /**
     * @return the next accepted connection whose OPEN names the control protocol, that OPEN read; the
     *         multiplexer is refused on the way, as a node without it does
     */
    Connection nextControl() throws Exception {
        for (int i = 0; i < 2; i++) {
            Connection c = accepted.poll(10, java.util.concurrent.TimeUnit.SECONDS);
            ControlMessage open = read(c);
            if (!refusesMux(c, open)) {
                org.assertj.core.api.Assertions.assertThat(open).isEqualTo(new ControlMessage.Open(
                        ConnectionManagerImpl.CONTROL));
                return c;
            }
        }
        throw new AssertionError("no control connection arrived after the multiplexer was refused");
    }

    ControlMessage.Hello hello(Connection c) {
        return new ControlMessage.Hello(1, id, List.of(), List.of(transport.protocolName()), Optional.empty());
    }

    Connection dial(PeerAddress to) throws Exception {
        return ManagerTestSupport.get(transport.connect(to, Duration.ofSeconds(5)));
    }

    /** @return the next frame, read without consuming bytes after it; null at a clean end of stream */
    static ControlMessage read(Connection c) throws Exception {
        return ManagerTestSupport.get(new FrameReader(c, new FrameDecoder(ControlCodec.DEFAULT_MAX_FRAME_SIZE), 512,
                true).next());
    }

    static void write(Connection c, ByteBuffer bytes) throws Exception {
        ManagerTestSupport.get(c.write(bytes));
    }

    static ByteBuffer frame(ControlMessage m) {
        return ControlCodec.encode(m, ControlCodec.DEFAULT_MAX_FRAME_SIZE);
    }

    static ByteBuffer concat(ByteBuffer... parts) {
        int n = 0;
        for (ByteBuffer p : parts) {
            n += p.remaining();
        }
        ByteBuffer out = ByteBuffer.allocate(n);
        for (ByteBuffer p : parts) {
            out.put(p);
        }
        return out.flip();
    }

    @Override
    public void close() {
        transport.shutdown();
    }
}
