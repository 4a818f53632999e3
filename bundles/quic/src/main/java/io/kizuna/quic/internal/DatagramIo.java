package io.kizuna.quic.internal;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.SegmentedDatagramPacketAllocator;

/**
 * The UDP sockets QUIC runs on: Java NIO everywhere, or Netty's epoll transport
 * where it loads, which lets the kernel cut one large send into packets (UDP
 * generic segmentation offload, GSO) instead of one system call per packet.
 *
 * <p>The epoll classes come from an optional import: {@link EpollIo} is the only
 * class that names them, and it is loaded only after they were found.
 *
 * @param ioHandler   the event loops' I/O handler
 * @param channelType the UDP channel class
 * @param segments    how sends are segmented; {@link SegmentedDatagramPacketAllocator#NONE} without GSO
 * @param description a line for operators: which sockets, and why not GSO where it is off
 */
record DatagramIo(IoHandlerFactory ioHandler, Class<? extends DatagramChannel> channelType,
        SegmentedDatagramPacketAllocator segments, String description) {

    /** Packets per GSO send: what the kernel accepts (UDP_MAX_SEGMENTS is 64) with room to spare. */
    static final int MAX_SEGMENTS = 32;

    /** @return whether sends are segmented by the kernel */
    boolean segmentationOffload() {
        return segments != SegmentedDatagramPacketAllocator.NONE;
    }

    /**
     * @param wanted whether the configuration asks for segmentation offload
     * @return epoll with GSO where wanted and available, otherwise NIO, saying why
     */
    static DatagramIo choose(boolean wanted) {
        if (!wanted) {
            return nio("segmentation offload is off in the configuration");
        }
        String problem = EpollIo.problem();
        if (problem != null) {
            return nio(problem);
        }
        return EpollIo.withSegmentation(MAX_SEGMENTS);
    }

    static DatagramIo nio(String whyNotOffload) {
        return new DatagramIo(NioIoHandler.newFactory(), NioDatagramChannel.class,
                SegmentedDatagramPacketAllocator.NONE, "nio UDP sockets, no segmentation offload: " + whyNotOffload);
    }
}
