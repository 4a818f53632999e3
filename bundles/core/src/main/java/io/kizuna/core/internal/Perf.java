package io.kizuna.core.internal;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.TransportException;

/**
 * The perf protocol ({@code kizuna/perf/1}), as libp2p's perf: the client asks
 * for N bytes back (8 bytes, big-endian), uploads its bytes, shuts its output
 * down; the server reads to the end, then sends N bytes and closes.
 *
 * <p>The 8-byte request follows the OPEN frame at once, before the answer, so the
 * server can refuse a request above its {@code maxPerfBytes}, or above what is
 * left of the peer's {@code maxPerfBytesPerPeerPerMinute}, with OPEN_REFUSED
 * instead of a silent close.
 */
final class Perf {

    private static final System.Logger LOG = System.getLogger(Perf.class.getName());

    /** Size of each read and write. */
    static final int CHUNK = 64 * 1024;

    /** Progress is reported at most this often (and at the end of each phase). */
    private static final long PROGRESS_NANOS = 250_000_000L;

    private Perf() {
    }

    // ------------------------------------------------------------------ client

    /**
     * Runs one perf exchange on a fresh stream (not yet opened).
     *
     * @return the figures; the stream is closed when it ends
     */
    static CompletableFuture<PerfResult> run(Wire wire, Connection stream, PeerId peer, String protocol, long up,
            long down, Consumer<PerfResult.Progress> progress, Duration openTimeout) {
        byte[] request = ByteBuffer.allocate(8).putLong(down).array();
        Client c = new Client(stream, peer, protocol, up, down, progress);
        CompletableFuture<PerfResult> result = wire.open(stream, ConnectionManagerImpl.PERF, request, peer,
                openTimeout).thenCompose(s -> c.upload()).thenCompose(v -> c.download());
        result.whenComplete((r, e) -> stream.close());
        return result;
    }

    private static final class Client {
        private final Connection stream;
        private final PeerId peer;
        private final String protocol;
        private final long up;
        private final long down;
        private final Reporter reporter;
        private final ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        private long start;
        private long sent;
        private long firstByte = -1;
        private long received;

        Client(Connection stream, PeerId peer, String protocol, long up, long down,
                Consumer<PerfResult.Progress> progress) {
            this.stream = stream;
            this.peer = peer;
            this.protocol = protocol;
            this.up = up;
            this.down = down;
            this.reporter = new Reporter(progress);
        }

        CompletableFuture<Void> upload() {
            start = System.nanoTime();
            return Async.loop(() -> {
                if (sent >= up) {
                    return CompletableFuture.completedFuture(false);
                }
                int n = (int) Math.min(CHUNK, up - sent);
                buf.clear().limit(n);
                return stream.write(buf).thenApply(v -> {
                    sent += n;
                    reporter.report("upload", sent, up, start, sent == up);
                    return true;
                });
            }).thenCompose(v -> stream.shutdownOutput().toCompletableFuture());
        }

        CompletableFuture<PerfResult> download() {
            return Async.loop(() -> {
                buf.clear();
                return stream.read(buf).thenApply(n -> {
                    long now = System.nanoTime();
                    if (firstByte < 0) {
                        firstByte = now; // the server answers only after it read everything: upload done
                    }
                    if (n < 0) {
                        return false;
                    }
                    received += n;
                    if (received > down) {
                        throw new java.util.concurrent.CompletionException(new TransportException.ProtocolViolation(
                                "perf: peer " + peer + " sent more than the " + down + " bytes asked for"));
                    }
                    reporter.report("download", received, down, firstByte, received == down);
                    return true;
                });
            }).thenApply(v -> {
                long end = System.nanoTime();
                if (received != down) {
                    throw new java.util.concurrent.CompletionException(new TransportException.Io("perf: peer "
                            + peer + " ended the stream after " + received + " of the " + down + " bytes asked for",
                            null));
                }
                return new PerfResult(peer, protocol, up, Duration.ofNanos(firstByte - start), received,
                        Duration.ofNanos(end - firstByte));
            });
        }
    }

