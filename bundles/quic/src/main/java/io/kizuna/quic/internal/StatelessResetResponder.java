package io.kizuna.quic.internal;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

import javax.crypto.Cipher;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;

/**
 * In front of a listener's QUIC codec: answers a short-header packet whose
 * connection ID this listener did not mint (it belongs to a connection from
 * before a restart) with a stateless reset, so the dialer learns at once that
 * the connection is gone (RFC 9000 §10.3). Other datagrams pass on. A reset is
 * shorter than the packet that caused it, so two endpoints cannot loop and
 * nobody can use it to amplify, and at most {@value #MAX_PER_SECOND} leave per
 * second; the rest are counted and not sent. It runs on the socket's event loop
 * only.
 */
final class StatelessResetResponder extends ChannelInboundHandlerAdapter {

    static final int MAX_PER_SECOND = 100;
    private static final int SHORT_HEADER_MASK = 0xC0;
    private static final int SHORT_HEADER = 0x40;
    /** Resets for packets longer than this are this long plus a few random bytes (§10.3). */
    private static final int TYPICAL_RESET = 43;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final StatelessResets resets;
    private final AtomicLong sent;
    private final AtomicLong suppressed;
    private final Cipher cipher;
    private final byte[] id = new byte[StatelessResets.CONNECTION_ID_LENGTH];
    private final byte[] plain = new byte[16];
    private final PerSecondLimit limit = new PerSecondLimit(MAX_PER_SECOND);

    /**
     * @param resets     the keys and IDs of this transport's listeners
     * @param sent       where resets sent are counted
     * @param suppressed where resets not sent for the rate limit are counted
     */
    StatelessResetResponder(StatelessResets resets, AtomicLong sent, AtomicLong suppressed) {
        this.resets = resets;
        this.sent = sent;
        this.suppressed = suppressed;
        this.cipher = resets.idCipher();
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket p && strange(p.content())) {
            int length = p.content().readableBytes();
            p.release();
            if (limit.allowed()) {
                sent.incrementAndGet();
                ctx.writeAndFlush(new DatagramPacket(reset(ctx, length), p.sender()));
            } else {
                suppressed.incrementAndGet();
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /** @return whether the datagram is a short-header packet for a connection ID not minted here */
    private boolean strange(ByteBuf content) {
        int at = content.readerIndex();
        if (content.readableBytes() < 1 + id.length + 1
                || (content.getUnsignedByte(at) & SHORT_HEADER_MASK) != SHORT_HEADER) {
            return false;
        }
        content.getBytes(at + 1, id);
        return !resets.minted(cipher, id, plain);
    }

    /** A packet that looks like any short-header packet and ends with the ID's token. */
    private ByteBuf reset(ChannelHandlerContext ctx, int received) {
        int length = received <= TYPICAL_RESET ? received - 1
                : Math.min(received - 1, TYPICAL_RESET + RANDOM.nextInt(16));
        byte[] unpredictable = new byte[length - StatelessResets.TOKEN_LENGTH];
        RANDOM.nextBytes(unpredictable);
        unpredictable[0] = (byte) (SHORT_HEADER | (unpredictable[0] & 0x3F));
        ByteBuf out = ctx.alloc().directBuffer(length);
        out.writeBytes(unpredictable);
        out.writeBytes(resets.token(java.nio.ByteBuffer.wrap(id)));
        return out;
    }
}
