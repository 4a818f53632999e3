package io.kizuna.transport.support;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;

/**
 * What a transport component keeps between its activation and its
 * deactivation: whether it runs, its connection slots (bounded by
 * {@code maxConnections}, handshakes included), and the connections, listeners
 * and channels that stopping must close. Thread-safe: the component's methods,
 * its event loops and its dials all use it.
 *
 * @param <C> the transport's connection type
 * @param <L> the transport's listener type
 */
public final class TransportLifecycle<C extends Connection, L extends Listener> {

    private final String protocol;
    private final String pid;
    private final int maxConnections;
    private final System.Logger log;
    private final AtomicBoolean active = new AtomicBoolean(true);
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong refusedForLimit = new AtomicLong();
    private final AtomicLong refusedHandshakes = new AtomicLong();
    private final Set<C> connections = ConcurrentHashMap.newKeySet();
    private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
    private final Set<L> listeners = ConcurrentHashMap.newKeySet();

    /**
     * @param protocol       the transport's protocol name (e.g. {@code tcp})
     * @param pid            its configuration PID, named in limit messages
     * @param maxConnections the most connections open at once, handshakes included
     * @param log            the transport's logger
     */
    public TransportLifecycle(String protocol, String pid, int maxConnections, System.Logger log) {
        this.protocol = protocol;
        this.pid = pid;
        this.maxConnections = maxConnections;
        this.log = log;
    }

    /** @return the transport's protocol name */
    public String protocol() {
        return protocol;
    }

    /** @return whether the transport runs (it has not been stopped) */
    public boolean isActive() {
        return active.get();
    }

    /** @return true once, for the call that stops the transport */
    public boolean stop() {
        return active.compareAndSet(true, false);
    }

    /** @return the reason a stopped transport gives */
    public String stoppedReason() {
        return "the " + protocol + " transport has stopped";
    }

    /** @return empty while the transport runs, the reason once it has stopped */
    public Optional<String> unavailableReason() {
        return active.get() ? Optional.empty() : Optional.of(stoppedReason());
    }

    // ------------------------------------------------------------------ slots

    /** @return whether a slot was free and is now taken */
    public boolean reserve() {
        int n;
        do {
            n = open.get();
            if (n >= maxConnections) {
                return false;
            }
        } while (!open.compareAndSet(n, n + 1));
        return true;
    }

    /** Gives a slot back. */
    public void release() {
        open.decrementAndGet();
    }

    /** @return slots taken: connections open now, handshakes included */
    public int open() {
        return open.get();
    }

    /**
     * @param what what was refused, e.g. {@code dialing <peer>}
     * @return the error that says the limit was reached, and how to raise it
     */
    public TransportException.LimitExceeded limitReached(String what) {
        return new TransportException.LimitExceeded("maxConnections", maxConnections, what + " over " + protocol
                + ": " + open.get() + " connections are open; close some or raise maxConnections in "
                + "configuration " + pid);
    }

    /**
     * Checks a dial before it starts: that the peer has endpoints of this
     * transport, that the transport runs, that the timeout is positive and that
     * a slot is free.
     *
     * @param peer      whom to dial
     * @param timeout   the dial's timeout
     * @param endpoints the peer's endpoints of this transport
     * @return why the dial cannot start, or empty
     */
    public Optional<TransportException> refuseDial(PeerAddress peer, Duration timeout, List<Endpoint> endpoints) {
        if (endpoints.isEmpty()) {
            return Optional.of(new TransportException.AddressNotSupported(protocol, peer));
        }
        if (!active.get()) {
            return Optional.of(new TransportException.ConnectionFailed("cannot dial " + peer + ": "
                    + stoppedReason(), null));
        }
        if (timeout.isNegative() || timeout.isZero()) {
            return Optional.of(new TransportException.ConnectionTimeout("dialing " + peer, timeout));
        }
        if (open.get() >= maxConnections) {
            return Optional.of(limitReached("dialing " + peer));
        }
        return Optional.empty();
    }

    // ------------------------------------------------------------------ what stopping closes

    /**
     * Admits an accepted channel: closes it when the transport has stopped or no
     * slot is free (counted and logged), and otherwise tracks it.
     *
     * @param ch the accepted channel
     * @return whether it was admitted
     */
    public boolean admit(Channel ch) {
        if (!active.get()) {
            ch.close();
            return false;
        }
        if (!reserve()) {
            refusedForLimit.incrementAndGet();
            log.log(System.Logger.Level.WARNING, protocol + ": closed inbound connection from {0}: limit "
                    + "maxConnections={1} reached", ch.remoteAddress(), maxConnections);
            ch.close();
            return false;
        }
        track(ch);
        return true;
    }

    /**
     * Tracks a channel that holds a slot: the slot is given back when it closes.
     *
     * @param ch the channel
     */
    public void track(Channel ch) {
        ch.closeFuture().addListener(f -> release());
        register(ch);
    }

