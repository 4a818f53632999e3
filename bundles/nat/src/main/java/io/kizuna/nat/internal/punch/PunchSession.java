package io.kizuna.nat.internal.punch;

import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.punch.PunchMessage.Abort;
import io.kizuna.nat.internal.punch.PunchMessage.AbortCode;
import io.kizuna.nat.internal.punch.PunchMessage.Candidate;
import io.kizuna.nat.internal.punch.PunchMessage.Candidates;
import io.kizuna.nat.internal.punch.PunchMessage.Protocol;
import io.kizuna.nat.internal.punch.PunchMessage.Result;
import io.kizuna.nat.internal.punch.PunchMessage.Sync;
import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * One coordinated UDP hole punch with one peer, from either end: the exchange of
 * signed candidates over a {@link PunchChannel}, SYNC, probes on a
 * {@link ProbeSocket}, and the RESULT or ABORT both ends agree on.
 *
 * <pre>
 * initiator                                    responder
 *   CANDIDATES(r) --------------------------->   verify, answer
 *   RTT measured  <--------------------------- CANDIDATES(r)
 *   SYNC(r) --------------------------------->   probe at once
 *   probe RTT/2 later
 *   ... a probe and its reply complete a pair ...
 *   RESULT(r, pair) ------------------------->   both done
 *   (no pair in the round's budget: CANDIDATES(r+1) ..., after the last round ABORT(NO_PATH))
 * </pre>
 *
 * <p>The initiator decides, as ICE's controlling side does: the first pair whose
 * probe (its request) got a reply ends the session, and it tells the responder
 * which with RESULT. Both answer every valid probe of the session from an
 * address the {@link CandidatePolicy} allows; a probe from an address that is
 * not among the peer's candidates makes it a peer-reflexive candidate (RFC 8445
 * 7.3.1.3), probed at once and in the rest of the round (at most
 * {@link #MAX_PEER_REFLEXIVE}), which is how a NAT that maps each destination
 * to a new port is still punched from the side facing a friendlier one.
 *
 * <p>Everything runs on {@code executor}, one task at a time; datagrams and
 * channel completions hop onto it. The channel is the caller's to close.
 */
final class PunchSession {

    /** Which end of the relayed connection this node is. */
    enum Role {
        /** Dialed the relayed connection: opens the stream, measures the RTT, sends SYNC, decides. */
        INITIATOR,
        /** Accepted it: answers CANDIDATES, probes on SYNC, follows RESULT. */
        RESPONDER
    }

    /**
     * The path both ends agreed on.
     *
     * @param round  the round it worked in
     * @param local  this node's socket address
     * @param remote the peer's address as reached from here: where to dial, or what an inbound connection comes from
     */
    record Outcome(int round, InetSocketAddress local, InetSocketAddress remote) {
    }

    /**
     * What a session saw, for counters and tests.
     *
     * @param probesSent     probes (requests) sent
     * @param repliesSent    replies to the peer's probes
     * @param dropped        datagrams that were not a valid probe of the session (another protocol, bad MAC)
     * @param refused        candidates and probe sources the policy refused
     * @param peerReflexive  peer-reflexive addresses learned
     */
    record Counters(long probesSent, long repliesSent, long dropped, long refused, long peerReflexive) {
    }

    /** The most peer-reflexive addresses one session probes. */
    static final int MAX_PEER_REFLEXIVE = 8;

    /** How long the initiator waits for the responder's CANDIDATES. */
    static final long CANDIDATES_TIMEOUT_MILLIS = 5_000;

    private final Role role;
    private final NodeIdentity identity;
    private final PunchChannel channel;
    private final ProbeSocket socket;
    private final Supplier<List<Candidate>> localCandidates;
    private final Supplier<NatType> natType;
    private final CandidatePolicy policy;
    private final PunchSchedule schedule;
    private final ScheduledExecutorService executor;
    private final LongSupplier wallClock;
    private final CompletableFuture<Outcome> outcome = new CompletableFuture<>();
    private volatile PunchStats.Failure failure;

    private byte[] sessionId;
    private Probe probe;
    private int round;
    private long rttMillis;
    private boolean probing;
    private int probeSeq;
    private boolean ended;
    private boolean awaitingCandidates;
    private long roundSentAt;
    private CompletableFuture<Void> sends = CompletableFuture.completedFuture(null);
    private Runnable stopReceiving = () -> { };
    private final List<ScheduledFuture<?>> timers = new ArrayList<>();
    private ScheduledFuture<?> deadline;
    private final Set<InetSocketAddress> targets = new LinkedHashSet<>();
    private final Set<InetSocketAddress> peerReflexive = new HashSet<>();
    private final Set<InetSocketAddress> answered = new HashSet<>();
    private final Map<String, InetSocketAddress> sent = new HashMap<>();
    private final AtomicLong probesSent = new AtomicLong();
    private final AtomicLong repliesSent = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong learned = new AtomicLong();

    /**
     * @param role            this node's end
     * @param identity        this node's key, to sign CANDIDATES
     * @param channel         the punch stream to the peer
     * @param socket          where probes leave from
     * @param localCandidates this node's candidates, asked at each round
     * @param natType         this node's NAT type as far as it knows
     * @param policy          the addresses probes may go to
     * @param schedule        rounds and timing
     * @param executor        runs the session, one task at a time
     * @param wallClock       ms since the epoch, for CANDIDATES' time
     */
    PunchSession(Role role, NodeIdentity identity, PunchChannel channel, ProbeSocket socket,
            Supplier<List<Candidate>> localCandidates, Supplier<NatType> natType, CandidatePolicy policy,
            PunchSchedule schedule, ScheduledExecutorService executor, LongSupplier wallClock) {
        this.role = role;
        this.identity = identity;
        this.channel = channel;
        this.socket = socket;
        this.localCandidates = localCandidates;
        this.natType = natType;
        this.policy = policy;
        this.schedule = schedule;
        this.executor = executor;
        this.wallClock = wallClock;
    }

    /**
     * Runs the session.
     *
     * @return completes with the path; fails with {@link TransportException.NatTraversalFailed} saying why
     *         (every round lost, the peer's ABORT, a timeout), or the channel's failure
     */
    CompletableFuture<Outcome> run() {
        executor.execute(() -> {
            stopReceiving = socket.receive((from, data) -> executor.execute(() -> datagram(from, data)));
            if (role == Role.INITIATOR) {
                sessionId = new byte[PunchCodec.SESSION_ID_LENGTH];
                new SecureRandom().nextBytes(sessionId);
                probe = new Probe(sessionId, identity.peerId(), channel.peer());
                startRound(1);
            } else {
                deadline(schedule.responderWaitMillis());
            }
            receiveLoop();
        });
        return outcome;
    }

    /** @return what the session saw so far */
    Counters counters() {
        return new Counters(probesSent.get(), repliesSent.get(), dropped.get(), refused.get(), learned.get());
    }

    // ------------------------------------------------------------------ control

    private Candidates ours() {
        List<Candidate> mine = localCandidates.get().stream().limit(PunchCodec.MAX_CANDIDATES).distinct().toList();
        return PunchCodec.sign(identity, sessionId, wallClock.getAsLong(), round, natType.get(), mine);
    }

    private void startRound(int r) {
        round = r;
        probing = false;
        cancelTimers();
        roundSentAt = System.nanoTime();
        awaitingCandidates = true;
        send(ours());
        deadline(CANDIDATES_TIMEOUT_MILLIS);
    }

    /** Checks the peer's CANDIDATES and takes its candidates that the policy allows as targets. */
    private void theirs(Candidates c) throws TransportException.ProtocolViolation {
        PunchCodec.verify(c, channel.peer(), sessionId, round, wallClock.getAsLong(), PunchSchedule.MAX_AGE_MILLIS,
                PunchSchedule.MAX_SKEW_MILLIS);
        targets.clear();
        for (Candidate k : c.candidates()) {
            if (k.protocol() != Protocol.UDP) {
                continue;
            }
            if (policy.allows(k.address())) {
                targets.add(k.address());
            } else {
                refused.incrementAndGet();
            }
        }
        targets.addAll(peerReflexive);
    }

    private void message(PunchMessage m) throws TransportException {
        if (m instanceof Abort a) {
            fail(new TransportException.NatTraversalFailed("punch with " + channel.peer() + " aborted by the peer in "
                    + "round " + a.round() + ": " + a.code() + " " + a.reason(), null), false, switch (a.code()) {
                        case NO_PATH -> PunchStats.Failure.NO_PATH;
                        case LIMIT -> PunchStats.Failure.LIMIT;
                        case NO_CANDIDATES -> PunchStats.Failure.NO_CANDIDATES;
                        case PROTOCOL_VIOLATION -> PunchStats.Failure.PROTOCOL_VIOLATION;
                        case TIMEOUT -> PunchStats.Failure.PEER_SILENT;
                        case CANCELLED -> PunchStats.Failure.CANCELLED;
                    });
        } else if (role == Role.INITIATOR) {
            if (!(m instanceof Candidates c && awaitingCandidates)) {
                throw new TransportException.ProtocolViolation("punch initiator got " + m + " in round " + round);
            }
            theirs(c);
            awaitingCandidates = false;
            clearDeadline();
            rttMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - roundSentAt);
            send(new Sync(sessionId, round));
            timers.add(executor.schedule(this::startProbing, PunchSchedule.initiatorStartDelay(rttMillis),
                    TimeUnit.MILLISECONDS));
        } else if (m instanceof Candidates c && c.round() == round + 1) {
            if (round == 0) {
                sessionId = c.sessionId();
                probe = new Probe(sessionId, channel.peer(), identity.peerId());
            }
            round = c.round();
            probing = false;
            cancelTimers();
            theirs(c);
            send(ours());
            deadline(schedule.responderWaitMillis());
        } else if (m instanceof Sync s && s.round() == round && !probing) {
            startProbing();
            deadline(schedule.responderWaitMillis());
        } else if (m instanceof Result r && r.round() == round && probing) {
            if (r.protocol() != Protocol.UDP || !answered.contains(r.initiator())) {
                throw new TransportException.ProtocolViolation("punch RESULT names " + r.initiator()
                        + ", which sent no probe answered here in round " + round);
            }
            succeed(new Outcome(round, socket.localAddress(), r.initiator()));
        } else {
            throw new TransportException.ProtocolViolation("punch responder got " + m + " in round " + round
                    + (probing ? " (probing)" : ""));
        }
    }

    /** Reads the peer's messages one after the other until the session ends. */
    private void receiveLoop() {
        channel.receive().whenComplete((m, e) -> executor.execute(() -> {
            if (ended) {
                return;
            }
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                fail(cause, cause instanceof TransportException.ProtocolViolation, violationOr(cause,
                        PunchStats.Failure.STREAM_CLOSED));
                return;
            }
            if (m == null) {
                fail(new TransportException.NatTraversalFailed("punch with " + channel.peer() + ": the peer closed "
                        + "the stream in round " + round, null), false, PunchStats.Failure.STREAM_CLOSED);
                return;
            }
            try {
                if (sessionId != null && !java.util.Arrays.equals(m.sessionId(), sessionId)) {
                    throw new TransportException.ProtocolViolation("punch message " + m + " of another session than "
                            + HexFormat.of().formatHex(sessionId));
                }
                message(m);
            } catch (TransportException t) {
                fail(t, t instanceof TransportException.ProtocolViolation, violationOr(t,
                        PunchStats.Failure.OTHER));
                return;
            }
            if (!ended) {
                receiveLoop();
            }
        }));
    }

    /** Fails the session unless the peer's next message arrives within {@code millis}. */
    private void deadline(long millis) {
        clearDeadline();
        deadline = executor.schedule(() -> {
            if (!ended) {
                fail(new TransportException.NatTraversalFailed("punch with " + channel.peer() + ": no message from "
                        + "the peer in " + millis + " ms (round " + round + ")", null), true,
                        PunchStats.Failure.PEER_SILENT);
            }
        }, millis, TimeUnit.MILLISECONDS);
    }

    private void clearDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    /** Sends in order, one at a time, as the channel asks; a failed send fails the session. */
    private void send(PunchMessage m) {
        sends = sends.thenCompose(v -> channel.send(m).toCompletableFuture());
        sends.whenComplete((v, e) -> {
            if (e != null) {
                executor.execute(() -> fail(e instanceof CompletionException && e.getCause() != null ? e.getCause()
                        : e, false, PunchStats.Failure.STREAM_CLOSED));
            }
        });
    }

    // ------------------------------------------------------------------ probes

    private void startProbing() {
        if (ended) {
            return;
        }
        probing = true;
        for (long offset : schedule.probeOffsets()) {
            timers.add(executor.schedule(this::probeAll, offset, TimeUnit.MILLISECONDS));
        }
        if (role == Role.INITIATOR) {
            timers.add(executor.schedule(this::roundLost, schedule.roundMillis(), TimeUnit.MILLISECONDS));
        }
    }

    private void probeAll() {
        if (!ended && probing) {
            for (InetSocketAddress to : List.copyOf(targets)) {
                probeOne(to);
            }
        }
    }

    private void probeOne(InetSocketAddress to) {
        byte[] txid = probe.transactionId(role == Role.INITIATOR, round, probeSeq++);
        sent.put(HexFormat.of().formatHex(txid), to);
        probesSent.incrementAndGet();
        socket.send(to, probe.request(txid));
    }

    private void roundLost() {
        if (ended) {
            return;
        }
        if (round < schedule.rounds()) {
            startRound(round + 1);
            return;
        }
        String reason = "no probe answered in " + schedule.rounds() + " rounds of " + schedule.roundMillis()
                + " ms to " + targets.size() + " candidate addresses";
        send(new Abort(sessionId, round, AbortCode.NO_PATH, reason));
        fail(new TransportException.NatTraversalFailed("punch with " + channel.peer() + ": " + reason, null), false,
                PunchStats.Failure.NO_PATH);
    }

    private void datagram(InetSocketAddress from, byte[] data) {
        if (ended || probe == null) {
            return;
        }
        Optional<Probe.Received> read = probe.read(data);
        if (read.isEmpty()) {
            dropped.incrementAndGet();
            return;
        }
        if (!policy.allows(from)) {
            refused.incrementAndGet();
            return;
        }
        Probe.Received p = read.get();
        if (p.request()) {
            socket.send(from, probe.response(p.transactionId(), from));
            repliesSent.incrementAndGet();
            answered.add(from);
            if (!targets.contains(from) && peerReflexive.size() < MAX_PEER_REFLEXIVE && peerReflexive.add(from)) {
                learned.incrementAndGet();
                targets.add(from);
                if (probing) {
                    probeOne(from); // a triggered check: the peer's NAT now lets us through to there
                }
            }
            return;
        }
        if (!sent.containsKey(HexFormat.of().formatHex(p.transactionId()))) {
            dropped.incrementAndGet();
            return;
        }
        if (role == Role.INITIATOR && probing) {
            Result r = new Result(sessionId, round, Protocol.UDP, p.mapped().orElseThrow(), from);
            send(r);
            succeed(new Outcome(round, socket.localAddress(), from));
        }
    }

    // ------------------------------------------------------------------ the end

    /** Ends with the path, once the last message (RESULT) is sent. */
    private void succeed(Outcome o) {
        end();
        sends.whenComplete((v, e) -> outcome.complete(o));
    }

    private static PunchStats.Failure violationOr(Throwable cause, PunchStats.Failure otherwise) {
        return cause instanceof TransportException.ProtocolViolation ? PunchStats.Failure.PROTOCOL_VIOLATION
                : otherwise;
    }

    /** @return why the session failed, once it did; null before and when it found a path */
    PunchStats.Failure failure() {
        return failure;
    }

    /** Ends with a failure, once ABORT (when the peer is to be told) is sent or failed. */
    private void fail(Throwable cause, boolean tellPeer, PunchStats.Failure why) {
        if (ended) {
            return;
        }
        failure = why;
        if (tellPeer && sessionId != null) {
            AbortCode code = cause instanceof TransportException.ProtocolViolation ? AbortCode.PROTOCOL_VIOLATION
                    : AbortCode.TIMEOUT;
            send(new Abort(sessionId, Math.max(1, round), code, String.valueOf(cause.getMessage())));
        }
        end();
        sends.whenComplete((v, e) -> outcome.completeExceptionally(cause));
    }

    private void end() {
        ended = true;
        cancelTimers();
        clearDeadline();
        stopReceiving.run();
    }

    private void cancelTimers() {
        timers.forEach(t -> t.cancel(false));
        timers.clear();
    }
}
