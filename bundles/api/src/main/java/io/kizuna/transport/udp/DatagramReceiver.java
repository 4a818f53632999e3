package io.kizuna.transport.udp;

import java.net.InetSocketAddress;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Receives the datagrams of a {@link SharedUdpSocket} that are not the owning
 * transport's protocol.
 */
@ConsumerType
@FunctionalInterface
public interface DatagramReceiver {

    /**
     * One datagram. Called on the socket's I/O thread, one datagram at a time, in
     * the order they arrived: it must return quickly and never block (hand longer
     * work to a thread of your own), or the transport's own traffic on the socket
     * waits. An exception thrown here is counted and logged, and the datagram is
     * lost to this receiver only.
     *
     * @param from the datagram's source address
     * @param data the datagram, a copy of its own for each receiver, at most
     *             {@link SharedUdpSocket#MAX_DATAGRAM_SIZE} bytes
     */
    void received(InetSocketAddress from, byte[] data);
}
