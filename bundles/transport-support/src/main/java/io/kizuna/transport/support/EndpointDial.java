package io.kizuna.transport.support;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.TransportException;
import io.netty.channel.Channel;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * One dial: the peer's endpoints of one transport tried in order, within one
 * overall timeout. Each attempt takes a connection slot of the transport (given
 * back when its channel closes) and has at most what is left of the timeout, and
 * at most its own bound; when every endpoint failed, the dial fails with the
 * most telling of their failures.
 *
 * @param <C> the transport's connection type
 */
public abstract class EndpointDial<C extends Connection> {

    private final TransportLifecycle<?, ?> lifecycle;
    private final EventExecutorGroup group;
    private final PeerAddress peer;
    private final List<Endpoint> endpoints;
    private final Duration timeout;
    private final int attemptMillis;
    private final long deadline;
    private final CompletableFuture<Connection> result = new CompletableFuture<>();
    private final List<TransportException> failures = new ArrayList<>();
    private int next;
    private volatile Channel current;

    /**
     * @param lifecycle     the transport's lifecycle, which knows whether it runs and has slots
     * @param group         the transport's event loops, for the timer
     * @param peer          whom to dial
     * @param endpoints     the peer's endpoints of this transport, in order
     * @param timeout       the whole dial's timeout, positive
     * @param attemptMillis the most one attempt may take
     */
    protected EndpointDial(TransportLifecycle<?, ?> lifecycle, EventExecutorGroup group, PeerAddress peer,
            List<Endpoint> endpoints, Duration timeout, int attemptMillis) {
        this.lifecycle = lifecycle;
        this.group = group;
        this.peer = peer;
        this.endpoints = endpoints;
        this.timeout = timeout;
        this.attemptMillis = attemptMillis;
        this.deadline = System.nanoTime() + timeout.toNanos();
    }

    /**
     * Starts one attempt; it holds a slot already, which it gives back if it
     * fails before it has a channel.
     *
     * @param endpoint    where to
     * @param millis      the most it may take
     * @param established to complete with the authenticated connection, or with why there is none
     */
    protected abstract void attempt(Endpoint endpoint, int millis, CompletableFuture<C> established);

    /** @return whom this dial is for */
    protected final PeerAddress peer() {
        return peer;
    }

    /** @param channel the channel of the attempt under way, which the timeout closes */
    protected final void current(Channel channel) {
        current = channel;
    }

    /** @param why why the whole dial fails, with no further attempt */
    protected final void fail(TransportException why) {
        result.completeExceptionally(why);
    }

    /** @return completed with the first connection established, or with why there is none */
    public final CompletableFuture<Connection> start() {
        ScheduledFuture<?> timer;
        try {
            timer = group.schedule(this::timedOut, timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopping) {
            result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer + ": "
                    + lifecycle.stoppedReason(), stopping));
            return result;
        }
        result.whenComplete((c, e) -> timer.cancel(false));
        tryNext();
        return result;
    }

    private void timedOut() {
        if (result.completeExceptionally(new TransportException.ConnectionTimeout("dialing " + peer + " over "
                + lifecycle.protocol(), timeout))) {
            Channel c = current;
            if (c != null) {
                c.close();
            }
        }
    }

    private synchronized void tryNext() {
        if (result.isDone()) {
            return;
        }
        if (next >= endpoints.size()) {
            result.completeExceptionally(TransportException.ConnectionFailed.summarize(peer.peerId(),
                    lifecycle.protocol(), endpoints.size(), failures));
            return;
        }
        Endpoint endpoint = endpoints.get(next++);
        long remainingMillis = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (remainingMillis <= 0) {
            timedOut();
            return;
        }
        if (!lifecycle.isActive()) {
            result.completeExceptionally(new TransportException.ConnectionFailed("cannot dial " + peer + ": "
                    + lifecycle.stoppedReason(), null));
            return;
        }
        if (!lifecycle.reserve()) {
            result.completeExceptionally(lifecycle.limitReached("dialing " + peer));
            return;
        }
        CompletableFuture<C> established = new CompletableFuture<>();
        attempt(endpoint, (int) Math.min(attemptMillis, remainingMillis), established);
        established.whenComplete((c, e) -> {
            if (e == null) {
                if (!result.complete(c)) {
                    c.close(); // the dial timed out meanwhile
                }
            } else {
                synchronized (this) {
                    failures.add(TransportException.unwrap(e));
                }
                tryNext();
            }
        });
    }
}
