package io.kizuna.tcp.internal;

/** The TCP transport's tests again, on Java NIO sockets: what runs where Netty's epoll transport does not. */
class TcpNioTransportTest extends TcpTransportTest {

    @Override
    SocketIo io() {
        return SocketIo.nio("chosen by the test");
    }
}
