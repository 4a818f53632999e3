package io.kizuna.core.internal;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiConsumer;
import java.util.function.Function;

import io.kizuna.core.internal.mux.MuxSession;
import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * Agreeing on the stream multiplexer. The dialer of a fresh single-stream
 * connection names {@value #PROTOCOL} in the connection's first OPEN and starts
 * its {@link MuxSession} at once (its frames follow the OPEN; it reads after the
 * OPEN_OK); the acceptor answers OPEN_OK and starts its own. The control session
 * and every later stream are streams of that session. A node that does not multiplex (an
 * older one, or {@code streamMux=false}) refuses the name as it refuses any
 * platform name it does not serve; the dialer then remembers the peer and dials
 * once more with the control OPEN straight away, as before. Nothing else in the
 * control protocol changes.
 */
final class StreamMux {

    /** The name in the first OPEN of a connection to be multiplexed. */
    static final String PROTOCOL = "kizuna/mux/1";

    private static final System.Logger LOG = System.getLogger(StreamMux.class.getName());

    /** A dial whose peer refused the multiplexer: the connection is closed, dial again without it. */
    static final class Refused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message, null, false, false);
        }
    }

    private final ManagerSettings settings;
    private final Wire wire;
    private final ScheduledExecutorService timer;
    private final BiConsumer<Connection, TransportException.ProtocolViolation> onViolation;
    private final Map<PeerId, Boolean> refusedBy;

    StreamMux(ManagerSettings settings, Wire wire, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation) {
        this.settings = settings;
        this.wire = wire;
        this.timer = timer;
        this.onViolation = onViolation;
        int max = settings.maxKnownPeers();
        this.refusedBy = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<PeerId, Boolean> eldest) {
                return size() > max;
            }
        };
    }

    /** @return whether to offer the multiplexer on a connection this node dialed to {@code peer} */
    boolean offer(Connection c, PeerId peer) {
        if (!settings.streamMux() || c instanceof MultiplexedConnection) {
            return false;
        }
        synchronized (refusedBy) {
            return !refusedBy.containsKey(peer);
        }
    }

    /** @return whether to serve {@value #PROTOCOL} on a connection accepted (not on a stream of one) */
    boolean serves(Connection c, Connection parent) {
        return settings.streamMux() && parent == null && !(c instanceof MultiplexedConnection);
    }

    /**
     * Dialer side: asks for the multiplexer and, without waiting for the answer, runs the session and
     * {@code over} on it (the first stream's frames follow the OPEN at once), so multiplexing costs no
     * round trip of its own. The session reads only after OPEN_OK.
     *
     * @param over what to run on the session (the control OPEN and HELLO)
     * @return what {@code over} gives; fails with {@link Refused} when the peer refused the multiplexer
     *         (it is remembered) or closed the connection before answering (an older node may do so
     *         with the session's frames unread), so that the caller dials again without it
     */
    <T> CompletableFuture<T> dial(Connection c, PeerId peer, Duration timeout,
            Function<MultiplexedConnection, CompletableFuture<T>> over) {
        CompletableFuture<Void> written;
        try {
            written = c.write(wire.encode(new ControlMessage.Open(PROTOCOL))).toCompletableFuture();
        } catch (RuntimeException e) {
            written = CompletableFuture.failedFuture(e);
        }
        return written.handle((v, e) -> e).thenCompose(e -> {
            if (e != null) {
                c.close();
                return CompletableFuture.failedFuture(Async.unwrap(e));
            }
            CompletableFuture<Connection> answered = wire.answer(c, PROTOCOL, peer, timeout);
            MuxSession m = MuxSession.dialer(c, settings.mux(), timer, onViolation, answered);
            CompletableFuture<T> result;
            try {
                result = over.apply(m);
            } catch (RuntimeException x) {
                result = CompletableFuture.failedFuture(x);
            }
            // A failure may come before the answer that caused it: the answer decides.
            return result.exceptionallyCompose(err -> answered.handle((ok, why) -> {
                if (why != null) {
                    throw refusedOrFailed(Async.unwrap(why), peer, c);
                }
                throw new CompletionException(Async.unwrap(err));
            }));
        });
    }

    private RuntimeException refusedOrFailed(Throwable why, PeerId peer, Connection c) {
        if (why instanceof TransportException.UnsupportedProtocol) {
            synchronized (refusedBy) {
                refusedBy.put(peer, Boolean.TRUE);
            }
            LOG.log(System.Logger.Level.INFO, "peer " + peer.shortForm() + " does not multiplex streams (an "
                    + "older node, or streamMux is off there): dialing it again without; each new stream over "
                    + c.info().protocol() + " to it dials a connection of its own");
            return new Refused(why.getMessage());
        }
        if (why instanceof TransportException.ConnectionFailed || why instanceof TransportException.Io) {
            LOG.log(System.Logger.Level.DEBUG, "peer " + peer.shortForm() + " did not take the multiplexer ("
                    + why.getMessage() + "); dialing it again without");
            return new Refused(why.getMessage());
        }
        return new CompletionException(why);
    }

    /** Acceptor side: answers OPEN_OK and multiplexes the connection. */
    CompletableFuture<MultiplexedConnection> accept(Connection c) {
        return c.write(wire.encode(new ControlMessage.OpenOk())).toCompletableFuture()
                .thenApply(v -> MuxSession.acceptor(c, settings.mux(), timer, onViolation));
    }
}
