package io.kizuna.itests.echo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.transport.Connection;
import io.kizuna.transport.StreamHandler;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * Echoes every stream of application protocol {@value #PROTOCOL}: writes back
 * what it reads until the peer ends its side, then ends its own.
 *
 * <p>The integration tests install this bundle into a second node and watch,
 * through {@value #EVENTS_FILE} in the node's home folder, how each stream ended
 * on that side: {@code eof} (an orderly end of stream) or {@code failed}.
 */
@Component(service = StreamHandler.class, property = StreamHandler.PROTOCOL + "=" + EchoHandler.PROTOCOL)
public final class EchoHandler implements StreamHandler {

    /** The application protocol served. */
    public static final String PROTOCOL = "itest/echo/1";

    /** The events file, in the folder named by framework property {@code kizuna.home}. */
    public static final String EVENTS_FILE = "echo-events.log";

    /** Streams recorded at most, so a runaway test cannot fill the disk. */
    static final int MAX_EVENTS = 10_000;

    private static final int BUFFER = 64 * 1024;
    /** Steps waiting for the handler's thread; a test opens a handful of streams. */
    private static final int QUEUE = 1024;

    private final Path events;
    private final AtomicInteger recorded = new AtomicInteger();
    private final AtomicInteger streams = new AtomicInteger();
    /** Every step runs here: off the transport's I/O threads (the events file is written), no recursion. */
    private final ThreadPoolExecutor executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(QUEUE), r -> new Thread(r, "itest-echo"));

    /**
     * @param context the bundle context, to find the node's home folder
     */
    @Activate
    public EchoHandler(BundleContext context) {
        String home = context.getProperty("kizuna.home");
        this.events = home == null ? null : Path.of(home, EVENTS_FILE);
    }

    @Deactivate
    void deactivate() {
        executor.shutdownNow();
    }

    @Override
    public void handle(Connection stream, String protocol) {
        int id = streams.incrementAndGet();
        String peer = String.valueOf(stream.info().peerId());
        try {
            executor.execute(() -> {
                record("open " + id + " " + peer);
                pump(stream, ByteBuffer.allocate(BUFFER), new AtomicLong(), id, peer);
            });
        } catch (RejectedExecutionException e) {
            // more streams than the queue holds, or the handler is going away: refuse this one
            stream.close();
        }
    }

    /** One read, then the write of what was read, then the next read; never blocks a caller's thread. */
    private void pump(Connection stream, ByteBuffer buffer, AtomicLong echoed, int id, String peer) {
        buffer.clear();
        stream.read(buffer).whenCompleteAsync((n, readFailure) -> {
            if (readFailure != null) {
                fail(stream, id, peer, echoed.get(), readFailure);
            } else if (n < 0) {
                record("eof " + id + " " + peer + " " + echoed.get());
                stream.shutdownOutput().whenComplete((v, f) -> stream.close());
            } else {
                buffer.flip();
                stream.write(buffer).whenCompleteAsync((v, writeFailure) -> {
                    if (writeFailure != null) {
                        fail(stream, id, peer, echoed.get(), writeFailure);
                    } else {
                        echoed.addAndGet(n);
                        pump(stream, buffer, echoed, id, peer);
                    }
                }, executor);
            }
        }, executor);
    }

    private void fail(Connection stream, int id, String peer, long echoed, Throwable failure) {
        Throwable cause = failure.getCause() != null && failure instanceof java.util.concurrent.CompletionException
                ? failure.getCause() : failure;
        record("failed " + id + " " + peer + " " + echoed + " " + cause.getClass().getSimpleName() + ": "
                + String.valueOf(cause.getMessage()).replace('\n', ' '));
        stream.close();
    }

    private void record(String line) {
        if (events == null) {
            return;
        }
        int n = recorded.incrementAndGet();
        String text = n <= MAX_EVENTS ? line : n == MAX_EVENTS + 1 ? "limit " + MAX_EVENTS + " events recorded" : null;
        if (text == null) {
            return;
        }
        synchronized (this) {
            try {
                Files.writeString(events, text + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
            } catch (IOException e) {
                System.getLogger(EchoHandler.class.getName()).log(System.Logger.Level.WARNING,
                        "cannot record echo event in " + events + ": " + e);
            }
        }
    }
}
