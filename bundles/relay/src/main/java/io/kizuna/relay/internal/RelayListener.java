package io.kizuna.relay.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;

/**
 * Listening through a relay: keeps a reservation (renewed at half its lifetime),
 * takes the circuits the relay announces on it, and reserves again by itself when
 * the reservation stream ends, as when the relay restarts (after 0.5 s, doubling
 * up to the configured longest delay, until {@link #close()}).
 */
final class RelayListener implements Listener {

    private static final System.Logger LOG = System.getLogger(RelayListener.class.getName());
    private static final Duration FIRST_RETRY = Duration.ofMillis(500);
    /**
     * How long the first reservation is tried again when the relay cannot be
     * reached yet: at a node's start the transport that reaches the relay (tcp,
     * say) may register after the relay transport does.
     */
    static final Duration FIRST_WINDOW = Duration.ofSeconds(15);

    private final RelayTransport transport;
    private final PeerAddress relay;
    private final Endpoint.Hop hop;
    private final Consumer<Connection> acceptor;
    private final CompletableFuture<Void> firstReservation = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicLong reservations = new AtomicLong();
    private final AtomicLong accepted = new AtomicLong();
    private volatile Connection stream;
    private volatile ScheduledFuture<?> renewal;
    private volatile Instant expires;
    private volatile String lastError = "";
    private volatile Duration retry = FIRST_RETRY;
    private volatile boolean closing;
    private final long startedNanos = System.nanoTime();

    RelayListener(RelayTransport transport, PeerAddress relay, Consumer<Connection> acceptor) {
        this.transport = transport;
        this.relay = relay;
        this.hop = new Endpoint.Hop(relay.peerId(), relay.endpoints().get(0).protocol());
        this.acceptor = acceptor;
    }

    PeerAddress relay() {
        return relay;
    }

    /** @return whether a reservation is held now */
    boolean reserved() {
        Connection s = stream;
        Instant e = expires;
        return s != null && s.isConnected() && e != null && Instant.now().isBefore(e);
    }

    /** @return how many reservations were granted (the first, then one after each loss) */
    long reservationCount() {
        return reservations.get();
    }

    long acceptedCount() {
        return accepted.get();
    }

    Instant expires() {
        return expires;
    }

    String lastError() {
        return lastError;
    }

    CompletionStage<Void> closed() {
        return closed;
    }

    /** @return completes when the first reservation is held; fails with the relay's answer */
    CompletionStage<Void> start() {
        reserve();
        return firstReservation;
    }

    private void reserve() {
        if (closing) {
            return;
        }
        transport.openHop(relay).thenCompose(s -> {
            stream = s;
            if (closing) {
                s.close();
            }
            return transport.answerOf(s, RelayCodec.write(s, new RelayMessage.Reserve(transport.settings().token()))
                    .thenCompose(v -> RelayCodec.read(s)), "a reservation on relay " + relay).thenApply(m -> {
                        if (m instanceof RelayMessage.Reserved r) {
                            return r;
                        }
                        s.close();
                        throw new java.util.concurrent.CompletionException(
                                RelayTransport.answer(relay.peerId(), transport.identity().peerId(), m));
                    }).thenApply(r -> {
                        reserved(s, r);
                        return s;
                    });
        }).whenComplete((s, e) -> {
            if (e != null) {
                TransportException t = TransportException.unwrap(e);
                lastError = t.getMessage();
                if (!firstReservation.isDone() && !(unreachable(t) && withinFirstWindow())) {
                    firstReservation.completeExceptionally(t);
                    close();
                } else {
                    retryLater();
                }
            }
        });
    }

    private void reserved(Connection s, RelayMessage.Reserved r) {
        reservations.incrementAndGet();
        retry = FIRST_RETRY;
        lastError = "";
        expires = Instant.now().plusSeconds(r.ttlSeconds());
        scheduleRenewal(s, r.ttlSeconds());
        LOG.log(System.Logger.Level.INFO, "reservation held on relay " + relay + " for " + r.ttlSeconds() + " s");
        firstReservation.complete(null);
        s.closeFuture().whenComplete((v, e) -> lost(s, "the relay closed the reservation"));
        readNotices(s);
    }

    private void scheduleRenewal(Connection s, long ttlSeconds) {
        long delayMillis = Math.max(1000, ttlSeconds * 1000 / 2);
        renewal = transport.timer().schedule(() -> renew(s), delayMillis, TimeUnit.MILLISECONDS);
    }

