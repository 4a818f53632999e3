package io.kizuna.nat.internal.punch;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.MultiplexedConnection;

/**
 * A QUIC connection a hole punch set up, as the transport returned it, whose
 * {@link #info()} also says how its path was made ({@code punched, round 1}).
 * Everything else goes to the QUIC connection unchanged, streams included.
 */
final class PunchedConnection implements MultiplexedConnection {

    private final MultiplexedConnection quic;
    private final String path;

    private PunchedConnection(MultiplexedConnection quic, String path) {
        this.quic = quic;
        this.path = path;
    }

    /**
     * @param c     the connection dialed from the punch socket
     * @param round the punch round that found the path
     * @return {@code c}, saying it was punched; a connection that carries no streams is returned as it is
     */
    static Connection of(Connection c, int round) {
        return c instanceof MultiplexedConnection m ? new PunchedConnection(m, "punched, round " + round) : c;
    }

    @Override
    public ConnectionInfo info() {
        return quic.info().withPath(Optional.of(path));
    }

    @Override
    public CompletionStage<Connection> openStream() {
        return quic.openStream();
    }

    @Override
    public void onStream(Consumer<Connection> acceptor) {
        quic.onStream(acceptor);
    }

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        return quic.read(dst);
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        return quic.write(src);
    }

    @Override
    public CompletionStage<Void> flush() {
        return quic.flush();
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        return quic.shutdownOutput();
    }

    @Override
    public CompletionStage<Void> close() {
        return quic.close();
    }

    @Override
    public boolean isConnected() {
        return quic.isConnected();
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return quic.closeFuture();
    }

    @Override
    public String toString() {
        return quic + " (" + path + ")";
    }
}
