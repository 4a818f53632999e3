package io.kizuna.core.internal.memory;

import io.kizuna.core.internal.testing.TestIds;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.testing.TransportContractTest;

/** The in-memory transport meets the contract every transport meets. */
class MemoryTransportTest extends TransportContractTest {

    @Override
    protected Transport newNode() {
        return new MemoryTransport(TestIds.newPeerId(), MemoryTransport.PROTOCOL_NAME, 10);
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((MemoryTransport) transport).localPeer();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((MemoryTransport) transport).shutdown();
    }

    @Override
    protected long writerBufferBound() {
        // A write completes once all its bytes are in the pipe: at most one pipe's worth
        // is accepted while the reader reads nothing (twice that, as margin).
        return 2L * MemoryTransport.DEFAULT_PIPE_CAPACITY;
    }
}
