package io.kizuna.websocket.internal;

import io.kizuna.transport.support.tls.NettyTls;

/** The transport contract over wss with TLS on the JDK's engine. */
class WebSocketContractJdkTest extends WebSocketContractTest {

    @Override
    NettyTls engine() {
        return WsTestTls.jdk();
    }
}
