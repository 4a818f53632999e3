package io.kizuna.transport.udp;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.Endpoint;

import org.osgi.annotation.versioning.ProviderType;

/**
 * A transport's listening UDP socket, shared: other bundles send datagrams from
 * it and receive on it the datagrams that are not the transport's own protocol,
 * so that what they do (STUN, hole-punching probes) happens from the address and
 * port the transport uses, and the NAT mappings it opens are the transport's.
 *
 * <p>Registered as a service by the transport for each socket it listens on,
 * with the properties {@link #OWNER} and {@link #LOCAL_ADDRESS}; unregistered
 * when the socket stops listening or the transport stops, so users must expect
 * it to go and come back (bind it dynamically). A {@link PunchSocket} is a
 * shared socket too, one of its own, handed to whoever opened it and not
 * registered.
 *
 * <p>Which datagrams are shared (RFC 9443 multiplexing by the first byte): a
 * QUIC version 1 packet always has the long-header bit (0x80) or the fixed bit
 * (0x40) set (RFC 9000 section 17), so a first byte of 0-63 is never QUIC. Such
 * datagrams go to the {@link DatagramReceiver}s and never to the transport;
 * STUN (first byte 0-3 and the magic cookie, RFC 8489) is one of them. In the
 * other direction, {@link #send} accepts only datagrams whose first byte is
 * 0-63, so nothing sent here can pass for the transport's protocol at either
 * end, and the peer's socket of the same kind hands it to its receivers.
 *
 * <p>Everything is bounded: datagram size, receivers per socket, sends waiting
 * for the socket, sends and deliveries per second. What exceeds a bound is
 * refused or dropped and counted in {@link #counters()}; datagrams that arrive
 * while nobody receives are dropped and counted too.
 */
@ProviderType
public interface SharedUdpSocket {

    /** Service property: the protocol name of the transport that owns the socket, e.g. {@code quic}. */
    String OWNER = "kizuna.udp.owner";

    /** Service property: the socket's local address as {@code ip:port} ({@code [ipv6]:port}). */
    String LOCAL_ADDRESS = "kizuna.udp.local";

    /**
     * The largest datagram sent or delivered, in bytes: what fits an IPv6
     * minimum MTU, so nothing shared is fragmented. Larger received ones are
     * dropped and counted.
     */
    int MAX_DATAGRAM_SIZE = 1200;

    /** The largest first byte a shared datagram may have: 0-63 is never QUIC (RFC 9000 section 17). */
    int MAX_FIRST_BYTE = 63;

    /** @return the socket's bound address, with its real port */
    InetSocketAddress localAddress();

    /** @return the owning transport's endpoint on this socket, e.g. {@code quic://0.0.0.0:7400} */
    Endpoint endpoint();

    /**
     * Sends one datagram from this socket.
     *
     * @param to   the destination
     * @param data the datagram: 1 to {@link #MAX_DATAGRAM_SIZE} bytes, the first
     *             one 0 to {@link #MAX_FIRST_BYTE}
     * @return completes when the datagram was handed to the kernel; fails with
     *         {@link io.kizuna.transport.TransportException.LimitExceeded} when a
     *         send rate or queue bound is reached, with
     *         {@link io.kizuna.transport.TransportException.Io} when the socket is
     *         closed or the kernel refuses the send
     * @throws IllegalArgumentException when the datagram is empty, too large or
     *                                  would be taken for the transport's protocol
     */
    CompletionStage<Void> send(InetSocketAddress to, byte[] data);

    /**
     * Starts delivering the socket's shared datagrams to {@code receiver}, in
     * addition to any other receivers (each gets every datagram).
     *
     * @param receiver called for each datagram, on the socket's I/O thread
     * @return stops the delivery; running it more than once does nothing
     * @throws IllegalStateException when the socket has as many receivers as it
     *                               takes (a few: each one costs every datagram a copy)
     */
    Runnable receive(DatagramReceiver receiver);

    /** @return the socket's counters, a snapshot */
    Counters counters();

    /**
     * What the socket shared so far.
     *
     * @param sent         datagrams sent for other bundles
     * @param sendsRefused sends refused for a rate or queue bound, or failed
     * @param received     shared datagrams that arrived (not the transport's protocol)
     * @param delivered    deliveries to receivers (a datagram counts once per receiver)
     * @param unclaimed    datagrams dropped because no receiver was registered
     * @param overRate     datagrams dropped because more arrived per second than are delivered
     * @param oversize     datagrams dropped for being larger than {@link #MAX_DATAGRAM_SIZE}
     * @param receiverErrors deliveries whose receiver threw
     */
    record Counters(long sent, long sendsRefused, long received, long delivered, long unclaimed, long overRate,
            long oversize, long receiverErrors) {
    }
}
