package io.kizuna.examples.unix.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.netty.channel.Channel;

/**
 * A bound Unix domain server socket; closing it stops accepting (accepted
 * connections stay) and removes its socket file.
 */
final class UnixListener implements Listener {

    private static final System.Logger LOG = System.getLogger(UnixListener.class.getName());

    private final Channel channel;
    private final Endpoint endpoint;
    private final Path socket;

    /**
     * @param channel the bound server channel
     * @param number  its socket number, the endpoint's port
     * @param socket  its socket file, removed once the channel closes
     */
    UnixListener(Channel channel, int number, Path socket) {
        this.channel = channel;
        this.endpoint = new Endpoint(UnixTransport.PROTOCOL_NAME,
                new InetSocketAddress(UnixConnection.LOOPBACK, number));
        this.socket = socket;
        channel.closeFuture().addListener(f -> {
            try {
                Files.deleteIfExists(socket);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot remove the socket file {0}: {1}", socket, e.getMessage());
            }
        });
    }

    /** @return the server channel */
    Channel channel() {
        return channel;
    }

    /** @return the socket file */
    Path socket() {
        return socket;
    }

    @Override
    public InetSocketAddress localAddress() {
        return endpoint.address();
    }

    @Override
    public Endpoint endpoint() {
        return endpoint;
    }

    @Override
    public CompletionStage<Void> close() {
        if (!channel.isOpen()) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> closed = new CompletableFuture<>();
        channel.close().addListener(f -> closed.complete(null));
        return closed;
    }

    @Override
    public String toString() {
        return "unix listener " + endpoint + " (" + socket + ")";
    }
}
