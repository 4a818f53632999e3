package io.kizuna.core.internal;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.core.internal.protocol.FrameReader;
import io.kizuna.core.internal.protocol.FrameWriter;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * The control protocol on one pooled connection: HELLO both ways first, then
 * PING/PONG, GOAWAY and ERROR. Any other message, a second HELLO, a HELLO
 * naming another PeerId than the transport authenticated, or bytes that are no
 * frame are a protocol violation: the session sends ERROR, closes this
 * connection only, and the manager logs and counts it.
 */
final class ControlSession {

    private static final System.Logger LOG = System.getLogger(ControlSession.class.getName());

    /** Frames that may wait behind the one being written. */
    private static final int MAX_QUEUED_FRAMES = 64;

    /** Pings that may wait for their pong at once. */
    static final int MAX_PENDING_PINGS = 16;

    /** Bytes read per call on the control connection. */
    private static final int READ_BUFFER = 8 * 1024;

    private record PendingPing(long startNanos, CompletableFuture<Long> rtt) {
    }

    private final ConnectionManagerImpl manager;
    private final Connection connection;
    private final TransportEntry transport;
    private final PeerId peer;
    private final Direction direction;
    private final FrameWriter writer;
    private final FrameReader reader;
    private final CompletableFuture<ControlMessage.Hello> hello = new CompletableFuture<>();
    private final Map<Long, PendingPing> pings = new HashMap<>();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final AtomicInteger streams = new AtomicInteger();
    private volatile long lastActivityNanos = System.nanoTime();
    private volatile long rttNanos = -1;
    private volatile ScheduledFuture<?> idleCheck;
    private volatile String upgradeOf;
    private volatile Duration afterRelay;

    ControlSession(ConnectionManagerImpl manager, Connection connection, TransportEntry transport) {
        this.manager = manager;
        this.connection = connection;
        this.transport = transport;
        ConnectionInfo info = connection.info();
        this.peer = info.peerId();
        this.direction = info.direction();
        this.writer = new FrameWriter(connection, MAX_QUEUED_FRAMES);
        this.reader = new FrameReader(connection, manager.wire().decoder(), READ_BUFFER, false);
    }

    /** Sends this node's HELLO and starts reading. */
    void start() {
        connection.closeFuture().whenComplete((v, e) -> closed());
        send(manager.localHello(connection));
        readLoop();
        scheduleIdleCheck(manager.settings().idleTimeout());
    }

    Connection connection() {
        return connection;
    }

    TransportEntry transport() {
        return transport;
    }

    String protocol() {
        return transport.protocol;
    }

    PeerId peer() {
        return peer;
    }

    Direction direction() {
        return direction;
    }

    /**
     * @param protocol   the transport of the relayed session this one was set up over, to stand in for it
     * @param afterRelay from the relayed connection's handshake to this one's: how long the upgrade took
     */
    void upgradeOf(String protocol, Duration afterRelay) {
        upgradeOf = protocol;
        this.afterRelay = afterRelay;
    }

    /**
     * @param protocols transport names an address offers; empty for any
     * @return whether this session may carry traffic for such an address: over its own
     *         transport, or as the upgrade of a relayed session over one of them
     */
    boolean serves(Set<String> protocols) {
        String u = upgradeOf;
        return protocols.isEmpty() || protocols.contains(protocol()) || (u != null && protocols.contains(u));
    }

    /** @return completes with the peer's HELLO once it arrived and was checked */
    CompletableFuture<ControlMessage.Hello> hello() {
        return hello;
    }

    /** @return whether the session can carry pings and streams */
    boolean usable() {
        return hello.isDone() && !hello.isCompletedExceptionally() && !closing.get() && connection.isConnected()
                && !transport.removed();
    }

