package io.kizuna.examples.files.internal;

import java.io.IOException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.kizuna.examples.files.internal.FileProtocol.Code;
import io.kizuna.examples.files.internal.FileProtocol.Reply;
import io.kizuna.transport.Connection;
import io.kizuna.transport.StreamHandler;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * Receives files: the {@link StreamHandler} for {@value FileProtocol#PROTOCOL}
 * streams (the connection manager finds it on the whiteboard by its
 * {@link StreamHandler#PROTOCOL} property).
 *
 * <p>{@link #handle} must not block the transport's thread: each transfer runs
 * on one of at most {@code maxTransfers} threads, and an offer beyond them is
 * refused as busy, naming the limit (by one more thread, with at most
 * {@value #MAX_WAITING_REFUSALS} refusals waiting; beyond those a stream is
 * closed unanswered). Stopping the component stops the threads
 * and with them the transfers (their part files are removed).
 */
@Component(service = {StreamHandler.class, FileReceiver.class}, configurationPid = FileReceiver.PID,
        property = StreamHandler.PROTOCOL + "=" + FileProtocol.PROTOCOL)
@Designate(ocd = FilesConfig.class)
public final class FileReceiver implements StreamHandler {

    /** The configuration PID. */
    static final String PID = "io.kizuna.examples.files";

    private static final System.Logger LOG = System.getLogger(FileReceiver.class.getName());
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final FilesSettings settings;
    private final Receiving receiving;
    private final ThreadPoolExecutor transfers;
    /** Busy refusals: one thread, a short queue; beyond it a stream is closed without a reply. */
    private final ThreadPoolExecutor refusals;

    /** Busy refusals waiting for the refusing thread, at most. */
    static final int MAX_WAITING_REFUSALS = 16;

    /**
     * Activated by Declarative Services.
     *
     * @param config  the configuration
     * @param context the bundle's context, for the node's home folder
     */
    @Activate
    public FileReceiver(FilesConfig config, BundleContext context) {
        this(FilesSettings.from(config, home(context)));
    }

    FileReceiver(FilesSettings settings) {
        this.settings = settings;
        this.receiving = new Receiving(settings);
        this.transfers = new ThreadPoolExecutor(0, settings.maxTransfers(), 30, TimeUnit.SECONDS,
                new SynchronousQueue<>(), r -> {
                    Thread t = new Thread(r, "kizuna-files-" + THREADS.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.refusals = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS,
                new java.util.concurrent.ArrayBlockingQueue<>(MAX_WAITING_REFUSALS), r -> {
                    Thread t = new Thread(r, "kizuna-files-busy");
                    t.setDaemon(true);
                    return t;
                });
        LOG.log(System.Logger.Level.INFO, "receiving files into {0} (at most {1} bytes each, {2} at once)",
                settings.folder(), settings.maxFileBytes(), settings.maxTransfers());
    }

    private static String home(BundleContext context) {
        String home = context.getProperty("kizuna.home");
        return home != null ? home : context.getProperty("karaf.data");
    }

    @Deactivate
    void deactivate() {
        transfers.shutdownNow();
        refusals.shutdownNow();
    }

    /** @return the settings in force */
    FilesSettings settings() {
        return settings;
    }

    @Override
    public void handle(Connection stream, String protocol) {
        try {
            transfers.execute(() -> run(stream));
        } catch (RejectedExecutionException busy) {
            // Refusing takes a read and a write, which must not block this (the transport's) thread either.
            try {
                refusals.execute(() -> refuseBusy(stream));
            } catch (RejectedExecutionException flooded) {
                LOG.log(System.Logger.Level.WARNING, "closed a stream from {0} without a reply: {1} transfers run "
                        + "(maxTransfers) and {2} refusals wait", stream.info().peerId(), settings.maxTransfers(),
                        MAX_WAITING_REFUSALS);
                stream.close();
            }
        }
    }

    private void run(Connection stream) {
        ConnectionStreams io = new ConnectionStreams(stream, settings.stepTimeoutMillis());
        String from = "a peer";
        try {
            from = String.valueOf(stream.info().peerId());
            String what = receiving.receive(io.in(), io.out());
            LOG.log(System.Logger.Level.INFO, "from {0}: {1}", from, what);
            io.endOutput();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "a transfer from {0} failed: {1}", from, e.getMessage());
        } finally {
            stream.close();
        }
    }

    private void refuseBusy(Connection stream) {
        ConnectionStreams io = new ConnectionStreams(stream, settings.stepTimeoutMillis());
        try {
            FileProtocol.Offer offer = FileProtocol.readOffer(io.in());
            String why = "this node is receiving " + settings.maxTransfers() + " files already (maxTransfers="
                    + settings.maxTransfers() + "); try again later";
            FileProtocol.writeReply(io.out(), new Reply(Code.REFUSED, why));
            io.endOutput();
            LOG.log(System.Logger.Level.INFO, "refused ''{0}'' from {1}: busy", offer.name(), stream.info().peerId());
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "refusing a busy transfer failed: {0}", e.getMessage());
        } finally {
            stream.close();
        }
    }
}
