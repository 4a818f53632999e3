package io.kizuna.transport;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * One way of carrying authenticated, encrypted byte streams between peers
 * (TCP, QUIC, WebSocket, WebRTC, relays, ...).
 *
 * <p>Transports are OSGi services. The connection manager discovers every
 * registered transport and chooses among them per peer; a transport that
 * leaves the service registry is dropped from selection and its connections are
 * closed. Registrations should carry {@link #PROTOCOL} and {@link #PRIORITY} as
 * service properties so that filters and shell commands can match them without
 * getting the service.
 *
 * <p>Every connection a transport produces is encrypted and mutually
 * authenticated: {@link Connection#info()} names the peer that proved possession
 * of its key, and {@link #connect} fails with
 * {@link TransportException.PeerAuthenticationFailed} when the listener is not the
 * peer that was asked for. No method blocks the caller; failures complete the
 * returned stage exceptionally with a {@link TransportException}.
 */
@ConsumerType
public interface Transport {

    /** Service property: the protocol name, as {@link #protocolName()} (String). */
    String PROTOCOL = "kizuna.transport.protocol";

    /** Service property: the priority, as {@link #priority()} (Integer). */
    String PRIORITY = "kizuna.transport.priority";

    /**
     * @return the protocol name used in endpoints ({@code tcp}, {@code quic}, ...):
     *         lowercase letters, digits and '-'
     */
    String protocolName();

    /**
     * @return the preference among transports that can all reach a peer; higher is
     *         preferred. Direct transports use 100-999, NAT traversal 50-99, relays
     *         and mesh routes below 50.
     */
    int priority();

    /** @return what the connections of this transport guarantee */
    TransportCapabilities capabilities();

    /**
     * Tells whether this transport can be used in this process now, for example
     * whether its native library loaded.
     *
     * @return true when {@link #connect} and {@link #listen} can work
     */
    boolean isAvailable();

    /** @return why {@link #isAvailable()} is false, or empty when it is true */
    Optional<String> unavailableReason();

    /**
     * Which TLS implementation this transport's handshakes and records run on, in
     * a few words for people, with the reason when it is not the preferred one:
     * {@code openssl (BoringSSL)}, {@code jdk (native library not loaded: ...)},
     * {@code quiche (BoringSSL)}. Shown by the shell; not for programs to parse.
     * The default says nothing (since 1.6.0).
     *
     * @return the TLS engine, or empty when the transport does not say
     */
    default Optional<String> tlsEngine() {
        return Optional.empty();
    }

    /**
     * Dials a peer at one of the endpoints of {@link #protocolName()} in its address.
     *
     * <p>Fails with {@link TransportException.AddressNotSupported} when the address
     * has no endpoint of this transport (the caller should try another transport),
     * {@link TransportException.ConnectionFailed} when no endpoint answers,
     * {@link TransportException.ConnectionTimeout} when the timeout passes, and
     * {@link TransportException.PeerAuthenticationFailed} when the peer that
     * answered proved another key than {@link PeerAddress#peerId()}.
     *
     * @param peer    the peer to reach
     * @param timeout how long the whole attempt (connect and handshake) may take
     * @return the authenticated connection
     */
    CompletionStage<Connection> connect(PeerAddress peer, Duration timeout);

    /**
     * Starts accepting connections. Each incoming connection is passed to
     * {@code acceptor} once its handshake has authenticated the dialer; the
     * acceptor must not block.
     *
     * @param local    the local address to bind; port 0 picks a free port
     * @param acceptor receives each authenticated incoming connection
     * @return the listener, once bound
     */
    CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor);

    /**
     * Starts accepting connections at a configured endpoint. Transports whose
     * endpoints carry more than a socket address (a relay endpoint names the relay,
     * see {@link Endpoint#via()}) override this; the default listens on
     * {@link Endpoint#address()}.
     *
     * @param local    the endpoint to listen at, of this transport's protocol
     * @param acceptor receives each authenticated incoming connection
     * @return the listener, once bound
     */
    default CompletionStage<Listener> listen(Endpoint local, Consumer<Connection> acceptor) {
        return listen(local.address(), acceptor);
    }

    /**
     * Starts accepting connections that a peer sets up by signaling over a
     * connection the connection manager already has with it, rather than at an
     * endpoint of this node's own: WebRTC behind a NAT, whose offer and answer
     * travel over a relayed connection while ICE finds the direct path. The
     * manager calls this once when the transport arrives, names the transport in
     * its HELLO as accepting signaled connections while the returned handle is
     * not run, and runs the handle when the transport leaves.
     *
     * <p>A transport that accepts signaled connections also dials them: its
     * {@link #connect} then reaches a peer whose address has no endpoint of this
     * transport by signaling over a pooled connection to that peer (and fails
     * with {@link TransportException.AddressNotSupported} when there is none).
     * The default accepts none.
     *
     * @param acceptor receives each authenticated incoming connection; must not block
     * @return the action that stops accepting, or empty when this transport does
     *         not accept signaled connections (now, or at all)
     * @since 1.3
     */
    default Optional<Runnable> acceptSignaled(Consumer<Connection> acceptor) {
        return Optional.empty();
    }
}
