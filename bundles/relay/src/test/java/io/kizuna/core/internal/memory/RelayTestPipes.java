package io.kizuna.core.internal.memory;

import java.net.InetSocketAddress;

import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;

/**
 * In-memory connections with chosen addresses for the relay's tests, so a relay
 * server can be shown streams from many source addresses without sockets
 * (the memory transport's pair factory is package-private).
 */
public final class RelayTestPipes {

    private static final int CAPACITY = 256 * 1024;

    private RelayTestPipes() {
    }

    /**
     * @param client        the PeerId at the dialing end
     * @param clientAddress the dialing end's address, as the other end sees it
     * @param server        the PeerId at the accepting end
     * @param serverAddress the accepting end's address
     * @return the client's end at [0], the server's end at [1] (its {@code info()} names the client and its address)
     */
    public static Connection[] pair(PeerId client, InetSocketAddress clientAddress, PeerId server,
            InetSocketAddress serverAddress) {
        MemoryTransport t = new MemoryTransport(client, MemoryTransport.PROTOCOL_NAME, 1);
        return MemoryConnection.pair(t, client, clientAddress, t, server, serverAddress, CAPACITY);
    }
}
