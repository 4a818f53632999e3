package io.kizuna.tcp.internal;

import io.kizuna.transport.support.tls.NettyTls;

/** The listener's side of mutual authentication with TLS on the JDK's engine. */
class TcpAuthenticationJdkTest extends TcpAuthenticationTest {

    @Override
    NettyTls engine() {
        return TestTls.jdk();
    }
}
