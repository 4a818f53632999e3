package io.kizuna.tcp.internal;

import java.time.Duration;
import java.util.Optional;

import io.kizuna.transport.ConnectionInfo;

import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/**
 * The TCP sockets the transport runs on: Java NIO by default, or Netty's epoll
 * transport when the configuration asks for it ({@code epoll}) and it loads. Epoll
 * sockets tell the kernel's TCP_INFO (round-trip time, congestion window); on NIO
 * {@link ConnectionInfo#rtt()} and {@link ConnectionInfo#bandwidth()} stay empty.
 *
 * <p>Epoll is off by default because Netty 4.2.18's epoll transport can fail a
 * write after the peer's FIN on a half-closed socket ({@code epoll_ctl(..) failed
 * with error(-2)}, then the output is shut down): a peer that ends its direction
 * and waits for a large answer (perf) could lose it.
 *
 * <p>The epoll classes come from an optional import: {@link EpollSockets} is the
 * only class that names them, and it is loaded only after they were found.
 *
 * @param ioHandler     the event loops' I/O handler
 * @param serverChannel the listening channel class
 * @param channel       the connection channel class
 * @param epoll         whether these are epoll sockets, which report TCP_INFO
 * @param description   a line for operators: which sockets, and why not epoll where it is off
 */
record SocketIo(IoHandlerFactory ioHandler, Class<? extends ServerSocketChannel> serverChannel,
        Class<? extends SocketChannel> channel, boolean epoll, String description) {

    /**
     * @param epollWanted whether the configuration asks for epoll sockets
     * @return epoll sockets where wanted and they load, otherwise NIO, saying why
     */
    static SocketIo choose(boolean epollWanted) {
        if (!epollWanted) {
            return nio("epoll is off in the configuration");
        }
        String problem = EpollSockets.problem();
        return problem == null ? EpollSockets.io() : nio(problem);
    }

    /**
     * @param whyNotEpoll the reason, for operators
     * @return Java NIO sockets
     */
    static SocketIo nio(String whyNotEpoll) {
        return new SocketIo(NioIoHandler.newFactory(), NioServerSocketChannel.class, NioSocketChannel.class, false,
                "nio TCP sockets, no TCP_INFO: " + whyNotEpoll);
    }

    /**
     * What the kernel measured on a connection's socket.
     *
     * @param rtt       the smoothed round-trip time
     * @param bandwidth the congestion window's worth of bytes per round trip, in bytes per second
     */
    record Measured(Duration rtt, long bandwidth) {
    }

    /**
     * @param ch a connection's channel
     * @return its TCP_INFO figures; empty on NIO, on a closed socket, or before the first RTT sample
     */
    Optional<Measured> measure(Channel ch) {
        return epoll ? EpollSockets.measure(ch) : Optional.empty();
    }
}
