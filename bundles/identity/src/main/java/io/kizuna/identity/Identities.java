package io.kizuna.identity;

import java.io.IOException;
import java.nio.file.Path;

import io.kizuna.identity.internal.Ed25519;
import io.kizuna.identity.internal.KeyFile;
import io.kizuna.identity.internal.LocalIdentity;
import io.kizuna.transport.PeerId;

/**
 * Creates node identities outside OSGi (tests, tools). Inside the framework,
 * get the {@link NodeIdentity} service instead.
 *
 * <p>The key file holds the Ed25519 private key as PKCS#8 in a PEM
 * {@code PRIVATE KEY} block (as {@code openssl genpkey -algorithm ed25519}
 * writes it). A new file is created with mode {@code rw-------} in a folder
 * created {@code rwx------}, and written atomically. An existing file that group
 * or others may read or write is refused, as ssh refuses such a key: fix its mode
 * with {@code chmod 600}.
 */
public final class Identities {

    private Identities() {
    }

    /** @return a new identity with a fresh key, kept in memory only */
    public static NodeIdentity generate() {
        return LocalIdentity.of(Ed25519.generate());
    }

    /**
     * Loads the node key from {@code keyFile}, creating it (owner-only
     * permissions) when it does not exist.
     *
     * @param keyFile where the key is kept
     * @return the identity
     * @throws IOException when the file cannot be read or written, holds no valid
     *         Ed25519 key, or may be read or written by group or others; the
     *         message names the file and what to do
     */
    public static NodeIdentity loadOrCreate(Path keyFile) throws IOException {
        return LocalIdentity.of(KeyFile.loadOrCreate(keyFile));
    }

    /**
     * Checks an Ed25519 signature by a peer's node key, such as one made with
     * {@link NodeIdentity#sign(byte[])}.
     *
     * @param signer    the PeerId said to have signed
     * @param data      the signed bytes
     * @param signature the 64-byte signature
     * @return true only if the signature is valid for {@code data} and {@code signer};
     *         false for a wrong or malformed signature, or a PeerId that is no valid key
     */
    public static boolean verify(PeerId signer, byte[] data, byte[] signature) {
        return Ed25519.verify(signer, data, signature);
    }
}
