package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.udp.DatagramReceiver;
import io.kizuna.transport.udp.PunchSocket;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * A punch socket of the QUIC transport: an unconnected UDP socket whose
 * pipeline is a dial socket's (stateless-reset detector, QUIC client codec)
 * behind the same {@link UdpDemux} as a listener's, so it is a
 * {@link SharedSocket} until {@link #connect} dials QUIC from it, and stays one
 * for the datagrams that are not QUIC afterwards. One client codec owns the
 * channel, as Netty's codecs expect; the listener at the other end accepts the
 * dial on its own socket with its server codec.
 */
final class QuicPunchSocket implements PunchSocket {

    private static final System.Logger LOG = System.getLogger(QuicPunchSocket.class.getName());

    private final QuicTransport transport;
    private final QuicPunchSockets owner;
    private final Channel channel;
    private final SharedSocket shared;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicBoolean connectCalled = new AtomicBoolean();
    private final AtomicBoolean released = new AtomicBoolean();
    /** The TLS of the dial from this socket, once {@link #connect} was called; the codec's handshake takes it. */
    private final AtomicReference<QuicTransport.DialTls> tls;
    private volatile boolean connected;

    private QuicPunchSocket(QuicTransport transport, QuicPunchSockets owner, Channel channel, SharedSocket shared,
            AtomicReference<QuicTransport.DialTls> tls) {
        this.transport = transport;
        this.owner = owner;
        this.channel = channel;
        this.shared = shared;
        this.tls = tls;
    }

    /**
     * Binds a punch socket; its place among the open ones is taken already and
     * given back when it connects or closes.
     *
     * @return completes with the bound socket, or fails saying why
     */
    static CompletableFuture<QuicPunchSocket> bind(QuicTransport transport, QuicPunchSockets owner,
            InetSocketAddress local, Duration lifetime) {
        String where = new Endpoint(QuicTransport.PROTOCOL_NAME, local).toString();
        SharedSocket shared = new SharedSocket();
        AtomicReference<QuicTransport.DialTls> tls = new AtomicReference<>();
        ChannelFuture binding;
        try {
            binding = transport.bindDialSocket(local, tls::get, new UdpDemux(shared), new Quiet(where));
        } catch (RuntimeException e) { // the event loops have stopped
            owner.released();
            return CompletableFuture.failedFuture(new TransportException.Io("cannot open a punch socket on "
                    + where + ": " + QuicTransport.describe(e), e));
        }
        QuicPunchSocket s = new QuicPunchSocket(transport, owner, binding.channel(), shared, tls);
        s.channel.closeFuture().addListener(f -> s.closed());
        CompletableFuture<QuicPunchSocket> result = new CompletableFuture<>();
        binding.addListener((ChannelFuture bound) -> {
            if (!bound.isSuccess()) {
                result.completeExceptionally(new TransportException.Io("cannot open a punch socket on " + where
                        + ": " + QuicTransport.describe(bound.cause()) + "; choose another address or port",
                        bound.cause()));
                return;
            }
            if (!transport.isAvailable()) {
                s.channel.close();
                result.completeExceptionally(new TransportException.Io("cannot open a punch socket on " + where
                        + ": " + transport.unavailableReason().orElse(""), null));
                return;
            }
            transport.checkBuffers(s.channel, where);
            ScheduledFuture<?> expiry = s.channel.eventLoop().schedule(s::expire, lifetime.toMillis(),
                    TimeUnit.MILLISECONDS);
            s.closed.whenComplete((v, e) -> expiry.cancel(false));
            result.complete(s);
        });
        return result;
    }

    private void expire() {
        if (!connected && channel.isOpen()) {
            owner.expired();
            LOG.log(System.Logger.Level.DEBUG, "{0}: not connected within its lifetime, closed", this);
            channel.close();
        }
    }

    private void closed() {
        release();
        closed.complete(null);
    }

    private void release() {
        if (released.compareAndSet(false, true)) {
            owner.released();
        }
    }

    @Override
    public CompletionStage<Connection> connect(PeerId expected, InetSocketAddress remote, Duration timeout) {
        Objects.requireNonNull(expected, "expected");
        Objects.requireNonNull(remote, "remote");
        Objects.requireNonNull(timeout, "timeout");
        if (!connectCalled.compareAndSet(false, true)) {
            throw new IllegalStateException(this + " was connected before: a punch socket connects once");
        }
        Endpoint endpoint = new Endpoint(QuicTransport.PROTOCOL_NAME, remote);
        CompletableFuture<QuicConnection> established = new CompletableFuture<>();
        CompletableFuture<Connection> result = new CompletableFuture<>();
        established.whenComplete((c, e) -> {
            if (e == null) {
                connected = true;
                release();
                owner.connected();
                result.complete(c);
            } else {
                owner.connectFailed();
                channel.close();
                result.completeExceptionally(e);
            }
        });
        if (!channel.isActive()) {
            established.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + expected
                    + " at " + endpoint + " from " + this + ": it is closed", null));
            return result;
        }
        if (timeout.isNegative() || timeout.isZero()) {
            established.completeExceptionally(new TransportException.ConnectionTimeout("dialing " + expected
                    + " at " + endpoint, timeout));
            return result;
        }
        if (!transport.isAvailable()) {
            established.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + expected
                    + " at " + endpoint + ": " + transport.unavailableReason().orElse(""), null));
            return result;
        }
        if (!transport.reserveConnection()) {
            established.completeExceptionally(transport.limitReached("dialing " + expected + " at " + endpoint));
            return result;
        }
        channel.closeFuture().addListener(f -> transport.releaseConnection());
        QuicTransport.DialTls t = transport.new DialTls(remote, expected);
        tls.set(t);
        int millis = (int) Math.min(timeout.toMillis(), transport.settings().handshakeTimeoutMillis());
        transport.watch(channel, t, endpoint, established, Math.max(1, millis));
        try {
            channel.eventLoop().execute(() -> transport.handshake(channel, endpoint, expected, established));
        } catch (RejectedExecutionException stopped) {
            established.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + expected
                    + " at " + endpoint + ": " + transport.unavailableReason().orElse("stopped"), stopped));
        }
        return result;
    }

    @Override
    public boolean isConnected() {
        return connected;
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed.minimalCompletionStage();
    }

    @Override
    public void close() {
        if (!connected) {
            channel.close();
        }
    }

    // ------------------------------------------------------------------ SharedUdpSocket

    @Override
    public InetSocketAddress localAddress() {
        return shared.localAddress();
    }

    @Override
    public Endpoint endpoint() {
        return shared.endpoint();
    }

    @Override
    public CompletionStage<Void> send(InetSocketAddress to, byte[] data) {
        return shared.send(to, data);
    }

    @Override
    public Runnable receive(DatagramReceiver receiver) {
        return shared.receive(receiver);
    }

    @Override
    public Counters counters() {
        return shared.counters();
    }

    @Override
    public String toString() {
        InetSocketAddress a = shared.localAddress();
        return "quic punch socket " + (a == null ? "(unbound)" : a.getAddress().getHostAddress() + ":" + a.getPort());
    }

    /** Last in the pipeline: what an unconnected socket reports is logged, not left to Netty's tail warning. */
    private static final class Quiet extends ChannelInboundHandlerAdapter {
        private final String where;

        Quiet(String where) {
            this.where = where;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(System.Logger.Level.DEBUG, "quic punch socket {0}: {1}", where, QuicTransport.describe(cause));
        }
    }
}
