package io.kizuna.quic.internal;

import io.kizuna.transport.udp.SharedUdpSocket;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;

/**
 * First in a listener's socket pipeline, and a punch socket's
 * ({@link QuicPunchSocket}), in front of everything QUIC: a datagram
 * whose first byte is 0-63 cannot be QUIC version 1 (its packets set the
 * long-header bit 0x80 or the fixed bit 0x40, RFC 9000 section 17, and quiche
 * is not set up to grease the fixed bit, RFC 9287), so it goes to the socket's
 * {@link SharedSocket} and never reaches the codec; STUN (first byte 0-3 and the
 * magic cookie, RFC 9443) is the common case. Every other datagram passes on
 * unchanged. Datagrams the shared socket sends leave from this handler's place,
 * so they pass neither the codec nor the amplification guard. It runs on the
 * socket's event loop only.
 */
final class UdpDemux extends ChannelInboundHandlerAdapter {

    private final SharedSocket shared;

    /** @param shared where datagrams that are not QUIC go */
    UdpDemux(SharedSocket shared) {
        this.shared = shared;
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        shared.attach(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket p && !isQuic(p.content())) {
            try {
                shared.arrived(p.sender(), p.content());
            } finally {
                p.release();
            }
            return;
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * @param content a datagram
     * @return false when its first byte is 0-63, which no QUIC version 1 packet has; an
     *         empty datagram counts as QUIC, so quiche drops it as it always did
     */
    static boolean isQuic(ByteBuf content) {
        return !content.isReadable()
                || content.getUnsignedByte(content.readerIndex()) > SharedUdpSocket.MAX_FIRST_BYTE;
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        shared.close();
        ctx.fireChannelInactive();
    }
}
