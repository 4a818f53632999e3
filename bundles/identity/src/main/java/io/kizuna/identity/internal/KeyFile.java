package io.kizuna.identity.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.spec.InvalidKeySpecException;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;

/**
 * The node key on disk: one Ed25519 private key as PKCS#8 in a PEM
 * {@code PRIVATE KEY} block, the format {@code openssl genpkey -algorithm ed25519}
 * writes and {@code openssl pkey -in node.key -pubout} reads.
 *
 * <p>The file is created owner-only ({@code rw-------}, folder {@code rwx------})
 * and written atomically: a complete temporary file in the same folder is linked
 * (or moved) into place, so a crash never leaves half a key. On load, a file that
 * group or others may read or write is <em>refused</em> (as ssh refuses such a key):
 * a leaked node key is a stolen identity, so the operator must fix the mode.
 * Where the file system has no POSIX permissions the check is skipped.
 */
public final class KeyFile {

    /** A PEM Ed25519 key is about 120 bytes; anything much larger is not a key file. */
    static final int MAX_SIZE = 16 * 1024;

    private static final String BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String END = "-----END PRIVATE KEY-----";

    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIR_MODE = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> NOT_FOR_OTHERS = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private KeyFile() {
    }

    /**
     * Loads the key, or creates a new one when the file does not exist.
     *
     * @param file the key file
     * @return the key pair
     * @throws IOException saying which file, what is wrong and what to do
     */
    public static KeyPair loadOrCreate(Path file) throws IOException {
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS) || Files.exists(file)) {
            return load(file);
        }
        KeyPair pair = Ed25519.generate();
        if (create(file, pair)) {
            return pair;
        }
        // Another process created it first: its key is the node's key.
        return load(file);
    }

    /**
     * Loads an existing key file.
     *
     * @param file the key file
     * @return the key pair
     * @throws IOException saying which file, what is wrong and what to do
     */
    public static KeyPair load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("node key file " + file + " is not a regular file; "
                    + "remove it, or configure another keyFile");
        }
        if (posix(file)) {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (mode.stream().anyMatch(NOT_FOR_OTHERS::contains)) {
                throw new IOException("node key file " + file + " has mode " + PosixFilePermissions.toString(mode)
                        + ": group or others may read or change the node's private key; "
                        + "if it has not leaked, run 'chmod 600 " + file + "'");
            }
        }
        long size = Files.size(file);
        if (size > MAX_SIZE) {
            throw new IOException("node key file " + file + " has " + size + " bytes, more than any key file ("
                    + MAX_SIZE + "); is keyFile pointing at the right file?");
        }
        byte[] content = Files.readAllBytes(file);
        byte[] der = decode(file, content);
        try {
            return Ed25519.fromPkcs8(der);
        } catch (InvalidKeySpecException e) {
            throw new IOException("node key file " + file + " holds no valid Ed25519 private key ("
                    + e.getMessage() + "); restore the right file, or move this one away to create a new identity",
                    e);
        }
    }

    /**
     * Writes a new key file, never replacing an existing one.
     *
     * @param file the key file
     * @param pair the key to store
     * @return true if written, false if the file appeared meanwhile (it is left as it is)
     * @throws IOException when the folder or file cannot be written
     */
    static boolean create(Path file, KeyPair pair) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        boolean posix = posix(dir);
        if (!Files.isDirectory(dir)) {
            if (posix) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(DIR_MODE));
            } else {
                Files.createDirectories(dir);
            }
        }
        FileAttribute<?>[] attrs = posix
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(FILE_MODE)}
                : new FileAttribute<?>[0];
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp", attrs);
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = java.nio.channels.Channels.newOutputStream(channel)) {
                out.write(encode(pair.getPrivate().getEncoded()));
                out.flush();
                channel.force(true);
            }
            try {
                // A hard link fails if the target exists, so a key made meanwhile by
                // another process is never overwritten.
                Files.createLink(target, tmp);
                return true;
            } catch (FileAlreadyExistsException e) {
                return false;
            } catch (UnsupportedOperationException | IOException noLinks) {
                if (Files.exists(target)) {
                    return false;
                }
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target);
                }
                return true;
            }
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (NoSuchFileException ignored) {
                // moved into place
            }
        }
    }

    /** @return the PEM text of a PKCS#8 key */
    static byte[] encode(byte[] pkcs8) {
        String body = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(pkcs8);
        return (BEGIN + "\n" + body + "\n" + END + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Accepts a PEM {@code PRIVATE KEY} block, or the bare DER. */
    private static byte[] decode(Path file, byte[] content) throws IOException {
        if (content.length == 0) {
            throw new IOException("node key file " + file + " is empty; "
                    + "restore the right file, or delete this one to create a new identity");
        }
        if (content[0] == 0x30) {
            return content;
        }
        String text = new String(content, StandardCharsets.US_ASCII);
        int begin = text.indexOf(BEGIN);
        int end = text.indexOf(END);
        if (begin < 0 || end < begin) {
            String found = text.contains("-----BEGIN ")
                    ? "a PEM block of another kind ("
                            + text.substring(text.indexOf("-----BEGIN ")).lines().findFirst().orElse("") + ")"
                    : "no PEM block";
            throw new IOException("node key file " + file + " holds " + found + ", expected '" + BEGIN
                    + "' with an Ed25519 PKCS#8 key; restore the right file, or move this one away to create "
                    + "a new identity");
        }
        try {
            return Base64.getMimeDecoder().decode(text.substring(begin + BEGIN.length(), end));
        } catch (IllegalArgumentException e) {
            throw new IOException("node key file " + file + " has a PRIVATE KEY block that is not base64 ("
                    + e.getMessage() + "); restore the right file, or move this one away to create a new identity",
                    e);
        }
    }

    private static boolean posix(Path path) {
        return path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
