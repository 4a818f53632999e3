package io.kizuna.core.internal.testing;

import java.security.SecureRandom;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;

/** PeerIds for tests. */
public final class TestIds {

    private static final SecureRandom RANDOM = new SecureRandom();

    private TestIds() {
    }

    /** @return the PeerId of a freshly generated identity */
    public static PeerId newPeerId() {
        return Identities.generate().peerId();
    }

    /** @return a PeerId of random bytes that no identity holds */
    public static PeerId randomPeerId() {
        byte[] key = new byte[PeerId.LENGTH];
        RANDOM.nextBytes(key);
        return PeerId.of(key);
    }
}
