package io.kizuna.quic.internal;

import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;

/**
 * In front of a dialer's QUIC codec (one socket, one connection): a datagram
 * that ends with the connection's reset token is a stateless reset from a
 * listener that lost the connection (RFC 9000 §10.3). The connection is then
 * over: it learns why, and the socket closes without sending anything more.
 * quiche itself checks only a token in the listener's transport parameters,
 * which Netty sets per listener, not per connection; the token here arrives
 * inside the connection, from the listener ({@link QuicConnection}).
 */
final class StatelessResetDetector extends ChannelInboundHandlerAdapter {

    private final AtomicLong received;
    private final byte[] tail = new byte[StatelessResets.TOKEN_LENGTH];
    private volatile byte[] token;
    private volatile QuicConnection connection;

    /** @param received where stateless resets received are counted */
    StatelessResetDetector(AtomicLong received) {
        this.received = received;
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    /**
     * @param connection the connection on this socket
     * @param token      its reset token, from the listener
     */
    void expect(QuicConnection connection, byte[] token) {
        this.connection = connection;
        this.token = token.clone();
    }

    /** @return whether the listener's token arrived */
    boolean armed() {
        return token != null;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        byte[] t = token;
        if (t != null && msg instanceof DatagramPacket p && isReset(p.content(), t)) {
            p.release();
            received.incrementAndGet();
            connection.statelessReset();
            ctx.close();
            return;
        }
        ctx.fireChannelRead(msg);
    }

    private boolean isReset(ByteBuf content, byte[] token) {
        int length = content.readableBytes();
        if (length < StatelessResets.MIN_RESET_LENGTH || (content.getUnsignedByte(content.readerIndex()) & 0x80) != 0) {
            return false;
        }
        content.getBytes(content.readerIndex() + length - token.length, tail);
        return MessageDigest.isEqual(tail, token);
    }
}
