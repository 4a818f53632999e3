package io.kizuna.tcp.internal;

import io.kizuna.transport.support.tls.NettyTls;

/** The transport contract over TCP, and TCP's own tests, with TLS on the JDK's engine. */
class TcpTransportJdkTest extends TcpTransportTest {

    @Override
    NettyTls engine() {
        return TestTls.jdk();
    }
}
