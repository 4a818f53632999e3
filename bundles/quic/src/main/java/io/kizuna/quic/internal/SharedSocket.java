package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.DatagramReceiver;
import io.kizuna.transport.udp.SharedUdpSocket;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DatagramPacket;

/**
 * A QUIC listener's socket, or a punch socket, as other bundles see it: they
 * send datagrams that are not QUIC from it and receive those that arrive
 * ({@link UdpDemux} sorts them out). Sends wait at most
 * {@value #MAX_PENDING_SENDS} at a time for the event loop and leave at most
 * {@value #MAX_SENDS_PER_SECOND} a second;
 * deliveries are at most {@value #MAX_DELIVERIES_PER_SECOND} datagrams a second
 * to at most {@value #MAX_RECEIVERS} receivers. What is over a bound, and what
 * arrives while nobody receives, is counted and the first time of each kind
 * logged.
 */
final class SharedSocket implements SharedUdpSocket {

    static final int MAX_RECEIVERS = 8;
    static final int MAX_PENDING_SENDS = 256;
    static final int MAX_SENDS_PER_SECOND = 1000;
    static final int MAX_DELIVERIES_PER_SECOND = 1000;

    private static final System.Logger LOG = System.getLogger(SharedSocket.class.getName());

    private final List<DatagramReceiver> receivers = new CopyOnWriteArrayList<>();
    private final AtomicInteger pendingSends = new AtomicInteger();
    private final PerSecondLimit sendLimit = new PerSecondLimit(MAX_SENDS_PER_SECOND);
    private final PerSecondLimit deliveryLimit = new PerSecondLimit(MAX_DELIVERIES_PER_SECOND);
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong sendsRefused = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong delivered = new AtomicLong();
    private final AtomicLong unclaimed = new AtomicLong();
    private final AtomicLong overRate = new AtomicLong();
    private final AtomicLong oversize = new AtomicLong();
    private final AtomicLong receiverErrors = new AtomicLong();
    private final AtomicBoolean warnedUnclaimed = new AtomicBoolean();
    private final AtomicBoolean warnedRate = new AtomicBoolean();
    private final AtomicBoolean warnedSize = new AtomicBoolean();
    private final AtomicBoolean warnedSends = new AtomicBoolean();
    private volatile ChannelHandlerContext ctx;
    private volatile boolean closed;

    /** The demultiplexer in front of the codec was added: sends leave from its place. */
    void attach(ChannelHandlerContext context) {
        this.ctx = context;
    }

    @Override
    public InetSocketAddress localAddress() {
        ChannelHandlerContext c = ctx;
        return c != null && c.channel().localAddress() instanceof InetSocketAddress a ? a : null;
    }

    @Override
    public Endpoint endpoint() {
        InetSocketAddress a = localAddress();
        return a == null ? null : new Endpoint(QuicTransport.PROTOCOL_NAME, a);
    }

    /** Stops sharing: later sends fail, nothing more is delivered. */
    void close() {
        closed = true;
        receivers.clear();
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public CompletionStage<Void> send(InetSocketAddress to, byte[] data) {
        Objects.requireNonNull(to, "to");
        Objects.requireNonNull(data, "data");
        if (data.length == 0 || data.length > MAX_DATAGRAM_SIZE) {
            throw new IllegalArgumentException("a shared datagram has 1 to " + MAX_DATAGRAM_SIZE + " bytes, not "
                    + data.length);
        }
        if ((data[0] & 0xFF) > MAX_FIRST_BYTE) {
            throw new IllegalArgumentException("a shared datagram's first byte must be 0-" + MAX_FIRST_BYTE
                    + " (" + (data[0] & 0xFF) + " would be taken for QUIC)");
        }
        ChannelHandlerContext c = ctx;
        if (closed || c == null || !c.channel().isActive()) {
            sendsRefused.incrementAndGet();
            return CompletableFuture.failedFuture(new TransportException.Io("cannot send to " + to + ": the QUIC "
                    + "socket " + describe() + " is closed", null));
        }
        if (pendingSends.incrementAndGet() > MAX_PENDING_SENDS) {
            pendingSends.decrementAndGet();
            return refused(new TransportException.LimitExceeded("sharedSocketPendingSends", MAX_PENDING_SENDS,
                    "sending to " + to + " from the QUIC socket " + describe()));
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        c.executor().execute(() -> {
            pendingSends.decrementAndGet();
            if (closed || !c.channel().isActive()) {
                sendsRefused.incrementAndGet();
                result.completeExceptionally(new TransportException.Io("cannot send to " + to + ": the QUIC socket "
                        + describe() + " is closed", null));
                return;
            }
            if (!sendLimit.allowed()) {
                result.completeExceptionally(refusedNow(new TransportException.LimitExceeded(
                        "sharedSocketSendsPerSecond", MAX_SENDS_PER_SECOND,
                        "sending to " + to + " from the QUIC socket " + describe())));
                return;
            }
            c.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(data), to)).addListener(f -> {
                if (f.isSuccess()) {
                    sent.incrementAndGet();
                    result.complete(null);
                } else {
                    sendsRefused.incrementAndGet();
                    result.completeExceptionally(new TransportException.Io("sending to " + to + " from the QUIC "
                            + "socket " + describe() + " failed: " + QuicTransport.describe(f.cause()), f.cause()));
                }
            });
        });
        return result;
    }

