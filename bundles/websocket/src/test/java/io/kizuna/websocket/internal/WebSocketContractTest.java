package io.kizuna.websocket.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.support.tls.NettyTls;
import io.kizuna.transport.testing.TransportContractTest;

/**
 * The transport contract over wss, with the default settings, TLS on OpenSSL
 * (on the JDK's engine in {@link WebSocketContractJdkTest}).
 */
class WebSocketContractTest extends TransportContractTest {

    /** @return the TLS engine the nodes of this test run on */
    NettyTls engine() {
        return WsTestTls.openssl();
    }

    @Override
    protected Transport newNode() {
        try {
            return new WebSocketTransport(Identities.generate(), WebSocketSettings.defaults(), engine());
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((WebSocketTransport) transport).identity().peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((WebSocketTransport) transport).deactivate();
    }
}
