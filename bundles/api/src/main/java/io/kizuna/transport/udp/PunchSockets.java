package io.kizuna.transport.udp;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

import org.osgi.annotation.versioning.ProviderType;

/**
 * Opens {@link PunchSocket}s: fresh UDP sockets of a transport for hole
 * punching, from which probes leave and the transport's connection is then
 * dialed, so that the connection uses the very NAT mapping the probes opened.
 *
 * <p>Registered as a service by the transport while it runs and can dial (the
 * QUIC transport registers one, with {@link SharedUdpSocket#OWNER}
 * {@code quic}); unregistered when it stops, which closes every punch socket
 * it opened. Users bind it dynamically.
 *
 * <p>Bounded: at most {@link #maxOpen()} punch sockets that have not connected
 * are open at once (a connected one counts as a connection of the transport),
 * and each closes itself when it has not connected within {@link #lifetime()}.
 * Both are counted in {@link #counters()}.
 */
@ProviderType
public interface PunchSockets {

    /**
     * Binds a new punch socket.
     *
     * @param local where to bind: an address of this host, or a wildcard; port 0
     *              for any (the usual case: each punch gets a fresh mapping)
     * @return completes with the bound socket; fails with
     *         {@link io.kizuna.transport.TransportException.LimitExceeded} when
     *         {@link #maxOpen()} sockets are open, with
     *         {@link io.kizuna.transport.TransportException.Io} when the
     *         transport has stopped or the address cannot be bound
     */
    CompletionStage<PunchSocket> open(InetSocketAddress local);

    /** @return the most punch sockets open at once that have not connected */
    int maxOpen();

    /** @return how long a punch socket stays open without connecting before it closes itself */
    Duration lifetime();

    /** @return the counters, a snapshot */
    Counters counters();

    /**
     * What the punch sockets did so far.
     *
     * @param opened         punch sockets bound
     * @param open           punch sockets open now that have not connected, what {@link #maxOpen()} bounds
     * @param refused        opens refused because {@link #maxOpen()} sockets were open
     * @param expired        punch sockets closed because they had not connected within {@link #lifetime()}
     * @param connected      connects that yielded an authenticated connection
     * @param connectsFailed connects that failed (timeout, refusal, another key, socket closed)
     */
    record Counters(long opened, int open, long refused, long expired, long connected, long connectsFailed) {
    }
}
