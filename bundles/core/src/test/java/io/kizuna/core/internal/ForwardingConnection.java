package io.kizuna.core.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;

/** A connection that forwards every call to another: test transports override what they change. */
abstract class ForwardingConnection implements Connection {

    final Connection first;

    ForwardingConnection(Connection first) {
        this.first = first;
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
        return first.close();
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
        return first.closeFuture();
    }
}
