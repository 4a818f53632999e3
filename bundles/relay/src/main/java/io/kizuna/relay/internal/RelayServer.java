package io.kizuna.relay.internal;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

/**
 * The relay service's logic, without the framework: it takes every
 * {@value RelayCodec#PROTOCOL} stream the connection manager hands over (the
 * stream's PeerId was authenticated by the transport), and serves reservations,
 * circuit requests, circuit acceptances and status queries on them.
 *
 * <p>A reservation lives as long as its stream and its lifetime (renewed by a new
 * RESERVE on the same stream). A dialer's CONNECT is announced to the reserved
 * peer on that stream (INCOMING); the peer opens a new stream with ACCEPT; both
 * get CONNECTED and the relay splices the two streams. Every refusal is a
 * REFUSED message with a reason and is counted.
 */
final class RelayServer {

    private static final System.Logger LOG = System.getLogger(RelayServer.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A held reservation. */
    final class Reservation {
        final PeerId peer;
        final Connection stream;
        final InetSocketAddress source;
        final Instant since = Instant.now();
        volatile Quota quota;
        volatile Instant expires;
        private ScheduledFuture<?> expiry;
        private CompletableFuture<Void> writes = CompletableFuture.completedFuture(null);

        Reservation(PeerId peer, Connection stream, InetSocketAddress source) {
            this.peer = peer;
            this.stream = stream;
            this.source = source;
        }

        synchronized CompletableFuture<Void> send(RelayMessage m) {
            writes = writes.thenCompose(v -> RelayCodec.write(stream, m)).toCompletableFuture();
            return writes;
        }

        synchronized void renew(Quota q) {
            quota = q;
            expires = Instant.now().plus(settings.reservationTtl());
            if (expiry != null) {
                expiry.cancel(false);
            }
            expiry = timer.schedule(() -> drop(this, "expired"), settings.reservationTtl().toMillis(),
                    TimeUnit.MILLISECONDS);
        }

        /** @return what per-source limits count this reservation under */
        InetAddress sourceKey() {
            return SourceKey.of(source.getAddress());
        }

        synchronized void cancelExpiry() {
            if (expiry != null) {
                expiry.cancel(false);
            }
        }
    }

    /** A circuit waiting for the reserved peer to accept it. */
    private record Pending(String id, Ends ends, Connection dialerStream, Reservation target, Quota quota,
            ScheduledFuture<?> timeout) {
    }

    /** What a circuit counts against: both peers, and its dialer's source (a {@link SourceKey}) with the target. */
    private record Ends(PeerId dialer, PeerId target, InetAddress source) {
        Dialer pair() {
            return new Dialer(source, target);
        }
    }

    /** One dialer (by source) to one reserved peer. */
    private record Dialer(InetAddress source, PeerId target) {
    }

    private final RelaySettings settings;
    private final ScheduledExecutorService timer;
    private final Executor pool;
    private final Splice.Tap tap;
    private final SourceRateLimiter rate;
    private final SourceRateLimiter reservationRate;
    private final TokenBucket totalBandwidth;
    private final Object lock = new Object();
    private final Map<PeerId, List<Reservation>> reservations = new HashMap<>();
    private final Map<String, Pending> pending = new HashMap<>();
    private final Map<String, Splice> circuits = new HashMap<>();
    private final Map<String, Ends> circuitEnds = new HashMap<>();
    private final Map<PeerId, Integer> circuitsPerPeer = new HashMap<>();
    private final Map<Dialer, Integer> circuitsPerDialer = new HashMap<>();
    private final Map<InetAddress, Integer> circuitsPerSource = new HashMap<>();
    private final Map<InetAddress, Integer> reservationsPerSource = new HashMap<>();
    private int reservationCount;
    private volatile boolean open = true;

    private final AtomicLong reservationsGranted = new AtomicLong();
    private final AtomicLong circuitsOpened = new AtomicLong();
    private final AtomicLong bytesForwarded = new AtomicLong();
    private final AtomicLong protocolViolations = new AtomicLong();
    private final Map<Reason, AtomicLong> refusals = new EnumMap<>(Reason.class);

    RelayServer(RelaySettings settings, ScheduledExecutorService timer, Executor pool, Splice.Tap tap) {
        this.settings = settings;
        this.timer = timer;
        this.pool = pool;
        this.tap = b -> {
            bytesForwarded.addAndGet(b.remaining());
            tap.forwarded(b);
        };
        this.rate = new SourceRateLimiter(settings.streamsPerSource());
        this.reservationRate = new SourceRateLimiter(settings.reservationsPerSourcePerMinute(), Duration.ofMinutes(1));
        this.totalBandwidth = new TokenBucket(settings.totalBytesPerSecond(), timer);
        for (Reason r : Reason.values()) {
            refusals.put(r, new AtomicLong());
        }
    }

    RelaySettings settings() {
        return settings;
    }

    // ------------------------------------------------------------------ streams

    /**
     * Serves one relay stream; never blocks.
     *
     * @param stream a stream opened with {@value RelayCodec#PROTOCOL}
     */
    void handle(Connection stream) {
        ConnectionInfo info = stream.info();
        PeerId peer = info.peerId();
        InetSocketAddress source = info.remoteAddress();
        if (!open) {
            refuse(stream, Reason.NO_RELAY, "the relay service is stopping");
            return;
        }
        if (!rate.allow(SourceKey.of(source.getAddress()), System.nanoTime())) {
            refuse(stream, Reason.RATE_LIMITED, source.getAddress().getHostAddress() + " opened more than "
                    + settings.streamsPerSource() + " relay streams in one second (maxNewStreamsPerSourcePerSecond)");
            return;
        }
        if (!settings.allowPrivateAddresses() && AddressPolicy.isPrivate(source.getAddress())) {
            refuse(stream, Reason.ADDRESS_NOT_ALLOWED, "this relay does not serve loopback or private sources such as "
                    + source.getAddress().getHostAddress() + " (allowPrivateAddresses=false)");
            return;
        }
        RelayCodec.read(stream).toCompletableFuture()
                .orTimeout(settings.acceptTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .whenCompleteAsync((m, e) -> {
                    if (e != null) {
                        violation(stream, peer, e);
                    } else if (m instanceof RelayMessage.Reserve r) {
                        reserve(stream, peer, source, r);
                    } else if (m instanceof RelayMessage.Connect c) {
                        connect(stream, peer, source, c);
                    } else if (m instanceof RelayMessage.Accept a) {
                        accept(stream, peer, a);
                    } else if (m instanceof RelayMessage.Status) {
                        RelayCodec.write(stream, status()).thenCompose(v -> stream.close());
                    } else {
                        violation(stream, peer, new TransportException.ProtocolViolation(
                                "a relay stream may not start with " + m.getClass().getSimpleName()));
                    }
                }, pool);
    }

    private void violation(Connection stream, PeerId peer, Throwable e) {
        Throwable t = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        if (t instanceof TimeoutException) {
            LOG.log(System.Logger.Level.DEBUG, "relay stream from " + peer + " sent nothing in time; closed");
        } else {
            protocolViolations.incrementAndGet();
            LOG.log(System.Logger.Level.INFO, "relay stream from " + peer + " closed: " + t.getMessage());
        }
        stream.close();
    }

    private void refuse(Connection stream, Reason reason, String why) {
        refusals.get(reason).incrementAndGet();
        LOG.log(System.Logger.Level.INFO, "relay refused " + stream.info().peerId() + " (" + reason + "): " + why);
        RelayCodec.write(stream, new RelayMessage.Refused(reason, why))
                .handle((v, e) -> null).thenCompose(v -> stream.close());
    }

    // ------------------------------------------------------------------ reservations

    private void reserve(Connection stream, PeerId peer, InetSocketAddress source, RelayMessage.Reserve r) {
        Admission.Decision d = settings.admission().check(peer, r.token(), Instant.now());
        if (!d.admitted()) {
            refuse(stream, d.refusal(), d.why());
            return;
        }
        Reservation res = new Reservation(peer, stream, source);
        InetAddress from = res.sourceKey();
        synchronized (lock) {
            List<Reservation> mine = reservations.getOrDefault(peer, List.of());
            if (mine.size() >= settings.maxReservationsPerPeer()) {
                refuse(stream, Reason.RESERVATIONS_PER_PEER, peer + " already holds " + mine.size()
                        + " reservation(s) (maxReservationsPerPeer=" + settings.maxReservationsPerPeer() + ")");
                return;
            }
            if (reservationCount >= settings.maxReservations()) {
                refuse(stream, Reason.RESERVATIONS_TOTAL, "the relay holds " + reservationCount
                        + " reservations (maxReservations=" + settings.maxReservations() + ")");
                return;
            }
            int here = reservationsPerSource.getOrDefault(from, 0);
            if (here >= settings.maxReservationsPerSource()) {
                refuse(stream, Reason.SOURCE_LIMIT, "peers at " + from.getHostAddress() + " already hold " + here
                        + " reservations (maxReservationsPerSource=" + settings.maxReservationsPerSource() + ")");
                return;
            }
            if (!reservationRate.allow(from, System.nanoTime())) {
                refuse(stream, Reason.RATE_LIMITED, from.getHostAddress() + " made more than "
                        + settings.reservationsPerSourcePerMinute()
                        + " reservations in one minute (maxNewReservationsPerSourcePerMinute)");
                return;
            }
            reservations.computeIfAbsent(peer, k -> new ArrayList<>()).add(res);
            reservationsPerSource.merge(from, 1, RelayServer::sum);
            reservationCount++;
        }
        reservationsGranted.incrementAndGet();
        res.renew(d.quota());
        stream.closeFuture().whenComplete((v, e) -> drop(res, "its stream closed"));
        res.send(reserved(d.quota())).whenComplete((v, e) -> {
            if (e != null) {
                drop(res, "the answer could not be sent");
            } else {
                LOG.log(System.Logger.Level.INFO, "relay reservation for " + peer + " from " + source);
                readRenewals(res);
            }
        });
    }

    private RelayMessage.Reserved reserved(Quota q) {
        Quota c = settings.circuitQuota().and(q);
        return new RelayMessage.Reserved(settings.reservationTtl().toSeconds(), c.maxBytes(), c.maxSeconds(),
                c.rate());
    }

    /** Reads RESERVE renewals on a reservation stream until it ends. */
    private void readRenewals(Reservation res) {
        RelayCodec.read(res.stream).whenCompleteAsync((m, e) -> {
            if (e != null) {
                drop(res, "its stream ended");
                return;
            }
            if (!(m instanceof RelayMessage.Reserve r)) {
                protocolViolations.incrementAndGet();
                drop(res, "it sent " + m.getClass().getSimpleName() + " on a reservation stream");
                return;
            }
            Admission.Decision d = settings.admission().check(res.peer, r.token(), Instant.now());
            if (!d.admitted()) {
                refusals.get(d.refusal()).incrementAndGet();
                res.send(new RelayMessage.Refused(d.refusal(), d.why()));
                drop(res, "renewal refused: " + d.why());
                return;
            }
            res.renew(d.quota());
            res.send(reserved(d.quota()));
            readRenewals(res);
        }, pool);
    }

    private void drop(Reservation res, String why) {
        List<String> waiting = new ArrayList<>();
        synchronized (lock) {
            List<Reservation> mine = reservations.get(res.peer);
            if (mine == null || !mine.remove(res)) {
                return;
            }
            if (mine.isEmpty()) {
                reservations.remove(res.peer);
            }
            reservationsPerSource.merge(res.sourceKey(), -1, RelayServer::sum);
            reservationCount--;
            for (Pending p : pending.values()) {
                if (p.target() == res) {
                    waiting.add(p.id());
                }
            }
        }
        res.cancelExpiry();
        LOG.log(System.Logger.Level.INFO, "relay reservation of " + res.peer + " dropped: " + why);
        res.stream.close();
        // A circuit announced on it will not be taken: its dialer learns at once, not after acceptTimeout.
        for (String id : waiting) {
            abandon(id, Reason.NO_RESERVATION, res.peer + " gave up its reservation before taking the circuit");
        }
    }

    // ------------------------------------------------------------------ circuits

    private void connect(Connection stream, PeerId dialer, InetSocketAddress source, RelayMessage.Connect c) {
        Admission.Decision d = settings.admission().check(dialer, c.token(), Instant.now());
        if (!d.admitted()) {
            refuse(stream, d.refusal(), d.why());
            return;
        }
        PeerId target = c.target();
        Pending p;
        synchronized (lock) {
            List<Reservation> held = reservations.getOrDefault(target, List.of());
            if (held.isEmpty()) {
                refuse(stream, Reason.NO_RESERVATION, target + " holds no reservation on this relay");
                return;
            }
            int total = circuits.size() + pending.size();
            if (total >= settings.maxCircuits()) {
                refuse(stream, Reason.CIRCUITS_TOTAL, "the relay has " + total + " circuits (maxCircuits="
                        + settings.maxCircuits() + ")");
                return;
            }
            for (PeerId end : List.of(dialer, target)) {
                int n = circuitsPerPeer.getOrDefault(end, 0);
                if (n >= settings.maxCircuitsPerPeer()) {
                    refuse(stream, Reason.CIRCUITS_PER_PEER, end + " is an end of " + n
                            + " circuits (maxCircuitsPerPeer=" + settings.maxCircuitsPerPeer() + ")");
                    return;
                }
            }
            Ends ends = new Ends(dialer, target, SourceKey.of(source.getAddress()));
            int fromHere = circuitsPerDialer.getOrDefault(ends.pair(), 0);
            if (fromHere >= settings.maxCircuitsPerDialer()) {
                refuse(stream, Reason.CIRCUITS_PER_PEER, ends.source().getHostAddress() + " already has " + fromHere
                        + " circuits to " + target + " (maxCircuitsPerDialer=" + settings.maxCircuitsPerDialer()
                        + ")");
                return;
            }
            int fromSource = circuitsPerSource.getOrDefault(ends.source(), 0);
            if (fromSource >= settings.maxCircuitsPerSource()) {
                refuse(stream, Reason.SOURCE_LIMIT, ends.source().getHostAddress() + " already dialed " + fromSource
                        + " circuits (maxCircuitsPerSource=" + settings.maxCircuitsPerSource() + ")");
                return;
            }
            Reservation res = held.get(held.size() - 1);
            byte[] raw = new byte[RelayCodec.CIRCUIT_ID_LENGTH];
            RANDOM.nextBytes(raw);
            String id = HexFormat.of().formatHex(raw);
            ScheduledFuture<?> timeout = timer.schedule(() -> acceptTimedOut(id), settings.acceptTimeout().toMillis(),
                    TimeUnit.MILLISECONDS);
            p = new Pending(id, ends, stream, res, settings.circuitQuota().and(d.quota()).and(res.quota), timeout);
            pending.put(id, p);
            countCircuit(ends, 1);
            p.target().send(new RelayMessage.Incoming(raw, dialer, source)).whenComplete((v, e) -> {
                if (e != null) {
                    abandon(id, Reason.NO_RESERVATION, target + " could not be told of the circuit");
                }
            });
        }
        stream.closeFuture().whenComplete((v, e) -> abandon(p.id(), null, "the dialer left"));
    }

    /** Counts a circuit in (+1) or out (-1) of every limit it is under; holds the lock. */
    private void countCircuit(Ends ends, int delta) {
        circuitsPerPeer.merge(ends.dialer(), delta, RelayServer::sum);
        circuitsPerPeer.merge(ends.target(), delta, RelayServer::sum);
        circuitsPerDialer.merge(ends.pair(), delta, RelayServer::sum);
        circuitsPerSource.merge(ends.source(), delta, RelayServer::sum);
    }

    private static Integer sum(Integer a, Integer b) {
        return a + b == 0 ? null : a + b;
    }

    private void acceptTimedOut(String id) {
        abandon(id, Reason.TARGET_TIMEOUT, "the reserved peer did not take the circuit within "
                + settings.acceptTimeout().toMillis() + " ms");
    }

    /** Drops a pending circuit; refuses the dialer when a reason is given. */
    private void abandon(String id, Reason reason, String why) {
        Pending p;
        synchronized (lock) {
            p = pending.remove(id);
            if (p == null) {
                return;
            }
            countCircuit(p.ends(), -1);
        }
        p.timeout().cancel(false);
        if (reason != null) {
            refuse(p.dialerStream(), reason, why);
        }
    }

    private void accept(Connection stream, PeerId peer, RelayMessage.Accept a) {
        String id = HexFormat.of().formatHex(a.circuit());
        Pending p;
        synchronized (lock) {
            p = pending.get(id);
            if (p == null || !p.target().peer.equals(peer)) {
                p = null;
            } else {
                pending.remove(id);
            }
        }
        if (p == null) {
            refuse(stream, Reason.OTHER, "no circuit " + id + " waits for " + peer);
            return;
        }
        p.timeout().cancel(false);
        Pending ok = p;
        Splice s = new Splice(id, p.ends().dialer(), peer, p.dialerStream(), stream, p.quota(),
                settings.circuitIdle(), totalBandwidth, timer, pool, tap, this::ended);
        synchronized (lock) {
            circuits.put(id, s);
            circuitEnds.put(id, p.ends());
        }
        circuitsOpened.incrementAndGet();
        CompletableFuture.allOf(
                RelayCodec.write(ok.dialerStream(), new RelayMessage.Connected()).toCompletableFuture(),
                RelayCodec.write(stream, new RelayMessage.Connected()).toCompletableFuture())
                .whenComplete((v, e) -> {
                    if (e != null) {
                        s.end(null);
                    } else {
                        LOG.log(System.Logger.Level.INFO, "relay circuit " + id + " " + ok.ends().dialer() + " -> "
                                + peer);
                        s.start();
                    }
                });
    }

    private void ended(Splice s, Reason reason) {
        synchronized (lock) {
            if (circuits.remove(s.id()) == null) {
                return;
            }
            countCircuit(circuitEnds.remove(s.id()), -1);
        }
        if (reason != null) {
            refusals.get(reason).incrementAndGet();
        }
        LOG.log(System.Logger.Level.INFO, "relay circuit " + s.id() + " ended after " + s.bytes() + " bytes"
                + (reason == null ? "" : " (" + reason + ")"));
    }

    // ------------------------------------------------------------------ status

    RelayMessage.StatusReply status() {
        synchronized (lock) {
            return new RelayMessage.StatusReply(Math.max(0, settings.maxReservations() - reservationCount),
                    Math.max(0, settings.maxCircuits() - circuits.size() - pending.size()));
        }
    }

    /** One reservation, for the shell. */
    record ReservationView(PeerId peer, InetSocketAddress source, Instant since, Instant expires) {
    }

    /** One circuit, for the shell. */
    record CircuitView(String id, PeerId dialer, PeerId target, long bytes, Instant started) {
    }

    /** The counters, for the shell and tests. */
    record Counters(long reservationsGranted, long circuitsOpened, long bytesForwarded, long protocolViolations,
            Map<Reason, Long> refusals) {
    }

    List<ReservationView> reservations() {
        synchronized (lock) {
            List<ReservationView> out = new ArrayList<>();
            reservations.values().forEach(l -> l.forEach(r -> out.add(
                    new ReservationView(r.peer, r.source, r.since, r.expires))));
            return out;
        }
    }

    List<CircuitView> circuits() {
        synchronized (lock) {
            return circuits.values().stream()
                    .map(s -> new CircuitView(s.id(), s.dialer(), s.target(), s.bytes(), s.started())).toList();
        }
    }

    Counters counters() {
        Map<Reason, Long> r = new EnumMap<>(Reason.class);
        refusals.forEach((k, v) -> {
            if (v.get() > 0) {
                r.put(k, v.get());
            }
        });
        return new Counters(reservationsGranted.get(), circuitsOpened.get(), bytesForwarded.get(),
                protocolViolations.get(), r);
    }

    /** Stops serving: every reservation and circuit is closed. */
    CompletionStage<Void> close() {
        open = false;
        List<Reservation> res = new ArrayList<>();
        List<Splice> spl;
        List<Pending> pend;
        synchronized (lock) {
            reservations.values().forEach(res::addAll);
            spl = new ArrayList<>(circuits.values());
            pend = new ArrayList<>(pending.values());
        }
        pend.forEach(p -> abandon(p.id(), Reason.NO_RELAY, "the relay service is stopping"));
        spl.forEach(s -> s.end(null));
        List<CompletableFuture<Void>> closing = new ArrayList<>();
        for (Reservation r : res) {
            drop(r, "the relay service is stopping");
            closing.add(r.stream.closeFuture().toCompletableFuture().handle((v, e) -> null));
        }
        return CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new));
    }
}
