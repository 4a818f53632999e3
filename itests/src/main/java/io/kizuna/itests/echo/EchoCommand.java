package io.kizuna.itests.echo;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.PeerAddress;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code itest:echo <address> <MiB>}: sends that many MiB of seeded random bytes
 * on an {@value EchoHandler#PROTOCOL} stream while reading the echo, and prints
 * the SHA-256 of what was sent and of what came back, with the path taken. The
 * network lab runs it in a node behind a NAT.
 */
@Component(service = EchoCommand.class, property = {"osgi.command.scope=itest", "osgi.command.function=echo"})
public final class EchoCommand {

    private static final int CHUNK = 64 * 1024;
    private static final long STEP_SECONDS = 60;
    /** Most a run may send; keeps a mistyped size from running for hours. */
    private static final long MAX_MIB = 4096;

    private final ConnectionManager manager;

    /** @param manager the node's connection manager */
    @Activate
    public EchoCommand(@Reference ConnectionManager manager) {
        this.manager = manager;
    }

    /**
     * @param address the peer's address
     * @param mib     how many MiB to send
     * @return the report
     * @throws Exception when the stream fails or a step takes longer than a minute
     */
    public String echo(String address, long mib) throws Exception {
        if (mib < 1 || mib > MAX_MIB) {
            throw new IllegalArgumentException("give 1 to " + MAX_MIB + " MiB, not " + mib);
        }
        PeerAddress peer = PeerAddress.parse(address);
        Connection stream = manager.openStream(peer, EchoHandler.PROTOCOL).toCompletableFuture()
                .get(STEP_SECONDS, TimeUnit.SECONDS);
        long total = mib * 1024 * 1024;
        long start = System.nanoTime();
        CompletableFuture<byte[]> sent = CompletableFuture.supplyAsync(() -> send(stream, total));
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        long got = 0;
        while (true) {
            buf.clear();
            int n = stream.read(buf).toCompletableFuture().get(STEP_SECONDS, TimeUnit.SECONDS);
            if (n < 0) {
                break;
            }
            received.update(buf.flip());
            got += n;
        }
        byte[] sentSha = sent.get(STEP_SECONDS, TimeUnit.SECONDS);
        byte[] gotSha = received.digest();
        double seconds = (System.nanoTime() - start) / 1e9;
        stream.close();
        HexFormat hex = HexFormat.of();
        return "sent " + total + " bytes sha256 " + hex.formatHex(sentSha) + "\n"
                + "echoed " + got + " bytes sha256 " + hex.formatHex(gotSha) + "\n"
                + (MessageDigest.isEqual(sentSha, gotSha) && got == total ? "sha256 match" : "sha256 MISMATCH")
                + " over " + stream.info().remoteEndpoint() + String.format(" in %.1f s", seconds);
    }

    private static byte[] send(Connection stream, long total) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            SplittableRandom data = new SplittableRandom(0x5eed);
            ByteBuffer buf = ByteBuffer.allocate(CHUNK);
            for (long sent = 0; sent < total; sent += CHUNK) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(data.nextLong());
                }
                buf.flip();
                sha.update(buf.duplicate());
                stream.write(buf).toCompletableFuture().get(STEP_SECONDS, TimeUnit.SECONDS);
            }
            stream.shutdownOutput().toCompletableFuture().get(STEP_SECONDS, TimeUnit.SECONDS);
            return sha.digest();
        } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }
}
