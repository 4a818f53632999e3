package io.kizuna.transport.support;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.netty.channel.Channel;

/** A bound server socket; closing it stops accepting, accepted connections stay. */
public final class SocketListener implements Listener {

    private final Channel channel;
    private final InetSocketAddress localAddress;
    private final Endpoint endpoint;

    /**
     * @param channel  the bound server channel
     * @param protocol the transport's protocol name, for its endpoint
     */
    public SocketListener(Channel channel, String protocol) {
        this.channel = channel;
        this.localAddress = (InetSocketAddress) channel.localAddress();
        this.endpoint = new Endpoint(protocol, localAddress);
    }

    /** @return the server channel */
    public Channel channel() {
        return channel;
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
        return endpoint.protocol() + " listener " + endpoint;
    }
}
