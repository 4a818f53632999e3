package io.kizuna.examples.unix.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * How {@code unix://127.0.0.1:<n>} endpoints map to socket files: the socket
 * {@code <directory>/<n>.sock}, the directory shared by the nodes of one host.
 *
 * <p>The API's endpoints are {@code protocol://ip:port} with a literal IP, and
 * peers announce them in HELLO and in addresses; a file path fits neither. So
 * the port is a socket number inside a directory every node on the host is
 * configured with, as X11's display {@code :n} is the socket
 * {@code X<n>} in its {@code .X11-unix} directory; the IP is always loopback, because the socket is
 * reachable from this host only.
 */
final class SocketPaths {

    /** sun_path holds 108 bytes with its terminating NUL. */
    static final int MAX_PATH_BYTES = 107;
    /** The socket file of socket number n is {@code <n>} with this suffix. */
    static final String SUFFIX = ".sock";
    /** Socket numbers port 0 picks from: those of ephemeral ports. */
    static final int FIRST_FREE = 49152;
    static final int LAST_FREE = 65535;

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private SocketPaths() {
    }

    /** @return {@code kizuna-unix-<user>} in the system's temporary directory */
    static Path defaultDirectory() {
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        return Path.of(System.getProperty("java.io.tmpdir"), "kizuna-unix-" + user);
    }

    /**
     * @param directory the socket directory
     * @throws IllegalArgumentException when the longest socket path in it is too long for a socket address
     */
    static void checkLength(Path directory) {
        int bytes = socket(directory, LAST_FREE).toString().getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("unix: directory=" + directory + " is too long: a socket path in it "
                    + "takes " + bytes + " bytes, and a Unix domain socket address holds at most " + MAX_PATH_BYTES
                    + "; choose a shorter directory");
        }
    }

    /**
     * @param directory the socket directory
     * @param number    the endpoint's port
     * @return the socket file
     */
    static Path socket(Path directory, int number) {
        return directory.resolve(number + SUFFIX);
    }

    /**
     * @param address an endpoint's address
     * @return why it cannot name a socket of this host, or null when it can
     */
    static String notLocal(InetSocketAddress address) {
        if (address.getAddress() == null || !address.getAddress().isLoopbackAddress()) {
            return "a unix endpoint names a socket on this host: write unix://127.0.0.1:<n>, not "
                    + address.getHostString();
        }
        return null;
    }

    /**
     * Creates the directory owner-only when it is missing, and checks that this
     * user owns it and nobody else may write to it (another user's directory
     * could hold sockets that stand in for a peer's; TLS would refuse their keys,
     * but they could still take a node's socket numbers).
     *
     * @param directory the socket directory
     * @throws IOException naming the directory and what is wrong with it
     */
    static void prepare(Path directory) throws IOException {
        try {
            Files.createDirectories(directory.getParent());
            Files.createDirectory(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
        } catch (FileAlreadyExistsException e) {
            // checked below
        }
        PosixFileAttributes a = Files.readAttributes(directory, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isDirectory()) {
            throw new IOException("the socket directory " + directory + " is not a directory");
        }
        String me = System.getProperty("user.name");
        if (me != null && !a.owner().getName().equals(me)) {
            throw new IOException("the socket directory " + directory + " belongs to " + a.owner().getName()
                    + ", not to " + me + "; configure another directory (PID " + UnixTransport.PID + ")");
        }
        if (a.permissions().contains(PosixFilePermission.GROUP_WRITE)
                || a.permissions().contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException("the socket directory " + directory + " may be written by group or others ("
                    + PosixFilePermissions.toString(a.permissions()) + "); make it owner-only (chmod 700)");
        }
    }
}
