package io.kizuna.websocket.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.netty.channel.Channel;

/** A bound wss server socket; closing it stops accepting, accepted connections stay. */
final class WssListener implements Listener {

    private final Channel channel;
    private final InetSocketAddress localAddress;
    private final Endpoint endpoint;

    WssListener(Channel channel) {
        this.channel = channel;
        this.localAddress = (InetSocketAddress) channel.localAddress();
        this.endpoint = new Endpoint(WebSocketTransport.PROTOCOL_NAME, localAddress);
    }

    @Override
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    @Override
    public Endpoint endpoint() {
        return endpoint;
    }

    @Override
    public CompletionStage<Void> close() {
        if (!channel.isOpen()) {
            return CompletableFuture.completedFuture(null); // also when the transport stopped and took it along
        }
        CompletableFuture<Void> closed = new CompletableFuture<>();
        channel.close().addListener(f -> closed.complete(null));
        return closed;
    }

    @Override
    public String toString() {
        return "websocket listener " + endpoint;
    }
}
