package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.Transport;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;

/** Builds QUIC transports outside the framework for the NAT bundle's tests. */
public final class NatTestQuic {

    private NatTestQuic() {
    }

    /** @return a QUIC transport with default settings for this identity */
    public static Transport start(NodeIdentity identity) {
        return new QuicTransport(identity, QuicSettings.defaults());
    }

    /**
     * @param t        a transport from {@link #start}
     * @param local    where to listen
     * @param acceptor gets the accepted connections
     * @return the listener
     */
    public static CompletionStage<Listener> listen(Transport t, InetSocketAddress local,
            Consumer<Connection> acceptor) {
        return t.listen(local, acceptor);
    }

    /** @return the socket of a listener, as the framework would offer it to other bundles */
    public static SharedUdpSocket sharedSocket(Listener listener) {
        return ((QuicListener) listener).sharedSocket();
    }

    /** @return the punch sockets of a transport from {@link #start}, as the framework would offer them */
    public static PunchSockets punchSockets(Transport t) {
        return ((QuicTransport) t).punchSockets();
    }

    /** Stops it: connections close, event loops stop. */
    public static void stop(Transport t) {
        ((QuicTransport) t).deactivate();
    }
}