    /** Renews; a relay that does not answer in time loses the stream, and this listener reserves again. */
    private void renew(Connection s) {
        Instant before = expires;
        RelayCodec.write(s, new RelayMessage.Reserve(transport.settings().token()));
        renewal = transport.timer().schedule(() -> {
            if (stream == s && expires == before) {
                lost(s, "the relay did not answer the renewal within "
                        + transport.settings().handshakeTimeout().toMillis() + " ms");
                s.close();
            }
        }, transport.settings().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Reads INCOMING notices and renewal answers until the stream ends. */
    private void readNotices(Connection s) {
        RelayCodec.read(s).whenCompleteAsync((m, e) -> {
            if (e != null) {
                lost(s, TransportException.unwrap(e).getMessage());
                return;
            }
            if (m instanceof RelayMessage.Incoming in) {
                take(in);
            } else if (m instanceof RelayMessage.Reserved r) {
                expires = Instant.now().plusSeconds(r.ttlSeconds());
                scheduleRenewal(s, r.ttlSeconds());
            } else if (m instanceof RelayMessage.Refused r) {
                lastError = RelayCodec.failure(relay.peerId(), r).getMessage();
                s.close();
                return;
            } else {
                lost(s, "the relay sent " + m.getClass().getSimpleName() + " on the reservation stream");
                s.close();
                return;
            }
            readNotices(s);
        }, transport.pool());
    }

    private void take(RelayMessage.Incoming in) {
        transport.openHop(relay).thenCompose(s -> transport.answerOf(s, RelayCodec.write(s,
                new RelayMessage.Accept(in.circuit())).thenCompose(v -> RelayCodec.read(s)),
                "the circuit from " + in.dialer() + " through relay " + relay.peerId()).thenCompose(m -> {
                    if (!(m instanceof RelayMessage.Connected)) {
                        s.close();
                        return CompletableFuture.failedFuture(
                                RelayTransport.answer(relay.peerId(), transport.identity().peerId(), m));
                    }
                    return CircuitConnection.accept(s, transport.identity(), transport.nettyTls(), in.dialer(), in.source(), hop,
                            transport.pool(), transport.timer(), transport.settings().handshakeTimeout())
                            .whenComplete((c, e) -> {
                                if (e != null) {
                                    s.close();
                                }
                            });
                })).whenComplete((c, e) -> {
                    if (e != null) {
                        LOG.log(System.Logger.Level.INFO, "circuit from " + in.dialer() + " through relay "
                                + relay.peerId() + " failed: " + TransportException.unwrap(e).getMessage());
                    } else if (closing) {
                        c.close();
                    } else {
                        accepted.incrementAndGet();
                        acceptor.accept(c);
                    }
                });
    }

    private void lost(Connection s, String why) {
        if (stream != s) {
            return;
        }
        stream = null;
        expires = null;
        ScheduledFuture<?> r = renewal;
        if (r != null) {
            r.cancel(false);
        }
        if (closing) {
            return;
        }
        lastError = why;
        LOG.log(System.Logger.Level.INFO, "reservation on relay " + relay + " lost (" + why + "); reserving again");
        retryLater();
    }

    /** The relay could not be reached (yet), as opposed to a relay that answered with a refusal. */
    private static boolean unreachable(TransportException t) {
        return t instanceof TransportException.ConnectionFailed || t instanceof TransportException.ConnectionTimeout
                || t instanceof TransportException.Io;
    }

    private boolean withinFirstWindow() {
        return System.nanoTime() - startedNanos < FIRST_WINDOW.toNanos();
    }

    private void retryLater() {
        if (closing) {
            return;
        }
        Duration d = retry;
        retry = d.multipliedBy(2).compareTo(transport.settings().maxRetryDelay()) > 0
                ? transport.settings().maxRetryDelay() : d.multipliedBy(2);
        transport.timer().schedule(this::reserve, d.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public InetSocketAddress localAddress() {
        return relay.endpoints().get(0).address();
    }

    @Override
    public Endpoint endpoint() {
        return Endpoint.via(RelayTransport.PROTOCOL_NAME, relay);
    }

    @Override
    public CompletionStage<Void> close() {
        if (!closing) {
            closing = true;
            ScheduledFuture<?> r = renewal;
            if (r != null) {
                r.cancel(false);
            }
            Connection s = stream;
            CompletionStage<Void> c = s == null ? CompletableFuture.completedFuture(null) : s.close();
            c.whenComplete((v, e) -> closed.complete(null));
        }
        return closed;
    }
}