    /**
     * Remembers a channel until it closes, for stopping to close it.
     *
     * @param ch the channel
     */
    public void register(Channel ch) {
        channels.add(ch);
        ch.closeFuture().addListener(f -> channels.remove(ch));
    }

    /** @return the channels open now */
    public Set<Channel> channels() {
        return Collections.unmodifiableSet(channels);
    }

    /** @param c a connection now authenticated */
    public void opened(C c) {
        connections.add(c);
    }

    /** @param c a connection now closed */
    public void closed(C c) {
        connections.remove(c);
    }

    /** @return the authenticated connections open now */
    public Set<C> connections() {
        return Collections.unmodifiableSet(connections);
    }

    /** @return the listeners open now */
    public Set<L> listeners() {
        return Collections.unmodifiableSet(listeners);
    }

    /**
     * Keeps a listener until its server channel closes, for stopping to close it.
     *
     * @param listener the listener
     * @param channel  its channel
     */
    public void listening(L listener, Channel channel) {
        listeners.add(listener);
        channel.closeFuture().addListener(c -> listeners.remove(listener));
    }

    /**
     * Completes a listen once its server channel is bound: the listener is kept
     * until its channel closes.
     *
     * @param binding  the bind
     * @param listener makes the listener of the bound channel
     * @param where    the address, for messages
     * @return completed with the listener, or with why it could not bind
     */
    public CompletableFuture<Listener> bound(ChannelFuture binding, Function<Channel, L> listener, String where) {
        CompletableFuture<Listener> result = new CompletableFuture<>();
        binding.addListener((ChannelFuture f) -> {
            if (f.isSuccess()) {
                L l = listener.apply(f.channel());
                listening(l, f.channel());
                result.complete(l);
            } else {
                result.completeExceptionally(new TransportException.Io("cannot listen on " + where + ": "
                        + Causes.describe(f.cause()) + "; choose another address or port", f.cause()));
            }
        });
        return result;
    }

    /**
     * Hands an inbound connection, once established, to the application; closes
     * it when the acceptor throws.
     *
     * @param established completed with the connection once authenticated
     * @param acceptor    the application's acceptor
     */
    public void handOver(CompletableFuture<? extends C> established, Consumer<? super C> acceptor) {
        established.thenAccept(c -> {
            try {
                acceptor.accept(c);
            } catch (RuntimeException e) {
                log.log(System.Logger.Level.WARNING, protocol + ": the acceptor failed on " + c + "; closing it", e);
                c.close();
            }
        });
    }

    /** @return inbound connections closed at once because maxConnections was reached */
    public long refusedForLimit() {
        return refusedForLimit.get();
    }

    /** Counts an inbound connection refused at once for the limit (which {@link #admit} counts itself). */
    public void refusedForLimitNow() {
        refusedForLimit.incrementAndGet();
    }

    /** @return inbound connections whose handshake or authentication failed */
    public long refusedHandshakes() {
        return refusedHandshakes.get();
    }

    /** Counts an inbound connection whose handshake or authentication failed. */
    public void refusedHandshake() {
        refusedHandshakes.incrementAndGet();
    }

    // ------------------------------------------------------------------ stopping

    /**
     * Stops a TLS-over-TCP transport: closes the listeners, every connection
     * gracefully (as {@code close} does it), and channels still in their
     * handshake at once; waits for the connections (not from an event loop of
     * the group), then stops the event loops.
     *
     * @param group      the transport's event loops
     * @param type       the connection type, the handler that the channels' pipelines end with
     * @param close      closes a connection gracefully
     * @param waitMillis the most to wait for the connections to close
     */
    public void stop(EventLoopGroup group, Class<? extends ChannelHandler> type, Function<C, CompletionStage<Void>> close,
            long waitMillis) {
        List<CompletableFuture<?>> closing = new ArrayList<>();
        for (L l : listeners) {
            closing.add(l.close().toCompletableFuture());
        }
        for (C c : connections) {
            closing.add(close.apply(c).toCompletableFuture());
        }
        for (Channel ch : channels) {
            ChannelHandler c = ch.pipeline().get(type);
            if (c == null || !connections.contains(c)) {
                ch.close(); // still in its handshake: nothing to close gracefully
            }
        }
        boolean onEventLoop = inEventLoop(group);
        if (!onEventLoop) {
            try {
                CompletableFuture.allOf(closing.toArray(CompletableFuture[]::new))
                        .get(waitMillis, TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                log.log(System.Logger.Level.WARNING, protocol + " transport: not every connection closed in "
                        + "time: {0}", Causes.describe(e));
            }
        }
        var terminated = group.shutdownGracefully(20, 2000, TimeUnit.MILLISECONDS);
        if (!onEventLoop) {
            terminated.awaitUninterruptibly(3000);
        }
    }

    /**
     * @param group event loops
     * @return whether the calling thread is one of them, which must not wait for them
     */
    public static boolean inEventLoop(EventLoopGroup group) {
        boolean on = false;
        for (EventExecutor e : group) {
            on |= e.inEventLoop();
        }
        return on;
    }
}
