package io.kizuna.webrtc.internal;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.MultiplexedConnection;

/**
 * A WebRTC peer connection as the API sees it: its first DataChannel is the
 * connection's own stream, further streams are further DataChannels on the same
 * peer connection (no new signaling, ICE or DTLS). Ending the first stream closes
 * the peer connection.
 */
final class WebRtcConnection implements MultiplexedConnection {

    private static final System.Logger LOG = System.getLogger(WebRtcConnection.class.getName());

    private final WebRtcPeer peer;
    private final DataChannelStream first;
    private volatile Consumer<Connection> acceptor;

    WebRtcConnection(WebRtcPeer peer, DataChannelStream first) {
        this.peer = peer;
        this.first = first;
    }

    /** @return the candidate pair ICE selected, as {@code <type> ip:port -> <type> ip:port} */
    String candidatePair() {
        return peer.candidatePair();
    }

    /**
     * Asks libwebrtc which candidate pair carries the connection now; ICE may switch pairs, so each call reads it
     * afresh (and {@link #info()}'s path follows).
     *
     * @return the selected pair, or empty when none is (closed, or the path lost)
     */
    CompletionStage<Optional<CandidatePair>> selectedCandidatePair() {
        return peer.selectedCandidatePair();
    }

    DataChannelStream first() {
        return first;
    }

    void incoming(DataChannelStream s) {
        Consumer<Connection> a = acceptor;
        if (a == null) {
            LOG.log(System.Logger.Level.DEBUG, "closing a DataChannel from {0}: nobody takes further streams",
                    peer.remote().shortForm());
            s.abort("the peer accepts no further streams");
            return;
        }
        a.accept(s);
    }

    @Override
    public CompletionStage<Connection> openStream() {
        return peer.openStream().thenApply(s -> s);
    }

    @Override
    public void onStream(Consumer<Connection> acceptor) {
        this.acceptor = acceptor;
    }

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        return first.read(dst);
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        return first.write(src);
    }

    @Override
    public CompletionStage<Void> flush() {
        return first.flush();
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        return first.shutdownOutput();
    }

    @Override
    public CompletionStage<Void> close() {
        return first.close().thenCompose(v -> peer.closeFuture());
    }

    @Override
    public boolean isConnected() {
        return first.isConnected();
    }

    @Override
    public ConnectionInfo info() {
        return first.info();
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return first.closeFuture().thenCompose(v -> peer.closeFuture());
    }

    /** Closes the peer connection at once. */
    void abort() {
        peer.close();
    }

    @Override
    public String toString() {
        return "WebRTC connection with " + peer.remote().shortForm() + " over " + peer.candidatePair();
    }
}
