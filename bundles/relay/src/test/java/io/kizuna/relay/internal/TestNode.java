package io.kizuna.relay.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import io.kizuna.core.internal.RelayTestManagers;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.tcp.internal.RelayTestTcp;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;

/**
 * A node for the relay's tests: a real connection manager with the real TCP
 * transport on 127.0.0.1, and either a relay server (a relay node) or a relay
 * transport (a peer), or both.
 */
final class TestNode implements AutoCloseable {

    final NodeIdentity identity;
    final ConnectionManager manager;
    final Transport tcp;
    RelayTransport relayTransport;
    RelayServer server;
    private ScheduledThreadPoolExecutor timer;
    private ExecutorService pool;
    private final List<Runnable> closers = new ArrayList<>();

    private TestNode(NodeIdentity identity, List<Endpoint> listen) {
        this.identity = identity;
        this.manager = RelayTestManagers.start(identity.peerId(), listen);
        this.tcp = RelayTestTcp.start(identity);
        RelayTestManagers.bind(manager, tcp);
    }

    /** Loopback relay settings: private sources allowed, no per-source rate limit. */
    static RelaySettings.Builder loopbackRelay() {
        RelaySettings.Builder b = RelaySettings.builder();
        b.allowPrivateAddresses = true;
        b.streamsPerSource = 0;
        return b;
    }

    /** A relay node on a free port. */
    static TestNode relay(RelaySettings settings, Splice.Tap tap) {
        return relay(Identities.generate(), 0, settings, tap);
    }

    /** A relay node with a given key and port (port 0: a free one). */
    static TestNode relay(NodeIdentity id, int port, RelaySettings settings, Splice.Tap tap) {
        TestNode n = new TestNode(id, List.of(Endpoint.parse("tcp://127.0.0.1:" + port)));
        n.timer = new ScheduledThreadPoolExecutor(1);
        n.timer.setRemoveOnCancelPolicy(true);
        n.pool = Executors.newFixedThreadPool(2);
        n.server = new RelayServer(settings, n.timer, n.pool, tap);
        RelayTestManagers.handle(n.manager, (stream, protocol) -> n.server.handle(stream), RelayCodec.PROTOCOL);
        n.awaitListening();
        return n;
    }

    /** A node that hands every relay stream to {@code handler} instead of a relay server (a scripted relay). */
    static TestNode scripted(io.kizuna.transport.StreamHandler handler) {
        TestNode n = new TestNode(Identities.generate(), List.of(Endpoint.parse("tcp://127.0.0.1:0")));
        RelayTestManagers.handle(n.manager, handler, RelayCodec.PROTOCOL);
        n.awaitListening();
        return n;
    }

    /** A peer with TCP on a free port and the relay transport; extra listen endpoints are bound too. */
    static TestNode peer(ClientSettings settings, Endpoint... alsoListen) {
        return peer(Identities.generate(), settings, alsoListen);
    }

    /** A peer with a given key. */
    static TestNode peer(NodeIdentity id, ClientSettings settings, Endpoint... alsoListen) {
        List<Endpoint> listen = new ArrayList<>(List.of(Endpoint.parse("tcp://127.0.0.1:0")));
        listen.addAll(List.of(alsoListen));
        TestNode n = new TestNode(id, listen);
        n.relayTransport = new RelayTransport(n.manager, n.identity, settings);
        RelayTestManagers.bind(n.manager, n.relayTransport);
        n.awaitListening();
        return n;
    }

    static TestNode peer(Endpoint... alsoListen) {
        return peer(ClientSettings.defaults(), alsoListen);
    }

    private void awaitListening() {
        try {
            manager.startListening().toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("node did not listen: " + e, e);
        }
    }

    PeerId id() {
        return identity.peerId();
    }

    /** @return this node's TCP address (its id and its tcp endpoint) */
    PeerAddress tcpAddress() {
        return manager.localAddress().only("tcp");
    }

    InetSocketAddress tcpSocket() {
        return tcpAddress().endpoints().get(0).address();
    }

    /** @return the relay endpoint that reaches a peer through this relay node */
    Endpoint relayEndpoint() {
        return Endpoint.via("relay", tcpAddress());
    }

    void onClose(Runnable r) {
        closers.add(r);
    }

    @Override
    public void close() {
        closers.forEach(Runnable::run);
        if (server != null) {
            try {
                server.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
            } catch (Exception e) {
                // the streams close with the manager below anyway
            }
        }
        if (relayTransport != null) {
            RelayTestManagers.unbind(manager, relayTransport);
            relayTransport.deactivate();
        }
        RelayTestManagers.stop(manager);
        RelayTestTcp.stop(tcp);
        if (timer != null) {
            timer.shutdownNow();
            pool.shutdownNow();
        }
    }

    static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
