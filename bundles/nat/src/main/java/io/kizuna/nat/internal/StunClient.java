package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * A STUN client on one UDP socket (RFC 8489): Binding requests with random
 * transaction ids, retransmitted on the RFC's schedule, and responses matched to
 * them. Anything that is not a well-formed answer to an outstanding request is
 * dropped and counted by {@link Drop}; callers only ever see a completed or a
 * timed-out transaction.
 *
 * <p>The socket is its own, read by a thread of its own, or a transport's
 * {@link SharedUdpSocket}, whose datagrams that are not the transport's arrive
 * on the transport's I/O thread and are handled on this client's timer thread.
 */
public final class StunClient implements AutoCloseable {

    /**
     * The retransmission schedule of RFC 8489 section 6.2.1: the request is sent
     * {@code rc} times, the gap doubling from {@code rto}, and the transaction
     * fails {@code rm * rto} after the last send.
     *
     * @param rto the initial retransmission timeout
     * @param rc  the number of sends
     * @param rm  the multiplier for the final wait
     */
    public record Timing(Duration rto, int rc, int rm) {
        /** The RFC's defaults: 500 ms, 7 sends, 16: a transaction gives up after 39.5 s. */
        public static final Timing RFC = new Timing(Duration.ofMillis(500), 7, 16);

        /** Checks the bounds. */
        public Timing {
            if (rto.toMillis() < 1 || rc < 1 || rc > 16 || rm < 1 || rm > 64) {
                throw new IllegalArgumentException("STUN timing rto=" + rto + " rc=" + rc + " rm=" + rm);
            }
        }

        /** @return the delay from the first send to the moment the transaction fails */
        public Duration total() {
            long gap = rto.toMillis();
            long at = 0;
            for (int i = 1; i < rc; i++) {
                at += gap;
                gap *= 2;
            }
            return Duration.ofMillis(at + rm * rto.toMillis());
        }
    }

    /** What the client drops, and counts. */
    public enum Drop {
        /** Not a STUN message by length. */
        BAD_LENGTH,
        /** Wrong magic cookie. */
        BAD_COOKIE,
        /** Malformed attribute list. */
        BAD_ATTRIBUTE,
        /** FINGERPRINT wrong. */
        BAD_FINGERPRINT,
        /** A response whose transaction id matches no outstanding request. */
        UNKNOWN_TRANSACTION,
        /** A response with a comprehension-required attribute this client does not know. */
        UNKNOWN_REQUIRED_ATTRIBUTE,
        /** A success response without a usable mapped address. */
        NO_MAPPED_ADDRESS,
        /** A request that was not one of our hairpin probes. */
        UNEXPECTED_REQUEST,
        /** Handling the datagram failed unexpectedly. */
        INTERNAL_ERROR
    }

    /**
     * A Binding success response.
     *
     * @param message the response
     * @param from    where it came from
     * @param mapped  the reflexive address it reports
     * @param rtt     from the first send to the answer
     */
    public record Response(StunMessage message, InetSocketAddress from, InetSocketAddress mapped, Duration rtt) {
        /** @return RESPONSE-ORIGIN, or the datagram's source */
        public InetSocketAddress origin() {
            return message.address(StunMessage.RESPONSE_ORIGIN).orElse(from);
        }

        /** @return OTHER-ADDRESS, or CHANGED-ADDRESS from an RFC 3489 server, if any */
        public java.util.Optional<InetSocketAddress> otherAddress() {
            return message.address(StunMessage.OTHER_ADDRESS).or(() -> message.address(StunMessage.CHANGED_ADDRESS));
        }
    }

    /** A transaction that got no answer. */
    public static final class TimeoutException extends Exception {
        private static final long serialVersionUID = 1L;

        TimeoutException(String message) {
            super(message);
        }
    }

    /** A transaction answered with an error response. */
    public static final class ErrorResponseException extends Exception {
        private static final long serialVersionUID = 1L;

        ErrorResponseException(String message) {
            super(message);
        }
    }

    /** At most this many transactions are outstanding at once. */
    static final int MAX_OUTSTANDING = 64;

    private static final SecureRandom RANDOM = new SecureRandom();

