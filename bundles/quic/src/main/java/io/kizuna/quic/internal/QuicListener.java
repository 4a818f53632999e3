package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.netty.channel.Channel;

/**
 * A bound UDP socket that accepts QUIC connections. Closing it stops accepting;
 * the connections it accepted share its socket, so the socket itself stays open
 * until the last of them has closed. While it accepts, its socket is also shared
 * with other bundles ({@link SharedSocket}); closing it ends that too.
 */
final class QuicListener implements Listener {

    private final Channel channel;
    private final InetSocketAddress localAddress;
    private final Endpoint endpoint;
    private final SharedSocket shared;
    private final Runnable unpublish;
    private final AtomicInteger connections = new AtomicInteger();
    private volatile boolean accepting = true;

    /**
     * @param channel   the bound socket
     * @param shared    the socket as other bundles use it
     * @param unpublish withdraws {@code shared} from other bundles; run once
     */
    QuicListener(Channel channel, SharedSocket shared, Runnable unpublish) {
        this.channel = channel;
        this.localAddress = (InetSocketAddress) channel.localAddress();
        this.endpoint = new Endpoint(QuicTransport.PROTOCOL_NAME, localAddress);
        this.shared = shared;
        this.unpublish = unpublish;
        channel.closeFuture().addListener(f -> unshare());
    }

    Channel channel() {
        return channel;
    }

    /** @return the socket as other bundles use it while this listener accepts */
    SharedSocket sharedSocket() {
        return shared;
    }

    private void unshare() {
        shared.close();
        unpublish.run();
    }

    /** @return false once closed: new connections are refused */
    boolean accepting() {
        return accepting;
    }

    /** A connection was accepted on this socket. */
    void connectionOpened() {
        connections.incrementAndGet();
    }

    /** A connection accepted on this socket closed: the socket goes with the last one once closed. */
    void connectionClosed() {
        if (connections.decrementAndGet() == 0 && !accepting) {
            channel.close();
        }
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
        accepting = false;
        unshare();
        if (connections.get() == 0) {
            CompletableFuture<Void> closed = new CompletableFuture<>();
            channel.close().addListener(f -> closed.complete(null));
            return closed;
        }
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public String toString() {
        return "quic listener " + endpoint;
    }
}
