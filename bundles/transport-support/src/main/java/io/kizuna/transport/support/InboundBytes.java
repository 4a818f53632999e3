package io.kizuna.transport.support;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The bytes a {@link ChannelStream} has read from its channel and the
 * application has not: buffers as they arrived, and their total, which the
 * stream bounds by asking for no more input above it. Event-loop confined, like
 * the stream.
 */
public final class InboundBytes {

    private final ArrayDeque<ByteBuf> queue = new ArrayDeque<>();
    private long bytes;

    /** @param buf a readable buffer, whose reference this takes over */
    public void add(ByteBuf buf) {
        queue.add(buf);
        bytes += buf.readableBytes();
    }

    /** @return whether no byte waits */
    public boolean isEmpty() {
        return queue.isEmpty();
    }

    /** @return how many bytes wait */
    public long bytes() {
        return bytes;
    }

    /**
     * Moves waiting bytes, in order, into a buffer, as many as fit.
     *
     * @param dst where to
     * @return how many were moved
     */
    public int moveTo(ByteBuffer dst) {
        int n = 0;
        while (dst.hasRemaining() && !queue.isEmpty()) {
            ByteBuf head = queue.peek();
            int k = Math.min(dst.remaining(), head.readableBytes());
            int limit = dst.limit();
            dst.limit(dst.position() + k);
            head.readBytes(dst);
            dst.limit(limit);
            n += k;
            if (!head.isReadable()) {
                queue.poll().release();
            }
        }
        bytes -= n;
        return n;
    }

    /** Drops every waiting byte. */
    public void release() {
        ByteBuf b;
        while ((b = queue.poll()) != null) {
            b.release();
        }
        bytes = 0;
    }

    /** Bytes that arrived before an orderly end stay readable; pooled memory goes back to the pool. */
    public void keepOnHeap() {
        int n = queue.size();
        for (int i = 0; i < n; i++) {
            ByteBuf b = queue.poll();
            queue.add(Unpooled.copiedBuffer(b));
            b.release();
        }
    }
}
