package io.kizuna.quic.internal;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.handler.codec.quic.EpollQuicUtils;

/**
 * Netty's epoll transport, named only here: {@link DatagramIo} asks
 * {@link #problem()} first and loads nothing else of this class when the epoll
 * classes are missing (the bundle imports them optionally).
 */
final class EpollIo {

    private EpollIo() {
    }

    /** @return null when epoll and GSO can be used, otherwise why not */
    static String problem() {
        try {
            Class.forName("io.netty.channel.epoll.Epoll", false, EpollIo.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "Netty's epoll transport is not installed";
        }
        try {
            if (!Epoll.isAvailable()) {
                return "Netty's epoll transport does not load here: " + Epoll.unavailabilityCause();
            }
            if (!EpollDatagramChannel.isSegmentedDatagramPacketSupported()) {
                return "this kernel does not offer UDP segmentation offload";
            }
            return null;
        } catch (LinkageError e) {
            return "Netty's epoll transport does not load here: " + e;
        }
    }

    /**
     * @param maxSegments packets per send
     * @return epoll sockets whose sends the kernel segments
     */
    static DatagramIo withSegmentation(int maxSegments) {
        return new DatagramIo(EpollIoHandler.newFactory(), EpollDatagramChannel.class,
                EpollQuicUtils.newSegmentedAllocator(maxSegments),
                "epoll UDP sockets with segmentation offload, up to " + maxSegments + " packets per send");
    }
}
