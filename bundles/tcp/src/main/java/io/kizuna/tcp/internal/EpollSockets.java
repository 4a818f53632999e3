package io.kizuna.tcp.internal;

import java.time.Duration;
import java.util.Optional;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.epoll.EpollTcpInfo;

/**
 * Netty's epoll transport, named only here: {@link SocketIo} asks
 * {@link #problem()} first and loads nothing else of this class when the epoll
 * classes are missing (the bundle imports them optionally).
 */
final class EpollSockets {

    private EpollSockets() {
    }

    /** @return null when epoll sockets can be used, otherwise why not */
    static String problem() {
        try {
            Class.forName("io.netty.channel.epoll.Epoll", false, EpollSockets.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return "Netty's epoll transport is not installed";
        }
        try {
            return Epoll.isAvailable() ? null
                    : "Netty's epoll transport does not load here: " + Epoll.unavailabilityCause();
        } catch (LinkageError e) {
            return "Netty's epoll transport does not load here: " + e;
        }
    }

    /** @return epoll sockets */
    static SocketIo io() {
        return new SocketIo(EpollIoHandler.newFactory(), EpollServerSocketChannel.class, EpollSocketChannel.class,
                true, "epoll TCP sockets, with TCP_INFO");
    }

    /**
     * Reads TCP_INFO: the smoothed RTT (microseconds), and as bandwidth the
     * congestion window (segments of the send MSS) over that RTT.
     *
     * @param ch an epoll socket channel
     * @return the figures, empty before the first RTT sample or once the socket is closed
     */
    static Optional<SocketIo.Measured> measure(Channel ch) {
        if (!(ch instanceof EpollSocketChannel socket) || !socket.isOpen()) {
            return Optional.empty();
        }
        EpollTcpInfo info;
        try {
            info = socket.tcpInfo();
        } catch (ChannelException e) {
            return Optional.empty(); // closed in between
        }
        long rttMicros = info.rtt();
        if (rttMicros <= 0) {
            return Optional.empty();
        }
        long windowBytes = info.sndCwnd() * info.sndMss();
        long bandwidth = windowBytes * 1_000_000L / rttMicros;
        return Optional.of(new SocketIo.Measured(Duration.ofNanos(rttMicros * 1000L), bandwidth));
    }
}
