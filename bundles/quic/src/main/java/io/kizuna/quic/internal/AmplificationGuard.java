package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.DatagramPacket;

/**
 * The anti-amplification limit of RFC 9000 §8.1, enforced in front of the QUIC
 * codec on a listener's socket: until an address is validated, the listener
 * sends it at most three times the bytes it received from it. quiche keeps the
 * limit for its first flight but not for its probe retransmissions (measured: a
 * single 1,200-byte Initial from a silent source drew 5,721 bytes within 4 s),
 * so handshake datagrams beyond the budget are dropped here, and counted.
 *
 * <p>Only datagrams that start with a long-header packet (Initial, Handshake:
 * what quiche sends before a handshake completes, in answer to packets anyone
 * can forge) are held to the budget. Short-header packets belong to a
 * connection whose keys the peer proved; quiche sends them to a new address
 * only after a decrypted packet came from there, and validates such a path
 * under its own limit (RFC 9000 §9.3), as the lab's migration tests show. An
 * address counts as validated once a connection from it completed its
 * handshake ({@link #validated}). Nothing in a packet's clear header is taken
 * as proof, since a spoofer can write those bytes too. At most
 * {@value #MAX_ADDRESSES} addresses are remembered, the least recently seen
 * forgotten first; a forgotten address starts again with no budget, so the guard
 * fails closed. It runs on the socket's event loop only.
 */
final class AmplificationGuard extends ChannelDuplexHandler {

    static final int MAX_ADDRESSES = 65_536;
    private static final int FACTOR = 3;
    private static final int LONG_HEADER = 0x80;

    /** Bytes received from and sent to one address; validated ones have no limit. */
    private static final class Budget {
        long received;
        long sent;
        boolean validated;
    }

    private final Map<InetSocketAddress, Budget> budgets = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<InetSocketAddress, Budget> eldest) {
            return size() > MAX_ADDRESSES;
        }
    };
    private final AtomicLong droppedBytes;

    /** @param droppedBytes where datagrams dropped for the limit are counted, in bytes */
    AmplificationGuard(AtomicLong droppedBytes) {
        this.droppedBytes = droppedBytes;
    }

    @Override
    public boolean isSharable() {
        return false;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof DatagramPacket p && p.content().isReadable()) {
            Budget b = budgets.computeIfAbsent(p.sender(), a -> new Budget());
            b.received += p.content().readableBytes();
        }
        ctx.fireChannelRead(msg);
    }

    /**
     * Lifts the limit for an address quiche has validated. Call on the socket's event loop.
     *
     * @param address the peer's address
     */
    void validated(InetSocketAddress address) {
        budgets.computeIfAbsent(address, a -> new Budget()).validated = true;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof DatagramPacket p && p.recipient() != null && p.content().isReadable()
                && (p.content().getUnsignedByte(p.content().readerIndex()) & LONG_HEADER) != 0) {
            Budget b = budgets.computeIfAbsent(p.recipient(), a -> new Budget());
            int size = p.content().readableBytes();
            if (!b.validated && b.sent + size > FACTOR * b.received) {
                droppedBytes.addAndGet(size);
                p.release();
                promise.trySuccess(); // as a datagram lost on the way: quiche's loss recovery deals with it
                return;
            }
            b.sent += size;
        }
        ctx.write(msg, promise);
    }
}
