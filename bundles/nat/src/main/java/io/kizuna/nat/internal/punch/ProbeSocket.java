package io.kizuna.nat.internal.punch;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.udp.DatagramReceiver;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * The UDP socket a punch sends its probes from and receives the peer's on: on
 * the side that will dial, a {@link io.kizuna.transport.udp.PunchSocket}; on the
 * other, the listener's {@link SharedUdpSocket}. Only what a punch needs, so a
 * test can give it a fake network.
 */
interface ProbeSocket {

    /** @return the socket's bound address, with its real port */
    InetSocketAddress localAddress();

    /**
     * Sends one datagram.
     *
     * @param to   the destination
     * @param data the datagram, first byte 0-3 (a STUN message), at most {@link SharedUdpSocket#MAX_DATAGRAM_SIZE}
     * @return completes when sent; fails when the socket refused it (a rate bound, closed)
     */
    CompletionStage<Void> send(InetSocketAddress to, byte[] data);

    /**
     * Starts delivering the datagrams that arrive (those that are not the transport's protocol).
     *
     * @param receiver called for each datagram, on the socket's thread; must not block
     * @return stops the delivery; running it again does nothing
     */
    Runnable receive(DatagramReceiver receiver);

    /**
     * @param socket a transport's shared socket (or punch socket)
     * @return it as a probe socket
     */
    static ProbeSocket of(SharedUdpSocket socket) {
        return new ProbeSocket() {
            @Override
            public InetSocketAddress localAddress() {
                return socket.localAddress();
            }

            @Override
            public CompletionStage<Void> send(InetSocketAddress to, byte[] data) {
                return socket.send(to, data);
            }

            @Override
            public Runnable receive(DatagramReceiver receiver) {
                return socket.receive(receiver);
            }
        };
    }
}
