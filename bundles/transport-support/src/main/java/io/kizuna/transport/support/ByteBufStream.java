package io.kizuna.transport.support;

import java.nio.ByteBuffer;

import io.kizuna.transport.TransportException;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ReferenceCountUtil;

/**
 * A {@link ChannelStream} whose channel delivers the stream's bytes as they
 * are: the buffers read wait in {@link InboundBytes} until the application reads
 * them, and a write goes out in chunks of at most 64 KiB. The TCP connection
 * (after its TLS handler) and the QUIC stream are such streams; the WebSocket
 * connection, whose channel delivers frames, is not.
 */
public abstract class ByteBufStream extends ChannelStream {

    /** The largest slice of a write handed to the channel at once. */
    private static final int WRITE_CHUNK = 64 * 1024;

    /** The bytes read and not yet taken by the application. */
    protected final InboundBytes inbound = new InboundBytes();

    /**
     * @param channel       the channel
     * @param transportName the transport's protocol name, for messages (e.g. {@code tcp})
     */
    protected ByteBufStream(Channel channel, String transportName) {
        super(channel, transportName);
    }

    /**
     * @param bytes how many bytes the chunk has
     * @return a buffer for a chunk of a write, of the kind the channel writes best
     */
    protected abstract ByteBuf allocate(int bytes);

    @Override
    protected final boolean hasData() {
        return !inbound.isEmpty();
    }

    @Override
    protected final void deliver() {
        delivered(inbound.moveTo(readDst));
    }

    @Override
    protected final void discardInbound() {
        inbound.release();
    }

    @Override
    protected final int chunkSize() {
        return WRITE_CHUNK;
    }

    @Override
    protected final boolean writeChunk(ByteBuffer chunk) {
        ByteBuf buf = allocate(chunk.remaining());
        buf.writeBytes(chunk);
        send(buf);
        return true;
    }

    /**
     * @param why the failure that ended the stream
     * @return whether the bytes that arrived before it stay readable, the failure reported after them; by
     *         default not, since a broken connection's last bytes may be anything
     */
    protected boolean keepsInboundAfter(TransportException why) {
        return false;
    }

    /** Queues what the channel read, and hands it to a waiting read; drops it once the stream is closed. */
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf) || appClosed || isClosed() || !buf.isReadable()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        inbound.add(buf);
        if (readResult != null) {
            deliver();
        }
    }

    /** Every byte the peer will send is in: a waiting read with nothing left to read gets the end of stream. */
    protected final void endInput() {
        inputEnded = true;
        if (readResult != null && inbound.isEmpty()) {
            completeRead(-1);
        }
    }

    /**
     * The channel has closed: bytes that arrived before an orderly end stay
     * readable (on the heap), and so do those before a failure that
     * {@link #keepsInboundAfter} names; after another failure or the
     * application's close they go.
     */
    protected final void keepOrReleaseInbound() {
        if (appClosed || (failure != null && !keepsInboundAfter(failure))) {
            inbound.release();
        } else {
            inbound.keepOnHeap();
        }
    }
}
