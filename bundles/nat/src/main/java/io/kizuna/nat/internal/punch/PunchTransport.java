package io.kizuna.nat.internal.punch;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.StreamHandler;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportCapabilities;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * UDP hole punching as a transport ({@value #PROTOCOL_NAME}): its connections
 * are the QUIC transport's, dialed from a punch socket after a
 * {@code kizuna/punch/1} session over the manager's connection to the peer (a
 * relay circuit) found a path. It has no endpoints: it accepts signaled
 * connections ({@link #acceptSignaled}), so HELLO offers it and the dialer of
 * a relayed connection upgrades to it, and it serves the punch protocol on the
 * stream whiteboard as the responder, whose side of the connection then
 * arrives at the QUIC listener like any inbound one.
 *
 * <p>Priority {@value #PRIORITY}: in the NAT traversal band (50-99), above
 * WebRTC's 90 so an upgrade tries the punched QUIC path first (QUIC's own
 * streams, no ICE and SCTP stack between), below every direct transport.
 *
 * <p>{@link PunchComponent} registers it while a QUIC listener runs. The
 * connections belong to the QUIC transport; this only starts them.
 */
final class PunchTransport implements Transport, StreamHandler {

    /** The transport's protocol name. */
    static final String PROTOCOL_NAME = "punch";

    /** The transport's priority: NAT traversal, before WebRTC (90). */
    static final int PRIORITY = 95;

    private static final System.Logger LOG = System.getLogger(PunchTransport.class.getName());

    private final PunchEngine engine;
    private final List<SharedUdpSocket> listenerSockets = new CopyOnWriteArrayList<>();
    private final List<Consumer<Connection>> signaledAcceptors = new CopyOnWriteArrayList<>();
    private volatile ConnectionManager manager;
    private volatile PunchSockets punchSockets;

    PunchTransport(PunchEngine engine) {
        this.engine = engine;
    }

    /** @param socket a QUIC listener's socket came: punches are answered on it */
    void addSocket(SharedUdpSocket socket) {
        listenerSockets.add(socket);
    }

    /** @param socket a QUIC listener's socket went */
    void removeSocket(SharedUdpSocket socket) {
        listenerSockets.remove(socket);
    }

    /** @return whether a QUIC listener's socket is there to answer punches on */
    boolean hasSocket() {
        return !listenerSockets.isEmpty();
    }

    /** @param m the manager whose connections carry the punch streams, or null */
    void manager(ConnectionManager m) {
        this.manager = m;
    }

    /** @param s the QUIC transport's punch sockets, or null */
    void punchSockets(PunchSockets s) {
        this.punchSockets = s;
    }

    /** @return the engine */
    PunchEngine engine() {
        return engine;
    }

    @Override
    public String protocolName() {
        return PROTOCOL_NAME;
    }

    @Override
    public int priority() {
        return PRIORITY;
    }

    @Override
    public TransportCapabilities capabilities() {
        return new TransportCapabilities(true, true, true, false, true, 0);
    }

    @Override
    public boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    @Override
    public Optional<String> unavailableReason() {
        return punchSockets == null ? Optional.of("the QUIC transport, whose sockets punches use, is not running")
                : Optional.empty();
    }

    /**
     * Punches to the peer over the manager's connection to it and returns the
     * QUIC connection dialed from the punch socket. An address is only its
     * PeerId here: the candidates travel in the session.
     */
    @Override
    public CompletionStage<Connection> connect(PeerAddress peer, Duration timeout) {
        ConnectionManager m = manager;
        PunchSockets sockets = punchSockets;
        PeerId id = peer.peerId();
        if (m == null || m.connections(id).isEmpty()) {
            return CompletableFuture.failedFuture(new TransportException.AddressNotSupported(PROTOCOL_NAME, peer));
        }
        if (sockets == null) {
            return CompletableFuture.failedFuture(new TransportException.NatTraversalFailed("UDP hole punch to "
                    + id + " not tried: " + unavailableReason().orElse(""), null));
        }
        return m.openStream(PeerAddress.of(id), PunchCodec.PROTOCOL).toCompletableFuture()
                .handle((stream, err) -> {
                    if (err != null) {
                        engine.stats().started();
                        engine.stats().failed(PunchStats.Failure.NO_STREAM);
                        return CompletableFuture.<Connection>failedFuture(new TransportException.NatTraversalFailed(
                                "UDP hole punch to " + id + " failed: no punch stream: "
                                        + TransportException.unwrap(err).getMessage(), err));
                    }
                    return engine.punch(new ConnectionPunchChannel(stream, id), sockets, bindAddress(), timeout);
                }).thenCompose(f -> f);
    }

    /** @return the listener's address, so the punch socket is on the same interface; else any IPv4 one */
    InetAddress bindAddress() {
        return listenerSockets.stream().map(SharedUdpSocket::localAddress).filter(a -> a != null).findFirst()
                .map(InetSocketAddress::getAddress).orElseGet(() -> new InetSocketAddress(0).getAddress());
    }

    /** Answers a punch the peer starts over its connection, on the first QUIC listener's socket. */
    @Override
    public void handle(Connection stream, String protocol) {
        PeerId from = stream.info().peerId();
        SharedUdpSocket socket = signaledAcceptors.isEmpty() ? null : listenerSockets.stream().findFirst().orElse(null);
        String whyNone = signaledAcceptors.isEmpty() ? "this node does not accept punched connections now"
                : "no QUIC listener on this node to punch to";
        engine.respond(new ConnectionPunchChannel(stream, from), socket, whyNone).whenComplete((o, e) -> {
            if (e != null) {
                LOG.log(System.Logger.Level.DEBUG, "punch: answering {0} failed: {1}", from.shortForm(),
                        TransportException.unwrap(e).getMessage());
            }
        });
    }

    @Override
    public CompletionStage<Listener> listen(InetSocketAddress local, Consumer<Connection> acceptor) {
        return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("the " + PROTOCOL_NAME
                + " transport has no endpoints: its connections arrive at the QUIC listener", null));
    }

    /**
     * Accepts punches while the handle is not run. Inbound punched connections
     * reach the QUIC listener and its acceptor, not {@code acceptor}; this only
     * makes HELLO offer the transport and lets {@link #handle} answer.
     */
    @Override
    public Optional<Runnable> acceptSignaled(Consumer<Connection> acceptor) {
        Consumer<Connection> a = acceptor::accept; // an identity of its own, to remove exactly this one
        signaledAcceptors.add(a);
        return Optional.of(() -> signaledAcceptors.remove(a));
    }
}
