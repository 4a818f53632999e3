package io.kizuna.relay.internal;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.testing.TransportContractTest;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The transport contract over the relay: each node is a peer with TCP and the
 * relay transport; listening is a reservation on one relay node on 127.0.0.1,
 * and every connection is a circuit through it with end-to-end TLS.
 */
class RelayTransportContractTest extends TransportContractTest {

    private static TestNode relay;
    private final Map<Transport, TestNode> nodes = new ConcurrentHashMap<>();

    @BeforeAll
    static void startRelay() {
        relay = TestNode.relay(TestNode.loopbackRelay().build(), Splice.Tap.NONE);
    }

    @AfterAll
    static void stopRelay() {
        relay.close();
    }

    @Override
    protected Transport newNode() {
        TestNode n = TestNode.peer();
        nodes.put(n.relayTransport, n);
        return n.relayTransport;
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return nodes.get(transport).id();
    }

    @Override
    protected void disposeNode(Transport transport) {
        nodes.remove(transport).close();
    }

    @Override
    protected Endpoint listenEndpoint(Transport node) {
        return relay.relayEndpoint();
    }

    @Override
    protected Endpoint endpointAt(Transport node, InetSocketAddress address) {
        // A relay that is not there: its PeerId is known, nothing listens at its port.
        return Endpoint.via("relay", PeerAddress.of(relay.id(), new Endpoint("tcp", address)));
    }

    /** Two TCP hops (dialer to relay, relay to listener), each with its kernel buffers on both sides. */
    @Override
    protected long writerBufferBound() {
        return 32L * MIB;
    }

    @Override
    protected boolean routesByPeerId() {
        return true;
    }
}
