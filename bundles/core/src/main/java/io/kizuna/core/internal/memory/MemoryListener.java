package io.kizuna.core.internal.memory;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;

/** A memory-transport listener: a port in the {@link MemoryHub} and who accepts there. */
final class MemoryListener implements Listener {

    private final MemoryTransport transport;
    private final InetSocketAddress address;
    private final Consumer<Connection> acceptor;
    private volatile boolean open = true;

    MemoryListener(MemoryTransport transport, InetSocketAddress address, Consumer<Connection> acceptor) {
        this.transport = transport;
        this.address = address;
        this.acceptor = acceptor;
    }

    MemoryTransport transport() {
        return transport;
    }

    Consumer<Connection> acceptor() {
        return acceptor;
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public InetSocketAddress localAddress() {
        return address;
    }

    @Override
    public Endpoint endpoint() {
        return new Endpoint(transport.protocolName(), address);
    }

    @Override
    public CompletionStage<Void> close() {
        open = false;
        transport.unbind(this);
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public String toString() {
        return "memory listener " + endpoint();
    }
}
