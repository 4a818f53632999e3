package io.kizuna.core.internal.testing;

import java.security.SecureRandom;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;

/** PeerIds for tests: from a generated node identity where the identity bundle provides one. */
public final class TestIds {

    private static final SecureRandom RANDOM = new SecureRandom();

    private TestIds() {
    }

    /** @return the PeerId of a freshly generated identity, or of random key bytes while generation is not built */
    public static PeerId newPeerId() {
        try {
            return Identities.generate().peerId();
        } catch (IllegalStateException | UnsupportedOperationException notBuiltYet) {
            return randomPeerId();
        }
    }

    /** @return a PeerId of random bytes that no identity holds */
    public static PeerId randomPeerId() {
        byte[] key = new byte[PeerId.LENGTH];
        RANDOM.nextBytes(key);
        return PeerId.of(key);
    }
}
