package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.PunchSocket;
import io.kizuna.transport.udp.PunchSockets;

/**
 * The QUIC transport's punch sockets: at most {@code maxOpen} that have not
 * connected ({@value #MAX_OPEN} unless a test says otherwise; connected ones
 * are connections, bounded by {@code maxConnections}), each closing itself when
 * it has not connected within its lifetime ({@link #LIFETIME}). Opens over the
 * bound are refused, counted and the first one logged.
 */
final class QuicPunchSockets implements PunchSockets {

    static final int MAX_OPEN = 32;
    static final Duration LIFETIME = Duration.ofSeconds(30);

    private static final System.Logger LOG = System.getLogger(QuicPunchSockets.class.getName());

    private final QuicTransport transport;
    private final int maxOpen;
    private final Duration lifetime;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong opened = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong expired = new AtomicLong();
    private final AtomicLong connected = new AtomicLong();
    private final AtomicLong connectsFailed = new AtomicLong();
    private final AtomicBoolean warnedLimit = new AtomicBoolean();

    /**
     * @param transport the transport whose sockets these are
     * @param maxOpen   the most open at once that have not connected
     * @param lifetime  how long one may stay open without connecting
     */
    QuicPunchSockets(QuicTransport transport, int maxOpen, Duration lifetime) {
        this.transport = transport;
        this.maxOpen = maxOpen;
        this.lifetime = lifetime;
    }

    @Override
    public CompletionStage<PunchSocket> open(InetSocketAddress local) {
        Objects.requireNonNull(local, "local");
        String where = new Endpoint(QuicTransport.PROTOCOL_NAME, local).toString();
        if (!transport.isAvailable()) {
            return CompletableFuture.failedFuture(new TransportException.Io("cannot open a punch socket on "
                    + where + ": " + transport.unavailableReason().orElse(""), null));
        }
        if (!reserve()) {
            refused.incrementAndGet();
            TransportException.LimitExceeded e = new TransportException.LimitExceeded("maxPunchSockets", maxOpen,
                    "opening a punch socket on " + where + ": " + open.get() + " are open and not connected; each "
                    + "closes when it connects, fails to, is closed, or after " + lifetime.toMillis() + " ms");
            if (warnedLimit.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "quic: {0} (further refusals are counted, not logged)",
                        e.getMessage());
            }
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<PunchSocket> result = new CompletableFuture<>();
        QuicPunchSocket.bind(transport, this, local, lifetime).whenComplete((s, e) -> {
            if (e != null) {
                result.completeExceptionally(e);
            } else {
                opened.incrementAndGet();
                result.complete(s);
            }
        });
        return result;
    }

    private boolean reserve() {
        int n;
        do {
            n = open.get();
            if (n >= maxOpen) {
                return false;
            }
        } while (!open.compareAndSet(n, n + 1));
        return true;
    }

    /** A punch socket connected, or closed (or never bound) before it did: its place is free. */
    void released() {
        open.decrementAndGet();
    }

    void expired() {
        expired.incrementAndGet();
    }

    void connected() {
        connected.incrementAndGet();
    }

    void connectFailed() {
        connectsFailed.incrementAndGet();
    }

    @Override
    public int maxOpen() {
        return maxOpen;
    }

    @Override
    public Duration lifetime() {
        return lifetime;
    }

    @Override
    public Counters counters() {
        return new Counters(opened.get(), open.get(), refused.get(), expired.get(), connected.get(),
                connectsFailed.get());
    }

    @Override
    public String toString() {
        return "quic punch sockets (" + open.get() + " of " + maxOpen + " open)";
    }
}
