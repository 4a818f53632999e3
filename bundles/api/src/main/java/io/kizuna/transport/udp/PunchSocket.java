package io.kizuna.transport.udp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A UDP socket of a transport opened for one hole punch ({@link PunchSockets}):
 * unconnected, it is a {@link SharedUdpSocket} first, through which STUN learns
 * its reflexive address and probes are exchanged with the peer; once a probe
 * got through, {@link #connect} dials the transport's connection from this very
 * socket to the address the probes reached, so the connection rides the NAT
 * mapping the probes opened. The peer accepts it on its listener as any
 * inbound connection.
 *
 * <p>After {@code connect} succeeded the connection owns the socket: datagrams
 * that are not the transport's protocol still reach the receivers (keep-alive
 * probes, say), {@link #close()} does nothing, and the socket closes when the
 * connection does. Before that, the socket closes on {@link #close()}, when it
 * has not connected within {@link PunchSockets#lifetime()}, when a connect
 * fails, and when the transport stops.
 */
@ProviderType
public interface PunchSocket extends SharedUdpSocket, AutoCloseable {

    /**
     * Dials the transport's connection from this socket, once: authenticated and
     * set up exactly as the transport's own dials are ({@link
     * io.kizuna.transport.Transport#connect}), so the result can be used as any
     * connection of that transport (the QUIC transport's is a
     * {@link io.kizuna.transport.MultiplexedConnection}). It takes one of the
     * transport's connection slots.
     *
     * @param expected the PeerId that must answer; another key fails the connect
     *                 with {@link io.kizuna.transport.TransportException.PeerAuthenticationFailed}
     * @param remote   where to, usually the address the peer's probes came from
     * @param timeout  the most the connect may take (the transport's handshake
     *                 timeout bounds it too); positive
     * @return completes with the authenticated connection; fails with a
     *         {@link io.kizuna.transport.TransportException} saying why, and
     *         the socket is then closed
     * @throws IllegalStateException when connect was called on this socket before
     */
    CompletionStage<Connection> connect(PeerId expected, InetSocketAddress remote, Duration timeout);

    /** @return whether {@link #connect} succeeded, so the socket belongs to the connection */
    boolean isConnected();

    /** @return completes (never exceptionally) when the socket has closed, for whatever reason */
    CompletionStage<Void> closeFuture();

    /**
     * Closes the socket, failing a connect under way; does nothing once the
     * socket is connected (close the connection instead) or closed.
     */
    @Override
    void close();
}
