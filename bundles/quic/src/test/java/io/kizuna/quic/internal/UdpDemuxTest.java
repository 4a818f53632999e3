package io.kizuna.quic.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.SharedUdpSocket;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The demultiplexer in front of the QUIC codec: what is not QUIC goes to the
 * shared socket's receivers and never on towards quiche (a recording handler
 * stands in for the codec), QUIC passes untouched, and the shared socket's
 * bounds hold.
 */
class UdpDemuxTest {

    private static final InetSocketAddress PEER = new InetSocketAddress("127.0.0.1", 40000);
    private static final InetSocketAddress RECIPIENT = new InetSocketAddress("127.0.0.1", 7400);

    private final SharedSocket shared = new SharedSocket();
    private final List<Object> reachedCodec = new ArrayList<>();
    private final List<Object> writtenPastDemux = new ArrayList<>();
    private final List<byte[]> received = new ArrayList<>();
    private final List<InetSocketAddress> sources = new ArrayList<>();
    private EmbeddedChannel channel;

    @BeforeEach
    void pipeline() {
        channel = new EmbeddedChannel(new UdpDemux(shared),
                new ChannelOutboundHandlerAdapter() {
                    @Override
                    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                        writtenPastDemux.add(msg); // what the codec and the guard would see of the shared sends
                        ctx.write(msg, promise);
                    }
                },
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        reachedCodec.add(msg);
                    }
                });
    }

    /** A Binding request: type 0x0001, length 0, the magic cookie, a transaction id. */
    static byte[] stunBinding() {
        byte[] b = new byte[20];
        b[1] = 0x01;
        b[4] = 0x21;
        b[5] = 0x12;
        b[6] = (byte) 0xA4;
        b[7] = 0x42;
        for (int i = 8; i < 20; i++) {
            b[i] = (byte) i;
        }
        return b;
    }

    private DatagramPacket packet(byte[] data) {
        return new DatagramPacket(Unpooled.wrappedBuffer(data), RECIPIENT, PEER);
    }

    private void receive() {
        shared.receive((from, data) -> {
            sources.add(from);
            received.add(data);
        });
    }

    @Test
    void stunGoesToTheReceiverAndNeverReachesQuiche() {
        receive();
        DatagramPacket p = packet(stunBinding());
        channel.writeInbound(p);
        assertThat(reachedCodec).isEmpty();
        assertThat(received).hasSize(1);
        assertThat(received.get(0)).isEqualTo(stunBinding());
        assertThat(sources).containsExactly(PEER);
        assertThat(p.refCnt()).as("released by the demultiplexer").isZero();
        assertThat(shared.counters().delivered()).isEqualTo(1);
    }

    @Test
    void everyFirstByteBelow64IsNotQuic() {
        receive();
        for (int first = 0; first <= SharedUdpSocket.MAX_FIRST_BYTE; first++) {
            channel.writeInbound(packet(new byte[] {(byte) first, 1, 2, 3}));
        }
        assertThat(reachedCodec).isEmpty();
        assertThat(received).hasSize(SharedUdpSocket.MAX_FIRST_BYTE + 1);
    }

    @Test
    void quicPacketsPassUnchanged() {
        receive();
        byte[] initial = new byte[1200];
        initial[0] = (byte) 0xC3; // long header, fixed bit, Initial
        initial[1] = 0;
        initial[4] = 1; // version 1
        Arrays.fill(initial, 5, 1200, (byte) 0x5A);
        byte[] shortHeader = {0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
        byte[] versionNegotiation = {(byte) 0x80, 0, 0, 0, 0, 4, 1, 2, 3, 4};
        List<DatagramPacket> sent = new ArrayList<>();
        for (byte[] b : List.of(initial, shortHeader, versionNegotiation, new byte[0])) {
            DatagramPacket p = packet(b.clone());
            sent.add(p);
            channel.writeInbound(p);
        }
        assertThat(received).isEmpty();
        assertThat(reachedCodec).containsExactlyElementsOf(sent);
        List<byte[]> contents = new ArrayList<>();
        for (DatagramPacket p : sent) {
            assertThat(p.refCnt()).as("still the codec's to release").isEqualTo(1);
            assertThat(p.sender()).isEqualTo(PEER);
            ByteBuf c = p.content();
            byte[] bytes = new byte[c.readableBytes()];
            c.getBytes(c.readerIndex(), bytes);
            contents.add(bytes);
            p.release();
        }
        assertThat(contents).containsExactly(initial, shortHeader, versionNegotiation, new byte[0]);
    }

    @Test
    void withNobodyReceivingTheDatagramIsDroppedAndCounted() {
        DatagramPacket p = packet(stunBinding());
        channel.writeInbound(p);
        assertThat(reachedCodec).isEmpty();
        assertThat(p.refCnt()).isZero();
        assertThat(shared.counters().unclaimed()).isEqualTo(1);
        assertThat(shared.counters().delivered()).isZero();
    }

    @Test
    void stoppedReceiversGetNothingMore() {
        List<byte[]> second = new ArrayList<>();
        receive();
        Runnable stop = shared.receive((from, data) -> second.add(data));
        channel.writeInbound(packet(stunBinding()));
        stop.run();
        stop.run();
        channel.writeInbound(packet(stunBinding()));
        assertThat(received).hasSize(2);
        assertThat(second).hasSize(1);
    }

    @Test
    void boundsOnReceiversSizeAndRateAreCounted() {
        for (int i = 0; i < SharedSocket.MAX_RECEIVERS; i++) {
            shared.receive((from, data) -> { });
        }
        assertThatThrownBy(() -> shared.receive((from, data) -> { }))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("receivers");
        byte[] large = new byte[SharedUdpSocket.MAX_DATAGRAM_SIZE + 1];
        channel.writeInbound(packet(large));
        assertThat(shared.counters().oversize()).isEqualTo(1);
        for (int i = 0; i < SharedSocket.MAX_DELIVERIES_PER_SECOND + 10; i++) {
            channel.writeInbound(packet(stunBinding()));
        }
        // at most the limit within one second; the test may straddle a second, which admits some more
        assertThat(shared.counters().overRate()).isBetween(0L, 10L);
        assertThat(shared.counters().overRate() + shared.counters().delivered() / SharedSocket.MAX_RECEIVERS)
                .isEqualTo(SharedSocket.MAX_DELIVERIES_PER_SECOND + 10);
        assertThat(reachedCodec).isEmpty();
    }

    @Test
    void aThrowingReceiverCostsOnlyItself() {
        shared.receive((from, data) -> {
            throw new IllegalStateException("broken receiver");
        });
        receive();
        channel.writeInbound(packet(stunBinding()));
        assertThat(received).hasSize(1);
        assertThat(shared.counters().receiverErrors()).isEqualTo(1);
    }

    @Test
    void sendsLeaveFromTheDemuxPastNoQuicHandler() throws Exception {
        CompletableFuture<Void> done = shared.send(PEER, stunBinding()).toCompletableFuture();
        channel.runPendingTasks();
        assertThat(done).isCompleted();
        DatagramPacket out = channel.readOutbound();
        assertThat(out.recipient()).isEqualTo(PEER);
        byte[] bytes = new byte[out.content().readableBytes()];
        out.content().readBytes(bytes);
        out.release();
        assertThat(bytes).isEqualTo(stunBinding());
        assertThat(writtenPastDemux).isEmpty();
        assertThat(shared.counters().sent()).isEqualTo(1);
    }

    @Test
    void whatWouldPassForQuicOrIsTooLargeIsNotSent() {
        assertThatThrownBy(() -> shared.send(PEER, new byte[] {0x40, 0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("QUIC");
        assertThatThrownBy(() -> shared.send(PEER, new byte[] {(byte) 0xC0, 0}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> shared.send(PEER, new byte[0])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> shared.send(PEER, new byte[SharedUdpSocket.MAX_DATAGRAM_SIZE + 1]))
                .isInstanceOf(IllegalArgumentException.class);
        channel.runPendingTasks();
        assertThat((Object) channel.readOutbound()).isNull();
    }

    @Test
    void sendsWaitingBeyondTheQueueBoundAreRefused() {
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        for (int i = 0; i <= SharedSocket.MAX_PENDING_SENDS; i++) {
            sends.add(shared.send(PEER, stunBinding()).toCompletableFuture());
        }
        CompletableFuture<Void> last = sends.get(sends.size() - 1);
        assertThat(last).isCompletedExceptionally();
        assertThatThrownBy(last::get).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(TransportException.LimitExceeded.class)
                .hasMessageContaining("sharedSocketPendingSends");
        channel.runPendingTasks();
        assertThat(sends.subList(0, SharedSocket.MAX_PENDING_SENDS))
                .allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        assertThat(shared.counters().sendsRefused()).isEqualTo(1);
        releaseOutbound();
    }

    @Test
    void sendsBeyondTheRateAreRefused() {
        int refused = 0;
        for (int i = 0; i < SharedSocket.MAX_SENDS_PER_SECOND + 10; i++) {
            CompletableFuture<Void> f = shared.send(PEER, stunBinding()).toCompletableFuture();
            channel.runPendingTasks();
            if (f.isCompletedExceptionally()) {
                refused++;
                assertThatThrownBy(f::get).hasCauseInstanceOf(TransportException.LimitExceeded.class);
            }
        }
        assertThat(refused).isBetween(1, 10);
        releaseOutbound();
    }

    @Test
    void afterTheSocketClosedSendsFailAndNothingIsDelivered() {
        receive();
        channel.close();
        assertThat(shared.isClosed()).isTrue();
        CompletableFuture<Void> f = shared.send(PEER, stunBinding()).toCompletableFuture();
        assertThatThrownBy(f::get).hasCauseInstanceOf(TransportException.Io.class).hasMessageContaining("closed");
    }

    private void releaseOutbound() {
        for (Object o = channel.readOutbound(); o != null; o = channel.readOutbound()) {
            ((DatagramPacket) o).release();
        }
    }
}
