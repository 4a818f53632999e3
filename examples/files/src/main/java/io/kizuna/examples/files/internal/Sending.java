package io.kizuna.examples.files.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

import io.kizuna.examples.files.internal.FileProtocol.Code;
import io.kizuna.examples.files.internal.FileProtocol.Offer;
import io.kizuna.examples.files.internal.FileProtocol.Reply;

/** The sending side of one transfer, on blocking streams. */
final class Sending {

    private static final int BUFFER = 64 * 1024;

    /**
     * @param storedAs the name the receiver stored the file under
     * @param bytes    the bytes sent
     */
    record Sent(String storedAs, long bytes) {
    }

    /** The receiver refused the file, or could not store it; the message is its reason. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;

        Refused(String message) {
            super(message);
        }
    }

    private Sending() {
    }

    /**
     * @param file     the file to send
     * @param in       the stream's input
     * @param out      the stream's output
     * @param endOutput ends the stream's output once the bytes are out
     * @return what the receiver stored
     * @throws Refused     when the receiver refused or failed, with its reason
     * @throws IOException when the file or the stream fails
     */
    static Sent send(Path file, InputStream in, OutputStream out, Runnable endOutput) throws Refused, IOException {
        long size = Files.size(file);
        FileProtocol.writeOffer(out, new Offer(file.getFileName().toString(), size));
        Reply answer = FileProtocol.readReply(in);
        if (answer.code() != Code.ACCEPTED) {
            throw new Refused(answer.message());
        }
        MessageDigest sha = Receiving.sha256();
        byte[] buf = new byte[BUFFER];
        long sent = 0;
        try (InputStream f = Files.newInputStream(file)) {
            while (sent < size) {
                int n = f.read(buf, 0, (int) Math.min(buf.length, size - sent));
                if (n < 0) {
                    throw new IOException(file + " shrank while it was sent: " + sent + " of " + size + " bytes read");
                }
                out.write(buf, 0, n);
                sha.update(buf, 0, n);
                sent += n;
            }
        }
        out.flush();
        endOutput.run();
        Reply done = FileProtocol.readReply(in);
        if (done.code() != Code.STORED) {
            throw new Refused(done.message());
        }
        int space = done.message().lastIndexOf(' ');
        String storedAs = space > 0 ? done.message().substring(0, space) : done.message();
        String theirs = space > 0 ? done.message().substring(space + 1) : "";
        String ours = HexFormat.of().formatHex(sha.digest());
        if (!ours.equals(theirs)) {
            throw new IOException("the receiver stored " + storedAs + " with sha256 " + theirs + ", but " + ours
                    + " was sent");
        }
        return new Sent(storedAs, size);
    }
}
