package io.kizuna.webrtc.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.testing.TransportContractTest;

/** The shared transport contract, between two WebRTC nodes on loopback. */
class WebRtcContractTest extends TransportContractTest {

    private final Map<Transport, NodeIdentity> identities = new ConcurrentHashMap<>();

    /** Settings for tests: ICE candidates on loopback only, so no packet leaves the machine. */
    static WebRtcSettings loopbackSettings() {
        return WebRtcSettings.defaults().withLoopbackCandidates(true);
    }

    @Override
    protected Transport newNode() {
        NodeIdentity id = Identities.generate();
        WebRtcTransport t = new WebRtcTransport(id, loopbackSettings());
        identities.put(t, id);
        return t;
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return identities.get(transport).peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((WebRtcTransport) transport).deactivate();
    }

    @Override
    protected long writerBufferBound() {
        // libwebrtc's buffer (high-water mark plus one message) and the peer's receive window
        WebRtcSettings s = loopbackSettings();
        return s.writeHighWaterMark() + s.maxMessageSize() + s.receiveWindow();
    }
}