    Optional<Duration> rtt() {
        long r = rttNanos;
        return r < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(r));
    }

    /**
     * @return the connection's info, with the manager's RTT measurement when the transport has none, and, for
     *         the upgrade of a relayed connection, how long after the relayed one it came
     *         ({@code punched, round 1, 52 ms after relay})
     */
    ConnectionInfo info() {
        ConnectionInfo i = connection.info();
        if (i.rtt().isEmpty() && rttNanos >= 0) {
            i = i.withRtt(rtt());
        }
        Duration after = afterRelay;
        if (after != null) {
            String made = i.path().orElse("upgraded");
            i = i.withPath(Optional.of(made + ", " + after.toMillis() + " ms after relay"));
        }
        return i;
    }

    /** @return the remote endpoint of the connection, as peers write it */
    Optional<Endpoint> remoteEndpoint() {
        ConnectionInfo i = connection.info();
        try {
            return Optional.of(new Endpoint(transport.protocol, i.remoteAddress(), i.via()));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    void streamOpened() {
        streams.incrementAndGet();
    }

    void streamClosed() {
        streams.decrementAndGet();
    }

    // ------------------------------------------------------------------ ping

    /** @return the round-trip time in nanoseconds */
    CompletableFuture<Long> ping() {
        if (closing.get() || !connection.isConnected()) {
            return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("the " + protocol()
                    + " control connection to " + peer + " is closing; ping again to use a new one", null));
        }
        long nonce;
        PendingPing p = new PendingPing(System.nanoTime(), new CompletableFuture<>());
        synchronized (pings) {
            if (pings.size() >= MAX_PENDING_PINGS) {
                return CompletableFuture.failedFuture(new TransportException.LimitExceeded("pending pings",
                        MAX_PENDING_PINGS, "pinging " + peer + " over " + protocol()));
            }
            do {
                nonce = manager.random().nextLong();
            } while (pings.containsKey(nonce));
            pings.put(nonce, p);
        }
        long key = nonce;
        Duration timeout = manager.settings().pingTimeout();
        Async.within(p.rtt(), timeout, manager.timer(), () -> new TransportException.ConnectionTimeout("ping of "
                + peer + " over " + protocol() + " (no pong)", timeout));
        p.rtt().whenComplete((r, e) -> {
            synchronized (pings) {
                pings.remove(key);
            }
        });
        send(new ControlMessage.Ping(nonce)).whenComplete((v, e) -> {
            if (e != null) {
                p.rtt().completeExceptionally(new TransportException.Io("sending a ping to " + peer + " over "
                        + protocol() + " failed: " + Async.transportFailure(e).getMessage(), Async.unwrap(e)));
            }
        });
        return p.rtt();
    }

    // ------------------------------------------------------------------ reading

    private void readLoop() {
        while (true) {
            CompletableFuture<ControlMessage> f = reader.next();
            if (!f.isDone()) {
                f.whenComplete((m, e) -> {
                    if (handle(m, e)) {
                        readLoop();
                    }
                });
                return;
            }
            ControlMessage m = null;
            Throwable e = null;
            try {
                m = f.join();
            } catch (CompletionException x) {
                e = x.getCause();
            }
            if (!handle(m, e)) {
                return;
            }
        }
    }

    /** @return whether to read on */
    private boolean handle(ControlMessage m, Throwable failure) {
        if (failure != null) {
            Throwable e = Async.unwrap(failure);
            if (e instanceof TransportException.ProtocolViolation v) {
                violation(v);
            } else {
                if (!closing.get()) {
                    LOG.log(System.Logger.Level.DEBUG, "control connection " + describe() + " failed: " + e);
                }
                close(null);
            }
            return false;
        }
        if (m == null) {
            LOG.log(System.Logger.Level.DEBUG, "control connection " + describe() + ": the peer closed it");
            close(null);
            return false;
        }
        touch();
        if (m instanceof ControlMessage.Hello h) {
            return hello(h);
        }
        if (m instanceof ControlMessage.GoAway g) {
            LOG.log(System.Logger.Level.INFO, "peer " + peer.shortForm() + " closes control connection "
                    + describe() + ": " + g.reason());
            close(null);
            return false;
        }
        if (m instanceof ControlMessage.Error er) {
            LOG.log(System.Logger.Level.WARNING, "peer " + peer.shortForm() + " reported an error on control "
                    + "connection " + describe() + " (code " + er.code() + "): " + er.reason());
            close(null);
            return false;
        }
        if (!hello.isDone()) {
            return violation(new TransportException.ProtocolViolation("expected HELLO as the first message of a "
                    + "control session, got " + m.type()));
        }
        if (m instanceof ControlMessage.Ping p) {
            send(new ControlMessage.Pong(p.nonce()));
            return true;
        }
        if (m instanceof ControlMessage.Pong p) {
            PendingPing pending;
            synchronized (pings) {
                pending = pings.remove(p.nonce());
            }
            if (pending == null) {
                // A pong after its ping timed out, or one that echoes no nonce of ours: not an error.
                LOG.log(System.Logger.Level.DEBUG, "control connection " + describe()
                        + ": pong with an unknown nonce ignored");
                return true;
            }
            long rtt = System.nanoTime() - pending.startNanos();
            rttNanos = rtt;
            manager.measured(this, rtt);
            pending.rtt().complete(rtt);
            return true;
        }
        return violation(new TransportException.ProtocolViolation("unexpected " + m.type()
                + " on an established control session"));
    }

    private boolean hello(ControlMessage.Hello h) {
        if (hello.isDone()) {
            return violation(new TransportException.ProtocolViolation("a second HELLO on one control session"));
        }
        if (!h.peerId().equals(peer)) {
            return violation(new TransportException.ProtocolViolation("HELLO claims PeerId " + h.peerId()
                    + " but the " + protocol() + " transport authenticated " + peer));
        }
        if (h.version() != ConnectionManagerImpl.CONTROL_VERSION) {
            return violation(new TransportException.ProtocolViolation("peer speaks control protocol version "
                    + h.version() + "; this node speaks " + ConnectionManagerImpl.CONTROL_VERSION));
        }
        manager.helloReceived(this, h);
        hello.complete(h);
        return true;
    }

    /** Reports a violation: counted and logged by the manager, ERROR to the peer, this connection closed. */
    private boolean violation(TransportException.ProtocolViolation v) {
        manager.violation(connection, v);
        if (closing.compareAndSet(false, true)) {
            cancelIdleCheck();
            CompletableFuture<Void> sent = writer.send(manager.wire().encode(new ControlMessage.Error(
                    ControlMessage.Codes.PROTOCOL_VIOLATION, v.getMessage())));
            Async.closeAfter(sent, connection, manager.settings().closeTimeout(), manager.timer());
        }
        // Only now: whoever waits for the hello closes the session too, after the ERROR is queued.
        hello.completeExceptionally(v);
        return false;
    }

    // ------------------------------------------------------------------ writing, closing

    private CompletableFuture<Void> send(ControlMessage m) {
        CompletableFuture<Void> sent = writer.send(manager.wire().encode(m));
        sent.whenComplete((v, e) -> {
            if (e == null) {
                touch();
            } else if (!closing.get()) {
                LOG.log(System.Logger.Level.DEBUG, "control connection " + describe() + ": sending " + m.type()
                        + " failed: " + Async.unwrap(e));
                close(null);
            }
        });
        return sent;
    }

    /**
     * Closes the connection; with a reason, a GOAWAY tells the peer why first.
     *
     * @param goAwayReason the reason to send, or null to close without a word
     * @return completes when the connection is closed
     */
    CompletableFuture<Void> close(String goAwayReason) {
        if (closing.compareAndSet(false, true)) {
            cancelIdleCheck();
            if (goAwayReason != null && connection.isConnected()) {
                CompletableFuture<Void> sent = writer.send(manager.wire().encode(
                        new ControlMessage.GoAway(goAwayReason)));
                Async.closeAfter(sent, connection, manager.settings().closeTimeout(), manager.timer());
            } else {
                connection.close();
            }
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        connection.closeFuture().whenComplete((v, e) -> done.complete(null));
        return done;
    }

    private void closed() {
        closing.set(true);
        cancelIdleCheck();
        TransportException gone = new TransportException.ConnectionFailed("the " + protocol()
                + " control connection to " + peer + " closed", null);
        hello.completeExceptionally(gone);
        java.util.List<PendingPing> waiting;
        synchronized (pings) {
            waiting = java.util.List.copyOf(pings.values());
            pings.clear();
        }
        waiting.forEach(p -> p.rtt().completeExceptionally(gone));
        manager.sessionClosed(this);
    }

    // ------------------------------------------------------------------ idle

    private void touch() {
        lastActivityNanos = System.nanoTime();
    }

    private void scheduleIdleCheck(Duration after) {
        Duration idle = manager.settings().idleTimeout();
        if (idle.isZero() || closing.get()) {
            return;
        }
        try {
            idleCheck = manager.timer().schedule(this::idleCheck, Math.max(1, after.toNanos()),
                    TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            // the manager is shutting down and closes this session itself
        }
    }

    private void idleCheck() {
        if (closing.get()) {
            return;
        }
        Duration idle = manager.settings().idleTimeout();
        long idleFor = System.nanoTime() - lastActivityNanos;
        if (streams.get() > 0) {
            scheduleIdleCheck(idle);
        } else if (idleFor >= idle.toNanos()) {
            LOG.log(System.Logger.Level.DEBUG, "closing control connection " + describe() + ": idle for "
                    + idle.toSeconds() + " s");
            close("idle for " + idle.toSeconds() + " s");
        } else {
            scheduleIdleCheck(Duration.ofNanos(idle.toNanos() - idleFor));
        }
    }

    private void cancelIdleCheck() {
        ScheduledFuture<?> f = idleCheck;
        if (f != null) {
            f.cancel(false);
        }
    }

    String describe() {
        ConnectionInfo i = connection.info();
        return i.id() + " (" + protocol() + ", " + i.direction().name().toLowerCase(java.util.Locale.ROOT) + ", peer "
                + peer.shortForm() + ")";
    }

    @Override
    public String toString() {
        return "control session " + describe();
    }
}
