package io.kizuna.examples.files.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import io.kizuna.examples.files.internal.FileProtocol.Code;
import io.kizuna.examples.files.internal.FileProtocol.Offer;
import io.kizuna.examples.files.internal.FileProtocol.Reply;

/**
 * The receiving side of one transfer, on blocking streams: reads the offer,
 * checks it against the limits, stores the bytes under a part file and moves
 * it to its safe name once every byte is in. A refused or failed transfer
 * leaves nothing behind.
 */
final class Receiving {

    /** Numbered copies tried when the name is taken ({@code name-1.ext} ...). */
    static final int MAX_COPIES = 1000;
    private static final int BUFFER = 64 * 1024;

    private final FilesSettings settings;

    /** @param settings the limits and the folder */
    Receiving(FilesSettings settings) {
        this.settings = settings;
    }

    /**
     * The offer was read; it is refused when over a limit.
     *
     * @param offer the offer
     * @return why it is refused, or null when it is accepted
     */
    String refusal(Offer offer) {
        if (offer.size() > settings.maxFileBytes()) {
            return "the file of " + offer.size() + " bytes is larger than this node accepts (maxFileBytes="
                    + settings.maxFileBytes() + ")";
        }
        try {
            SafeNames.of(offer.name());
            Files.createDirectories(settings.folder());
            long free = Files.getFileStore(settings.folder()).getUsableSpace();
            if (free < offer.size()) {
                return "the receiving folder has " + free + " bytes free, less than the " + offer.size() + " offered";
            }
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        } catch (IOException e) {
            return "the receiving folder cannot be used: " + e.getMessage();
        }
        return null;
    }

    /**
     * Runs one transfer after the stream opened.
     *
     * @param in  the stream's input
     * @param out the stream's output
     * @return what happened, for the log
     * @throws IOException when the stream fails (the peer is then told nothing more)
     */
    String receive(InputStream in, OutputStream out) throws IOException {
        Offer offer = FileProtocol.readOffer(in);
        String refused = refusal(offer);
        if (refused != null) {
            FileProtocol.writeReply(out, new Reply(Code.REFUSED, refused));
            return "refused '" + offer.name() + "': " + refused;
        }
        FileProtocol.writeReply(out, new Reply(Code.ACCEPTED, ""));
        Path part = Files.createTempFile(settings.folder(), ".incoming-", ".part");
        try {
            byte[] sha = copy(in, part, offer.size());
            Path stored = place(part, SafeNames.of(offer.name()));
            String hex = HexFormat.of().formatHex(sha);
            FileProtocol.writeReply(out, new Reply(Code.STORED, stored.getFileName() + " " + hex));
            return "stored '" + offer.name() + "' as " + stored + " (" + offer.size() + " bytes, sha256 " + hex + ")";
        } catch (TransferFailed e) {
            FileProtocol.writeReply(out, new Reply(Code.FAILED, e.getMessage()));
            return "failed '" + offer.name() + "': " + e.getMessage();
        } finally {
            Files.deleteIfExists(part);
        }
    }

    /** What the sender is told when its bytes did not arrive as offered, or could not be stored. */
    static final class TransferFailed extends Exception {
        private static final long serialVersionUID = 1L;

        TransferFailed(String message) {
            super(message);
        }
    }

    private static byte[] copy(InputStream in, Path part, long size) throws IOException, TransferFailed {
        MessageDigest sha = sha256();
        byte[] buf = new byte[BUFFER];
        long left = size;
        try (OutputStream file = Files.newOutputStream(part)) {
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    throw new TransferFailed("the stream ended after " + (size - left) + " of " + size + " bytes");
                }
                file.write(buf, 0, n);
                sha.update(buf, 0, n);
                left -= n;
            }
        }
        if (in.read() >= 0) {
            throw new TransferFailed("the sender sent more than the " + size + " bytes it offered");
        }
        return sha.digest();
    }

    private Path place(Path part, String name) throws IOException, TransferFailed {
        for (int i = 0; i <= MAX_COPIES; i++) {
            Path target = settings.folder().resolve(i == 0 ? name : SafeNames.numbered(name, i));
            try {
                Files.createFile(target); // claims the name; the move below replaces this empty file
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                return target;
            } catch (FileAlreadyExistsException taken) {
                // next number
            }
        }
        throw new TransferFailed("the folder already holds " + name + " and " + MAX_COPIES + " numbered copies");
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java", e);
        }
    }
}