    /** Calls the progress callback at most four times a second, and at the end of each phase. */
    private static final class Reporter {
        private final Consumer<PerfResult.Progress> progress;
        private long last;

        Reporter(Consumer<PerfResult.Progress> progress) {
            this.progress = progress;
        }

        void report(String phase, long done, long total, long phaseStart, boolean end) {
            if (progress == null) {
                return;
            }
            long now = System.nanoTime();
            if (!end && now - last < PROGRESS_NANOS) {
                return;
            }
            last = now;
            try {
                progress.accept(new PerfResult.Progress(phase, done, total, Duration.ofNanos(now - phaseStart)));
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "perf progress callback failed", e);
            }
        }
    }

    // ------------------------------------------------------------------ server

    /**
     * Serves one perf request on an accepted stream whose OPEN was read.
     *
     * @param budget takes the bytes asked for from the peer's budget; returns null when
     *               it did, else the refusal, which goes back as OPEN_REFUSED
     * @return completes when the exchange ended; the stream is closed then
     */
    static CompletableFuture<Void> serve(Wire wire, Connection stream, long maxPerfBytes,
            java.util.function.LongFunction<TransportException.LimitExceeded> budget) {
        ByteBuffer request = ByteBuffer.allocate(8);
        PeerId peer = stream.info().peerId();
        CompletableFuture<Void> done = Async.within(Async.loop(() -> {
            if (!request.hasRemaining()) {
                return CompletableFuture.completedFuture(false);
            }
            return stream.read(request).thenApply(n -> {
                if (n < 0) {
                    throw new java.util.concurrent.CompletionException(new TransportException.ProtocolViolation(
                            "perf: peer " + peer + " ended the stream inside its 8-byte request"));
                }
                return true;
            });
        }), wire.openTimeout(), wire.timer(), () -> new TransportException.NegotiationTimeout("perf request from "
                + peer, wire.openTimeout())).thenCompose(v -> {
                    long wanted = request.flip().getLong();
                    if (wanted < 0 || wanted > maxPerfBytes) {
                        wire.sendAndClose(stream, new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT,
                                "a perf run asking for " + Long.toUnsignedString(wanted) + " bytes back; this node "
                                        + "sends at most " + maxPerfBytes + " per run", "maxPerfBytes",
                                maxPerfBytes));
                        return CompletableFuture.failedFuture(new TransportException.LimitExceeded("maxPerfBytes",
                                maxPerfBytes, "perf request from " + peer + " for " + Long.toUnsignedString(wanted)
                                        + " bytes"));
                    }
                    TransportException.LimitExceeded over = budget.apply(wanted);
                    if (over != null) {
                        wire.sendAndClose(stream, new ControlMessage.OpenRefused(ControlMessage.Codes.LIMIT,
                                over.getMessage(), over.limit(), over.value()));
                        return CompletableFuture.failedFuture(over);
                    }
                    return stream.write(wire.encode(new ControlMessage.OpenOk())).toCompletableFuture()
                            .thenCompose(x -> drain(stream))
                            .thenCompose(x -> send(stream, wanted));
                });
        done.whenComplete((v, e) -> {
            if (e != null) {
                LOG.log(System.Logger.Level.DEBUG, "perf stream from " + peer.shortForm() + " ended: "
                        + Async.unwrap(e).getMessage());
            }
            stream.close();
        });
        return done;
    }

    private static CompletableFuture<Void> drain(Connection stream) {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        return Async.loop(() -> {
            buf.clear();
            return stream.read(buf).thenApply(n -> n >= 0);
        });
    }

    private static CompletableFuture<Void> send(Connection stream, long count) {
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        long[] sent = {0};
        return Async.loop(() -> {
            if (sent[0] >= count) {
                return CompletableFuture.completedFuture(false);
            }
            int n = (int) Math.min(CHUNK, count - sent[0]);
            buf.clear().limit(n);
            return stream.write(buf).thenApply(v -> {
                sent[0] += n;
                return true;
            });
        }).thenCompose(v -> stream.close().toCompletableFuture());
    }
}