    private final DatagramChannel channel;
    private final SharedUdpSocket shared;
    private final Runnable stopReceiving;
    private final InetSocketAddress local;
    private final Timing timing;
    private final ScheduledExecutorService timer;
    private final Thread reader;
    private final Map<StunMessage.TransactionKey, Pending> pending = new ConcurrentHashMap<>();
    private final Map<StunMessage.TransactionKey, CompletableFuture<InetSocketAddress>> hairpins = new ConcurrentHashMap<>();
    private final Map<Drop, AtomicLong> drops = newDrops();
    private volatile boolean closed;

    private record Pending(CompletableFuture<Response> result, long startNanos, List<ScheduledFuture<?>> timers) { }

    /**
     * Opens a UDP socket and starts reading it.
     *
     * @param bind   the local address, port 0 for any
     * @param timing the retransmission schedule
     * @throws IOException when the socket cannot be bound
     */
    public StunClient(InetSocketAddress bind, Timing timing) throws IOException {
        this.timing = timing;
        this.channel = DatagramChannel.open(StunMessage.isV6(bind) ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            channel.bind(bind);
        } catch (IOException e) {
            channel.close();
            throw new IOException("cannot bind a UDP socket to " + bind + ": " + e.getMessage(), e);
        }
        this.local = (InetSocketAddress) channel.getLocalAddress();
        this.shared = null;
        this.stopReceiving = null;
        this.timer = timer(local);
        this.reader = new Thread(this::readLoop, "kizuna-stun-client-" + local.getPort());
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Runs on a transport's shared socket: requests leave from its address and
     * port, so servers report the mapping the transport's peers see.
     *
     * @param socket the shared socket
     * @param timing the retransmission schedule
     * @throws IOException when the socket is closed already or takes no more receivers
     */
    public StunClient(SharedUdpSocket socket, Timing timing) throws IOException {
        this.timing = timing;
        this.local = socket.localAddress();
        if (local == null) {
            throw new IOException("the shared socket " + socket + " is closed");
        }
        this.channel = null;
        this.shared = socket;
        this.reader = null;
        this.timer = timer(local);
        try {
            this.stopReceiving = socket.receive((from, data) -> {
                try {
                    timer.execute(() -> acceptSafely(data, data.length, from));
                } catch (RejectedExecutionException e) {
                    // closed meanwhile: nothing waits for this datagram
                }
            });
        } catch (IllegalStateException e) { // as many receivers as the socket takes
            timer.shutdownNow();
            throw new IOException("cannot receive on " + socket + ": " + e.getMessage(), e);
        }
    }

    private static Map<Drop, AtomicLong> newDrops() {
        Map<Drop, AtomicLong> m = new EnumMap<>(Drop.class);
        for (Drop d : Drop.values()) {
            m.put(d, new AtomicLong());
        }
        return m;
    }

    private static ScheduledExecutorService timer(InetSocketAddress local) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "kizuna-stun-timer-" + local.getPort());
            t.setDaemon(true);
            return t;
        });
    }

    /** @return the bound local address */
    public InetSocketAddress localAddress() {
        return local;
    }

    /** @return the drop counters, a snapshot */
    public Map<Drop, Long> drops() {
        Map<Drop, Long> copy = new EnumMap<>(Drop.class);
        drops.forEach((k, v) -> copy.put(k, v.get()));
        return copy;
    }

    /** @return the total of all drop counters */
    public long dropped() {
        return drops.values().stream().mapToLong(AtomicLong::get).sum();
    }

    /**
     * Sends a Binding request.
     *
     * @param server     the STUN server
     * @param attributes extra request attributes (e.g. CHANGE-REQUEST)
     * @return the response, or a failure with {@link TimeoutException}
     */
    public CompletableFuture<Response> binding(InetSocketAddress server, List<StunMessage.Attribute> attributes) {
        return binding(server, attributes, timing);
    }

    /**
     * Sends a Binding request with its own schedule.
     *
     * @param server     the STUN server
     * @param attributes extra request attributes
     * @param schedule   the retransmission schedule for this transaction
     * @return the response, or a failure with {@link TimeoutException}
     */
    public CompletableFuture<Response> binding(InetSocketAddress server, List<StunMessage.Attribute> attributes,
            Timing schedule) {
        return binding(server, attributes, schedule, newTransactionId());
    }

    /**
     * Waits for a response with a transaction id another socket sent (RFC 5780
     * binding lifetime test: the request goes out from a second socket with
     * RESPONSE-PORT naming this socket's mapped port).
     *
     * @param transactionId the id the other socket uses
     * @param timeout       how long to wait
     * @return the response, or a failure with {@link TimeoutException}
     */
    public CompletableFuture<Response> expect(byte[] transactionId, Duration timeout) {
        CompletableFuture<Response> result = new CompletableFuture<>();
        StunMessage.TransactionKey key = new StunMessage.TransactionKey(transactionId);
        pending.put(key, new Pending(result, System.nanoTime(), List.of()));
        ScheduledFuture<?> end = timer.schedule(() -> result.completeExceptionally(
                new TimeoutException("no response arrived in " + timeout.toMillis() + " ms")), timeout.toMillis(),
                TimeUnit.MILLISECONDS);
        result.whenComplete((r, e) -> {
            pending.remove(key);
            end.cancel(false);
        });
        return result;
    }

    CompletableFuture<Response> binding(InetSocketAddress server, List<StunMessage.Attribute> attributes,
            Timing schedule, byte[] transactionId) {
        CompletableFuture<Response> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(new ClosedChannelException());
            return result;
        }
        if (pending.size() >= MAX_OUTSTANDING) {
            result.completeExceptionally(new IllegalStateException(
                    "more than " + MAX_OUTSTANDING + " STUN transactions outstanding on " + local));
            return result;
        }
        StunMessage request = new StunMessage(StunMessage.BINDING_REQUEST, transactionId, attributes, true);
        byte[] bytes = request.encode();
        StunMessage.TransactionKey key = request.key();
        List<ScheduledFuture<?>> timers = new ArrayList<>();
        Pending p = new Pending(result, System.nanoTime(), timers);
        pending.put(key, p);
        long gap = schedule.rto().toMillis();
        long at = 0;
        synchronized (timers) {
            for (int i = 0; i < schedule.rc(); i++) {
                timers.add(timer.schedule(() -> send(bytes, server, result), at, TimeUnit.MILLISECONDS));
                if (i < schedule.rc() - 1) {
                    at += gap;
                    gap *= 2;
                }
            }
            long end = at + schedule.rm() * schedule.rto().toMillis();
            timers.add(timer.schedule(() -> result.completeExceptionally(new TimeoutException(
                    "no answer from " + server + " after " + schedule.rc() + " sends in " + end + " ms")),
                    end, TimeUnit.MILLISECONDS));
        }
        result.whenComplete((r, e) -> {
            pending.remove(key);
            synchronized (timers) {
                timers.forEach(t -> t.cancel(false));
            }
        });
        return result;
    }

    /**
     * Sends one Binding request to {@code target} and waits for it to come back to
     * this socket: through a NAT, {@code target} is our own reflexive address, and
     * it arrives only if the NAT hairpins.
     *
     * @param target  the reflexive address of this socket
     * @param timeout how long to wait
     * @return completes with the source the request came from, or with a {@link TimeoutException}
     */
    public CompletableFuture<InetSocketAddress> hairpin(InetSocketAddress target, Duration timeout) {
        StunMessage probe = new StunMessage(StunMessage.BINDING_REQUEST, newTransactionId(), List.of(), true);
        CompletableFuture<InetSocketAddress> result = new CompletableFuture<>();
        hairpins.put(probe.key(), result);
        byte[] bytes = probe.encode();
        ScheduledFuture<?> again = timer.schedule(() -> send(bytes, target, null), timeout.toMillis() / 3,
                TimeUnit.MILLISECONDS);
        ScheduledFuture<?> end = timer.schedule(() -> result.completeExceptionally(
                new TimeoutException("our request to " + target + " did not come back")), timeout.toMillis(),
                TimeUnit.MILLISECONDS);
        result.whenComplete((r, e) -> {
            hairpins.remove(probe.key());
            again.cancel(false);
            end.cancel(false);
        });
        send(bytes, target, result);
        return result;
    }

    private void send(byte[] bytes, InetSocketAddress to, CompletableFuture<?> result) {
        if (result != null && result.isDone()) {
            return;
        }
        try {
            if (shared != null) {
                shared.send(to, bytes).whenComplete((v, e) -> {
                    if (e != null) {
                        sendFailed(to, e instanceof CompletionException && e.getCause() != null ? e.getCause() : e,
                                result);
                    }
                });
            } else {
                channel.send(ByteBuffer.wrap(bytes), to);
            }
        } catch (IOException | RuntimeException e) {
            sendFailed(to, e, result);
        }
    }

    private static void sendFailed(InetSocketAddress to, Throwable e, CompletableFuture<?> result) {
        if (result != null) {
            result.completeExceptionally(new IOException("cannot send to " + to + ": " + e.getMessage(), e));
        }
    }

    static byte[] newTransactionId() {
        byte[] id = new byte[12];
        RANDOM.nextBytes(id);
        return id;
    }

    private void readLoop() {
        ByteBuffer buffer = ByteBuffer.allocate(StunMessage.MAX_SIZE + 1);
        while (!closed) {
            buffer.clear();
            InetSocketAddress from;
            try {
                from = (InetSocketAddress) channel.receive(buffer);
            } catch (IOException e) {
                if (!closed) {
                    failAll(e);
                }
                return;
            }
            if (from != null) {
                buffer.flip();
                acceptSafely(buffer.array(), buffer.limit(), from);
            }
        }
    }

    private void acceptSafely(byte[] data, int length, InetSocketAddress from) {
        try {
            accept(data, length, from);
        } catch (RuntimeException e) {
            // a bug in handling one datagram must not stop the socket's reader
            drops.get(Drop.INTERNAL_ERROR).incrementAndGet();
        }
    }

    /** Handles one datagram; package-private so tests can feed crafted bytes. */
    void accept(byte[] data, int length, InetSocketAddress from) {
        long now = System.nanoTime();
        StunMessage message;
        try {
            message = StunMessage.parse(data, 0, length);
        } catch (StunMessage.MalformedException e) {
            drops.get(Drop.valueOf(e.reason().name())).incrementAndGet();
            return;
        }
        if (message.isRequest()) {
            CompletableFuture<InetSocketAddress> probe = hairpins.get(message.key());
            if (probe == null) {
                drops.get(Drop.UNEXPECTED_REQUEST).incrementAndGet();
            } else {
                probe.complete(from);
            }
            return;
        }
        Pending p = pending.get(message.key());
        if (p == null || !message.isResponse()) {
            drops.get(Drop.UNKNOWN_TRANSACTION).incrementAndGet();
            return;
        }
        if (!message.unknownRequired().isEmpty()) {
            drops.get(Drop.UNKNOWN_REQUIRED_ATTRIBUTE).incrementAndGet();
            return;
        }
        if (message.type() == StunMessage.BINDING_ERROR) {
            p.result.completeExceptionally(new ErrorResponseException(from + " answered " + errorText(message)));
            return;
        }
        var mapped = message.address(StunMessage.XOR_MAPPED_ADDRESS).or(() -> message.address(StunMessage.MAPPED_ADDRESS));
        if (message.type() != StunMessage.BINDING_SUCCESS || mapped.isEmpty()) {
            drops.get(Drop.NO_MAPPED_ADDRESS).incrementAndGet();
            return;
        }
        p.result.complete(new Response(message, from, mapped.get(), Duration.ofNanos(now - p.startNanos)));
    }

    private static String errorText(StunMessage m) {
        return m.attribute(StunMessage.ERROR_CODE).filter(a -> a.value().length >= 4).map(a -> {
            int code = (a.value()[2] & 7) * 100 + (a.value()[3] & 0xFF);
            String reason = new String(a.value(), 4, a.value().length - 4, java.nio.charset.StandardCharsets.UTF_8);
            return "error " + code + " " + reason;
        }).orElse("an error without ERROR-CODE");
    }

    private void failAll(Exception e) {
        pending.values().forEach(p -> p.result.completeExceptionally(e));
    }

    @Override
    public void close() {
        closed = true;
        if (shared != null) {
            stopReceiving.run(); // the socket is the transport's: it stays open
        } else {
            try {
                channel.close();
            } catch (IOException e) {
                // closing a datagram channel only fails if it is already broken; nothing to recover
            }
        }
        failAll(new ClosedChannelException());
        hairpins.values().forEach(f -> f.completeExceptionally(new ClosedChannelException()));
        timer.shutdownNow();
        if (reader != null) {
            try {
                reader.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
