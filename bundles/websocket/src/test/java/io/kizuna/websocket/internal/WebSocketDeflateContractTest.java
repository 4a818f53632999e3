package io.kizuna.websocket.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.testing.TransportContractTest;

/** The transport contract over wss with permessage-deflate negotiated on every connection. */
class WebSocketDeflateContractTest extends TransportContractTest {

    @Override
    protected Transport newNode() {
        try {
            return new WebSocketTransport(Identities.generate(), WebSocketSettings.defaults().withDeflate(true));
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
