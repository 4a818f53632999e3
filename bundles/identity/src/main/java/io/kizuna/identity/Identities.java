package io.kizuna.identity;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Creates node identities outside OSGi (tests, tools). Inside the framework,
 * get the {@link NodeIdentity} service instead. Implemented in the identity
 * bundle; placeholder bodies are replaced there.
 */
public final class Identities {

    private Identities() {
    }

    /** @return a new identity with a fresh key, kept in memory only */
    public static NodeIdentity generate() {
        throw new IllegalStateException("identity generation not built yet");
    }

    /**
     * Loads the node key from {@code keyFile}, creating it (owner-only
     * permissions) when it does not exist.
     *
     * @param keyFile where the key is kept
     * @return the identity
     * @throws IOException when the file cannot be read or written, or holds no valid key
     */
    public static NodeIdentity loadOrCreate(Path keyFile) throws IOException {
        throw new IOException("identity storage not built yet");
    }
}
