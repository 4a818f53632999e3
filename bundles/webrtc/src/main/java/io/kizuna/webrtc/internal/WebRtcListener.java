package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.netty.channel.Channel;

/**
 * A {@code webrtc://ip:port} endpoint: the WebSocket signaling server at that
 * TCP address. Peer connections answered through it reach the acceptor once their
 * first DataChannel is open and verified; closing the listener stops new ones and
 * leaves established ones open.
 */
final class WebRtcListener implements Listener {

    private final Channel server;
    private final Consumer<Connection> acceptor;
    private final Endpoint endpoint;
    private final SignalingGate gate;
    private volatile boolean open = true;

    WebRtcListener(Channel server, Consumer<Connection> acceptor, SignalingGate gate) {
        this.server = server;
        this.acceptor = acceptor;
        this.gate = gate;
        this.endpoint = new Endpoint(WebRtcTransport.PROTOCOL_NAME, localAddress());
    }

    /** @return what the signaling server lets through before an upgrade, with its counters */
    SignalingGate gate() {
        return gate;
    }

    /**
     * Hands an established connection to the acceptor, or closes it when the
     * listener closed meanwhile.
     */
    void accepted(WebRtcConnection c) {
        if (open) {
            acceptor.accept(c);
        } else {
            c.abort();
        }
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) server.localAddress();
    }

    @Override
    public Endpoint endpoint() {
        return endpoint;
    }

    @Override
    public CompletionStage<Void> close() {
        open = false;
        CompletableFuture<Void> f = new CompletableFuture<>();
        server.close().addListener(x -> f.complete(null));
        return f;
    }
}