    private CompletionStage<Void> refused(TransportException e) {
        return CompletableFuture.failedFuture(refusedNow(e));
    }

    private TransportException refusedNow(TransportException e) {
        sendsRefused.incrementAndGet();
        if (warnedSends.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "quic: {0} (further refusals are counted, not logged)",
                    e.getMessage());
        }
        return e;
    }

    @Override
    public Runnable receive(DatagramReceiver receiver) {
        Objects.requireNonNull(receiver, "receiver");
        synchronized (receivers) {
            if (receivers.size() >= MAX_RECEIVERS) {
                throw new IllegalStateException("the QUIC socket " + describe() + " has " + MAX_RECEIVERS
                        + " receivers, as many as it takes; stop one first");
            }
            receivers.add(receiver);
        }
        AtomicBoolean stopped = new AtomicBoolean();
        return () -> {
            if (stopped.compareAndSet(false, true)) {
                receivers.remove(receiver);
            }
        };
    }

    /**
     * A datagram that is not QUIC arrived. Called by {@link UdpDemux} on the
     * event loop; the caller releases {@code content}.
     */
    void arrived(InetSocketAddress from, ByteBuf content) {
        received.incrementAndGet();
        int size = content.readableBytes();
        if (size > MAX_DATAGRAM_SIZE) {
            oversize.incrementAndGet();
            once(warnedSize, () -> "a datagram of " + size + " bytes from " + from + " is larger than "
                    + MAX_DATAGRAM_SIZE + ": dropped");
            return;
        }
        if (receivers.isEmpty()) {
            unclaimed.incrementAndGet();
            once(warnedUnclaimed, () -> "datagrams that are not QUIC (STUN, say) arrive from " + from
                    + " and nothing receives them: dropped");
            return;
        }
        if (!deliveryLimit.allowed()) {
            overRate.incrementAndGet();
            once(warnedRate, () -> "more than " + MAX_DELIVERIES_PER_SECOND + " datagrams that are not QUIC "
                    + "arrive a second (this one from " + from + "): the rest are dropped");
            return;
        }
        for (DatagramReceiver r : receivers) {
            byte[] data = new byte[size];
            content.getBytes(content.readerIndex(), data);
            delivered.incrementAndGet(); // counted as handed over, so a receiver that looks sees its datagram
            try {
                r.received(from, data);
            } catch (RuntimeException e) {
                delivered.decrementAndGet();
                receiverErrors.incrementAndGet();
                LOG.log(System.Logger.Level.WARNING, "quic socket " + describe() + ": a receiver failed on a "
                        + "datagram from " + from, e);
            }
        }
    }

    private void once(AtomicBoolean flag, Supplier<String> what) {
        if (flag.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.INFO, "quic socket {0}: {1} (further ones are counted, not logged)",
                    describe(), what.get());
        }
    }

    @Override
    public Counters counters() {
        return new Counters(sent.get(), sendsRefused.get(), received.get(), delivered.get(), unclaimed.get(),
                overRate.get(), oversize.get(), receiverErrors.get());
    }

    private String describe() {
        InetSocketAddress a = localAddress();
        return a == null ? "(unbound)" : a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    @Override
    public String toString() {
        return "shared QUIC socket " + describe();
    }
}
