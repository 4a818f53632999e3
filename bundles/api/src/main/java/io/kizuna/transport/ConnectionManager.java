package io.kizuna.transport;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The platform's entry point: reaches peers over the best available transport,
 * keeps the connections it made in a pool, and measures them.
 *
 * <p>For each peer the manager keeps at most a few authenticated connections and
 * runs its control protocol (hello, ping, perf) on them. Application data travels
 * in streams opened with {@link #openStream}, each tagged with an application
 * protocol name that the receiving node uses to pick a {@link StreamHandler}.
 *
 * <p>Transport choice: the transports named in the peer's address that are
 * available here, ordered by priority and by what was measured for that peer
 * (successes, round-trip time). Attempts are staggered: the next candidate starts
 * when the previous one has not succeeded within a short delay, the first success
 * wins and the others are closed. To force one transport, pass
 * {@code address.only("tcp")}.
 *
 * <p>A connection this node dialed through a relay is upgraded in the background
 * when the peer accepts a transport signaled over it that this node has too
 * ({@link Transport#acceptSignaled}: WebRTC, whose ICE finds a direct path
 * through NATs): once that connection is open, new streams to the peer use it,
 * also for addresses that name the relay; the relayed connection stays.
 */
@ProviderType
public interface ConnectionManager {

    /** @return this node's identity */
    PeerId localPeerId();

    /**
     * @return this node's address as peers should dial it: its PeerId and the
     *         endpoints it listens on now
     */
    PeerAddress localAddress();

    /**
     * Binds every configured listen endpoint whose transport is available and not
     * yet listening. Called at activation; call again after adding a transport.
     *
     * @return the endpoints listening after the call
     */
    CompletionStage<List<Endpoint>> startListening();

    /**
     * Returns a pooled connection to the peer, dialing one if there is none
     * (or none over the transports the address names).
     *
     * @param peer who to reach, and where
     * @return what is known of the connection used
     */
    CompletionStage<ConnectionInfo> connectToPeer(PeerAddress peer);

    /**
     * Opens a stream for an application protocol to a peer. On a multiplexed
     * connection this opens a new stream on it; otherwise a new connection is
     * dialed over the transport of the pooled one.
     *
     * @param peer                who to reach
     * @param applicationProtocol the protocol the peer's {@link StreamHandler} serves
     * @return the stream; fails with {@link TransportException.UnsupportedProtocol}
     *         when the peer serves no such protocol
     */
    CompletionStage<Connection> openStream(PeerAddress peer, String applicationProtocol);

    /**
     * Plans how a peer would be dialed, without dialing.
     *
     * @param peer the peer's address
     * @return the candidate transports in the order they would be tried
     */
    ProtocolNegotiation negotiateProtocol(PeerAddress peer);

    /** @return every open pooled connection */
    List<ConnectionInfo> connections();

    /**
     * @param peer a peer
     * @return the open pooled connections to it
     */
    List<ConnectionInfo> connections(PeerId peer);

    /**
     * Measures one round trip of the control protocol, connecting first if needed.
     *
     * @param peer who to ping
     * @return the round-trip time and the transport that carried it
     */
    CompletionStage<PingResult> ping(PeerAddress peer);

    /**
     * Measures throughput as libp2p's perf protocol does: sends {@code uploadBytes},
     * then receives {@code downloadBytes}, on a fresh stream.
     *
     * @param peer          who to measure against
     * @param uploadBytes   bytes to send
     * @param downloadBytes bytes to ask back
     * @param progress      called from time to time while it runs; must not block
     * @return the measured figures
     */
    CompletionStage<PerfResult> perf(PeerAddress peer, long uploadBytes, long downloadBytes,
            Consumer<PerfResult.Progress> progress);

    /**
     * Closes every pooled connection to a peer, gracefully.
     *
     * @param peer the peer
     * @return completes when they are closed
     */
    CompletionStage<Void> disconnect(PeerId peer);

    /** @return counters for everything */
    ConnectionMetrics metrics();

    /**
     * @param peer a peer
     * @return counters for that peer
     */
    ConnectionMetrics metrics(PeerId peer);

    /** @return counters per transport protocol */
    Map<String, ConnectionMetrics> metricsByProtocol();
}
