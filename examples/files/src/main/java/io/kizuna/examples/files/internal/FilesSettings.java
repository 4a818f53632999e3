package io.kizuna.examples.files.internal;

import java.nio.file.Path;

/**
 * The file transfer's settings, checked.
 *
 * @param folder            where received files are stored (absolute)
 * @param maxFileBytes      the largest file accepted
 * @param maxTransfers      files received at once; more offers are refused
 * @param stepTimeoutMillis how long one read or write may wait for the peer
 */
record FilesSettings(Path folder, long maxFileBytes, int maxTransfers, int stepTimeoutMillis) {

    static final long DEFAULT_MAX_FILE_BYTES = 1L << 30;
    static final int DEFAULT_MAX_TRANSFERS = 4;
    static final int DEFAULT_STEP_TIMEOUT_MILLIS = 30_000;
    /** The folder under the node's home when none is configured. */
    static final String DEFAULT_FOLDER = "received";

    /** Checks every value. */
    FilesSettings {
        folder = folder.toAbsolutePath().normalize();
        if (maxFileBytes < 0) {
            throw new IllegalArgumentException("files: maxFileBytes=" + maxFileBytes + " must be 0 or more");
        }
        if (maxTransfers < 1 || maxTransfers > 1024) {
            throw new IllegalArgumentException("files: maxTransfers=" + maxTransfers + " must be 1 to 1024");
        }
        if (stepTimeoutMillis < 100) {
            throw new IllegalArgumentException("files: stepTimeoutMillis=" + stepTimeoutMillis + " must be 100 or more");
        }
    }

    /**
     * @param c    the configuration
     * @param home the node's home folder (framework property kizuna.home, else Karaf's data folder), or null
     * @return the settings
     */
    static FilesSettings from(FilesConfig c, String home) {
        Path folder;
        if (c.folder() != null && !c.folder().isBlank()) {
            Path p = Path.of(c.folder().trim());
            folder = p.isAbsolute() || home == null ? p : Path.of(home).resolve(p);
        } else {
            folder = (home != null ? Path.of(home) : Path.of(System.getProperty("user.home"), ".kizuna"))
                    .resolve(DEFAULT_FOLDER);
        }
        return new FilesSettings(folder, c.maxFileBytes(), c.maxTransfers(), c.stepTimeoutMillis());
    }
}
