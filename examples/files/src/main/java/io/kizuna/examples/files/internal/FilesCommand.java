package io.kizuna.examples.files.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * Gogo commands, scope {@code files}: {@code files:send <peer-address> <file>}
 * sends a file to a peer that runs this bundle too; {@code files:folder}
 * prints where this node stores what it receives.
 *
 * <p>How an application uses Kizuna from Java: parse the peer's address,
 * {@link ConnectionManager#openStream} with the application protocol, then
 * read and write the {@link Connection}.
 */
@Component(service = FilesCommand.class, property = {"osgi.command.scope=files",
        "osgi.command.function=send", "osgi.command.function=folder"})
public final class FilesCommand {

    private final ConnectionManager manager;
    private final FileReceiver receiver;

    /**
     * @param manager  the node's connection manager
     * @param receiver this node's receiving side, for its settings
     */
    @Activate
    public FilesCommand(@Reference ConnectionManager manager, @Reference FileReceiver receiver) {
        this.manager = manager;
        this.receiver = receiver;
    }

    /**
     * Prints one line (the shell's output; Karaf's batch mode prints no return values): what the receiver stored.
     *
     * @param address the peer's address, {@code <peer-id>@tcp://ip:port}
     * @param file    the file to send
     * @throws IllegalArgumentException when the address or the file is wrong, the peer refuses, or the transfer fails
     */
    public void send(String address, String file) {
        PeerAddress peer;
        try {
            peer = PeerAddress.parse(address);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + address + "' is not a peer address: write "
                    + "<peer-id>@tcp://ip:port (" + e.getMessage() + ")");
        }
        Path path = Path.of(file).toAbsolutePath();
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new IllegalArgumentException("cannot send " + path + ": not a readable file");
        }
        long step = receiver.settings().stepTimeoutMillis();
        long start = System.nanoTime();
        Connection stream;
        try {
            stream = manager.openStream(peer, FileProtocol.PROTOCOL).toCompletableFuture()
                    .get(step, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("cannot open a " + FileProtocol.PROTOCOL + " stream to "
                    + peer.peerId().shortForm() + ": " + c.getMessage(), c);
        } catch (TimeoutException e) {
            throw new IllegalArgumentException("no " + FileProtocol.PROTOCOL + " stream to " + peer.peerId().shortForm()
                    + " within " + step + " ms (stepTimeoutMillis)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalArgumentException("interrupted");
        }
        try {
            ConnectionStreams io = new ConnectionStreams(stream, step);
            Sending.Sent sent = Sending.send(path, io.in(), io.out(), () -> {
                try {
                    io.endOutput();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.println(String.format("sent %s (%d bytes) to %s as %s over %s in %.2f s, sha256 verified",
                    path.getFileName(), sent.bytes(), peer.peerId().shortForm(), sent.storedAs(),
                    stream.info().protocol(), seconds));
        } catch (Sending.Refused e) {
            throw new IllegalArgumentException(peer.peerId().shortForm() + " did not take " + path.getFileName()
                    + ": " + e.getMessage());
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("sending " + path.getFileName() + " to " + peer.peerId().shortForm()
                    + " failed: " + e.getMessage(), e);
        } finally {
            stream.close();
        }
    }

    /** Prints where this node stores received files, and its limits. */
    public void folder() {
        FilesSettings s = receiver.settings();
        System.out.println(s.folder() + " (files up to " + s.maxFileBytes() + " bytes, " + s.maxTransfers()
                + " at once)");
    }
}
