package io.kizuna.websocket.internal;

import io.kizuna.transport.support.tls.NettyTls;

/** The listener's side of mutual authentication over wss with TLS on the JDK's engine. */
class WebSocketAuthenticationJdkTest extends WebSocketAuthenticationTest {

    @Override
    NettyTls engine() {
        return WsTestTls.jdk();
    }
}
