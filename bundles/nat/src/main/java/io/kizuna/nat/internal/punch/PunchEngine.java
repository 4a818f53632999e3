package io.kizuna.nat.internal.punch;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.punch.PunchMessage.Abort;
import io.kizuna.nat.internal.punch.PunchMessage.AbortCode;
import io.kizuna.nat.internal.punch.PunchMessage.Candidate;
import io.kizuna.nat.internal.punch.PunchMessage.Candidates;
import io.kizuna.nat.internal.punch.PunchMessage.Kind;
import io.kizuna.nat.internal.punch.PunchMessage.Protocol;
import io.kizuna.transport.Connection;
import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.PunchSocket;
import io.kizuna.transport.udp.PunchSockets;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * Runs punch sessions for real: the responder on the QUIC listener's shared
 * socket (the peer's QUIC Initial then reaches the listener as any inbound
 * connection does), the initiator on a fresh {@link PunchSocket} from which,
 * once a probe got through, the QUIC connection is dialed, so it rides the NAT
 * mapping the probes opened.
 *
 * <p>Both sides take a {@link PunchLimiter} permit for the peer first; a
 * responder that is refused answers the peer's first CANDIDATES with ABORT
 * {@code LIMIT} and the limiter's reason. Candidates are the socket's address
 * (each interface address of a wildcard-bound one) and the socket's mapped
 * address when one was learned (see below); each passes the
 * {@link CandidatePolicy} first, so nothing this node would refuse to probe is
 * offered either. Each side learns the mapped address of the socket it
 * probes from with one STUN Binding when a STUN server is configured (the
 * listener's is kept from discovery or the last punch): a port-restricted
 * NAT on both sides lets probes in only once each side has sent to the
 * other's mapping, so each must know its own.
 */
final class PunchEngine {

    private static final System.Logger LOG = System.getLogger(PunchEngine.class.getName());

    private final NodeIdentity identity;
    private final PunchSettings settings;
    private final PunchLimiter limiter;
    private final Supplier<NatType> natType;
    private final Mapping mapping;
    private final ScheduledExecutorService executor;
    private final PunchStats stats;

    /**
     * @param identity  this node's key, to sign CANDIDATES
     * @param settings  the checked punch settings
     * @param natType   the NAT type discovery found, UNKNOWN before
     * @param mapping   learns the mapped address of the socket a punch sends from
     * @param stats     counts what the punches come to
     */
    PunchEngine(NodeIdentity identity, PunchSettings settings, Supplier<NatType> natType, Mapping mapping,
            PunchStats stats) {
        this.stats = stats;
        this.identity = identity;
        this.settings = settings;
        this.limiter = new PunchLimiter(settings.perPeerPerMinute(), settings.maxSessions(), System::nanoTime);
        this.natType = natType;
        this.mapping = mapping;
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "kizuna-punch");
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true);
        this.executor = e;
    }

    /** @return what the punches came to */
    PunchStats stats() {
        return stats;
    }

    /** @return the admission of sessions, for counters and tests */
    PunchLimiter limiter() {
        return limiter;
    }

    /**
     * Answers one punch the peer started, on the listener's socket; closes the channel when it ends.
     *
     * @param channel the peer's {@code kizuna/punch/1} stream
     * @param socket  the QUIC listener's shared socket, or null to refuse
     * @param whyNone why there is no socket to answer on
     * @return the path, or the reason the session failed or was refused
     */
    CompletableFuture<PunchSession.Outcome> respond(PunchChannel channel, SharedUdpSocket socket, String whyNone) {
        PeerId peer = channel.peer();
        stats.answered();
        if (socket == null) {
            stats.failed(PunchStats.Failure.NO_CANDIDATES);
            return refuse(channel, AbortCode.NO_CANDIDATES, whyNone);
        }
        PunchLimiter.Permit permit;
        try {
            permit = limiter.acquire(peer);
        } catch (TransportException.LimitExceeded e) {
            LOG.log(System.Logger.Level.INFO, "punch: refused " + peer.shortForm() + ": " + e.getMessage());
            stats.failed(PunchStats.Failure.LIMIT);
            return refuse(channel, AbortCode.LIMIT, e.getMessage());
        }
        AtomicReference<PunchSession> session = new AtomicReference<>();
        CompletableFuture<PunchSession.Outcome> run = mapping.of(socket, true).thenCompose(mapped ->
                session(session, PunchSession.Role.RESPONDER, channel, socket, mapped).run());
        return ended(run, permit, channel, peer, "answering").whenComplete((o, e) -> {
            if (e == null) {
                stats.direct();
            } else {
                stats.failed(why(session.get()));
            }
        });
    }

    private PunchSession session(AtomicReference<PunchSession> holder, PunchSession.Role role, PunchChannel channel,
            SharedUdpSocket socket, Optional<InetSocketAddress> mapped) {
        PunchSession s = new PunchSession(role, identity, channel, ProbeSocket.of(socket),
                () -> candidates(socket.localAddress(), mapped), natType, settings.policy(), settings.schedule(),
                executor, System::currentTimeMillis);
        holder.set(s);
        return s;
    }

    private static PunchStats.Failure why(PunchSession session) {
        PunchStats.Failure f = session == null ? null : session.failure();
        return f == null ? PunchStats.Failure.OTHER : f;
    }

    /**
     * Punches to the peer from a fresh punch socket and dials QUIC from it.
     *
     * @param channel the {@code kizuna/punch/1} stream this node opened to the peer; closed when the punch ends
     * @param sockets the QUIC transport's punch sockets
     * @param bind    the address to bind the punch socket to (the listener's, or a wildcard)
     * @param timeout the most the punch and the QUIC handshake may take
     * @return the QUIC connection; fails with {@link TransportException.NatTraversalFailed} saying why, or
     *         {@link TransportException.PeerAuthenticationFailed} when another key answered
     */
    CompletableFuture<Connection> punch(PunchChannel channel, PunchSockets sockets, InetAddress bind,
            Duration timeout) {
        PeerId peer = channel.peer();
        long deadline = System.nanoTime() + timeout.toNanos();
        stats.started();
        PunchLimiter.Permit permit;
        try {
            permit = limiter.acquire(peer);
        } catch (TransportException.LimitExceeded e) {
            channel.close();
            stats.failed(PunchStats.Failure.LIMIT);
            return CompletableFuture.failedFuture(failed(peer, e));
        }
        return sockets.open(new InetSocketAddress(bind, 0)).toCompletableFuture().handle((socket, err) -> {
            if (err != null) {
                permit.close();
                channel.close();
                stats.failed(PunchStats.Failure.SOCKET);
                return CompletableFuture.<Connection>failedFuture(failed(peer, err));
            }
            AtomicReference<PunchSession> session = new AtomicReference<>();
            CompletableFuture<PunchSession.Outcome> run = mapping.of(socket, false).thenCompose(mapped ->
                    session(session, PunchSession.Role.INITIATOR, channel, socket, mapped).run());
            CompletableFuture<Connection> conn = ended(run, permit, channel, peer, "punching")
                    .thenCompose(o -> {
                        long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            throw new CompletionException(new TransportException.ConnectionTimeout("UDP hole punch to "
                                    + peer, timeout));
                        }
                        return socket.connect(peer, o.remote(), Duration.ofNanos(left)).toCompletableFuture()
                                .thenApply(c -> PunchedConnection.of(c, o.round()));
                    });
            return conn.handle((c, e) -> {
                if (e == null) {
                    stats.direct();
                    return CompletableFuture.completedFuture(c);
                }
                socket.close();
                boolean found = run.isDone() && !run.isCompletedExceptionally();
                stats.failed(found ? PunchStats.Failure.QUIC_HANDSHAKE : why(session.get()));
                TransportException failure = failed(peer, e);
                // fails once the socket is closed (at most 2 s on): a caller that sees the failure sees no socket
                return socket.closeFuture().toCompletableFuture().handle((v, x) -> (Void) null)
                        .completeOnTimeout(null, 2, TimeUnit.SECONDS)
                        .thenCompose(v -> CompletableFuture.<Connection>failedFuture(failure));
            }).thenCompose(f -> f);
        }).thenCompose(f -> f);
    }

    /** Releases the permit and closes the channel when the session ends, and logs how it ended. */
    private CompletableFuture<PunchSession.Outcome> ended(CompletableFuture<PunchSession.Outcome> run,
            PunchLimiter.Permit permit, PunchChannel channel, PeerId peer, String doing) {
        return run.whenComplete((o, e) -> {
            permit.close();
            channel.close();
            if (e == null) {
                LOG.log(System.Logger.Level.INFO, "punch: " + doing + " " + peer.shortForm() + " found a path in "
                        + "round " + o.round() + ": " + o.local() + " - " + o.remote());
            } else {
                LOG.log(System.Logger.Level.INFO, "punch: " + doing + " " + peer.shortForm() + " failed: "
                        + TransportException.unwrap(e).getMessage());
            }
        });
    }

    /**
     * Reads the peer's first message and answers it with ABORT, as a refused session; closes the channel.
     *
     * @return fails with {@link TransportException.NatTraversalFailed} naming the reason
     */
    private CompletableFuture<PunchSession.Outcome> refuse(PunchChannel channel, AbortCode code, String reason) {
        return channel.receive().toCompletableFuture().thenCompose(m -> m instanceof Candidates c
                ? channel.send(new Abort(c.sessionId(), c.round(), code, reason)).toCompletableFuture()
                : CompletableFuture.<Void>completedFuture(null)).handle((v, e) -> {
                    channel.close();
                    throw new CompletionException(new TransportException.NatTraversalFailed("punch with "
                            + channel.peer() + " refused: " + code + " " + reason, null));
                });
    }

    /** @return {@code e} as the punch's failure: NatTraversalFailed naming the method, unless another key answered */
    private static TransportException failed(PeerId peer, Throwable e) {
        TransportException t = TransportException.unwrap(e);
        if (t instanceof TransportException.NatTraversalFailed
                || t instanceof TransportException.PeerAuthenticationFailed) {
            return t;
        }
        return new TransportException.NatTraversalFailed("UDP hole punch to " + peer + " failed: " + t.getMessage(),
                t);
    }

    /**
     * This node's candidates for a socket: its address, or each interface address of the socket's family when
     * it is bound to a wildcard (of either family for the dual-stack IPv6 wildcard), and the reflexive address;
     * those the policy refuses are left out.
     */
    List<Candidate> candidates(InetSocketAddress local, Optional<InetSocketAddress> reflexiveAddress) {
        List<Candidate> out = new ArrayList<>();
        if (local != null) {
            for (InetAddress ip : hostAddresses(local.getAddress())) {
                out.add(new Candidate(Kind.HOST, Protocol.UDP, new InetSocketAddress(ip, local.getPort())));
            }
        }
        reflexiveAddress.ifPresent(r -> out.add(new Candidate(Kind.REFLEXIVE, Protocol.UDP, r)));
        return out.stream().filter(c -> settings.policy().allows(c.address())).distinct()
                .limit(PunchCodec.MAX_CANDIDATES).toList();
    }

    private static List<InetAddress> hostAddresses(InetAddress bound) {
        if (!bound.isAnyLocalAddress()) {
            return List.of(bound);
        }
        List<InetAddress> out = new ArrayList<>();
        try {
            for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (n.isUp()) {
                    // the IPv6 wildcard is dual-stack: its IPv4 addresses are the socket's too
                    n.inetAddresses().filter(a -> a.getClass() == bound.getClass() || bound instanceof Inet6Address)
                            .forEach(out::add);
                }
            }
        } catch (SocketException e) {
            LOG.log(System.Logger.Level.WARNING, "punch: cannot list the interfaces for host candidates", e);
        }
        return out;
    }

    /** Learns the address a socket's datagrams leave this node's NAT with. */
    @FunctionalInterface
    interface Mapping {

        /** No STUN server: no reflexive candidate. */
        Mapping NONE = (socket, listener) -> CompletableFuture.completedFuture(Optional.empty());

        /**
         * @param socket   the socket a punch sends from
         * @param listener whether it is a QUIC listener's socket (else a fresh punch socket)
         * @return its mapped address, or empty when it cannot be learned; never fails
         */
        CompletableFuture<Optional<InetSocketAddress>> of(SharedUdpSocket socket, boolean listener);
    }

    /** Stops the sessions' timers; sessions under way end with their channel. */
    void close() {
        executor.shutdownNow();
    }
}
