package io.kizuna.core.internal;

import java.util.Optional;

import io.kizuna.core.internal.memory.MemoryTransport;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;

/** A test transport on a memory transport, whose name, priority and state it takes. */
abstract class OnMemory implements Transport {

    final MemoryTransport inner;

    OnMemory(MemoryTransport inner) {
        this.inner = inner;
    }

    @Override
    public String protocolName() {
        return inner.protocolName();
    }

    @Override
    public int priority() {
        return inner.priority();
    }

    @Override
    public TransportCapabilities capabilities() {
        return inner.capabilities();
    }

    @Override
    public boolean isAvailable() {
        return inner.isAvailable();
    }

    @Override
    public Optional<String> unavailableReason() {
        return inner.unavailableReason();
    }
}
