package io.kizuna.relay.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;

/**
 * A signed admission token: an issuer (any node key) grants a subject PeerId the
 * use of every relay that trusts the issuer, until an expiry, with a quota for
 * its circuits. A relay checks it offline: the issuer's PeerId is its public key.
 *
 * <p>Encoding (157 bytes, text form base64url without padding):
 * {@code version:u8 (1) | issuer:32 | subject:32 | notAfter:u64 (epoch seconds) |
 * maxBytes:u64 | maxSeconds:u32 | rate:u64 | signature:64}, the signature being
 * Ed25519 by the issuer over {@code "kizuna-relay-token:"} followed by every
 * byte before the signature.
 *
 * @param issuer     who signed
 * @param subject    the peer it admits
 * @param notAfter   when it expires
 * @param maxBytes   bytes per circuit, 0 = the relay's own limit
 * @param maxSeconds seconds per circuit, 0 = the relay's own limit
 * @param rate       bytes per second per circuit, 0 = the relay's own limit
 * @param signature  the issuer's signature
 */
record RelayToken(PeerId issuer, PeerId subject, Instant notAfter, long maxBytes, long maxSeconds, long rate,
        byte[] signature) {

    static final int LENGTH = 1 + 32 + 32 + 8 + 8 + 4 + 8 + 64;
    private static final byte VERSION = 1;
    private static final byte[] CONTEXT = "kizuna-relay-token:".getBytes(StandardCharsets.US_ASCII);

    /** Why a token is not accepted. */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message);
        }
    }

    /**
     * Issues a token.
     *
     * @param issuer     the signing node
     * @param subject    the admitted peer
     * @param notAfter   expiry
     * @param maxBytes   bytes per circuit (0: relay's limit)
     * @param maxSeconds seconds per circuit (0: relay's limit)
     * @param rate       bytes per second per circuit (0: relay's limit)
     * @return the token
     */
    static RelayToken issue(NodeIdentity issuer, PeerId subject, Instant notAfter, long maxBytes, long maxSeconds,
            long rate) {
        if (maxBytes < 0 || maxSeconds < 0 || maxSeconds > 0xffffffffL || rate < 0) {
            throw new IllegalArgumentException("token quotas must be >= 0 (seconds below 2^32)");
        }
        RelayToken unsigned = new RelayToken(issuer.peerId(), subject, notAfter, maxBytes, maxSeconds, rate,
                new byte[64]);
        return new RelayToken(issuer.peerId(), subject, notAfter, maxBytes, maxSeconds, rate,
                issuer.sign(unsigned.signed()));
    }

    private byte[] body() {
        return ByteBuffer.allocate(LENGTH - 64).put(VERSION).put(issuer.bytes()).put(subject.bytes())
                .putLong(notAfter.getEpochSecond()).putLong(maxBytes).putInt((int) maxSeconds).putLong(rate)
                .array();
    }

    private byte[] signed() {
        byte[] body = body();
        return ByteBuffer.allocate(CONTEXT.length + body.length).put(CONTEXT).put(body).array();
    }

    /** @return the wire form */
    byte[] encode() {
        return ByteBuffer.allocate(LENGTH).put(body()).put(signature).array();
    }

    /** @return the text form */
    String text() {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(encode());
    }

    /**
     * Decodes and checks the signature (not the expiry or the subject).
     *
     * @param raw the wire form
     * @return the token
     * @throws Invalid naming what is wrong
     */
    static RelayToken decode(byte[] raw) throws Invalid {
        if (raw.length != LENGTH) {
            throw new Invalid("a relay token has " + LENGTH + " bytes, not " + raw.length);
        }
        ByteBuffer b = ByteBuffer.wrap(raw);
        if (b.get() != VERSION) {
            throw new Invalid("unknown relay token version " + raw[0]);
        }
        byte[] issuer = new byte[32];
        byte[] subject = new byte[32];
        b.get(issuer).get(subject);
        long notAfter = b.getLong();
        long maxBytes = b.getLong();
        long maxSeconds = b.getInt() & 0xffffffffL;
        long rate = b.getLong();
        byte[] sig = new byte[64];
        b.get(sig);
        if (notAfter < 0 || maxBytes < 0 || rate < 0) {
            throw new Invalid("relay token has a negative field");
        }
        if (notAfter > Instant.MAX.getEpochSecond()) {
            throw new Invalid("relay token expires after the last instant there is (" + notAfter + " s)");
        }
        RelayToken t;
        try {
            t = new RelayToken(PeerId.of(issuer), PeerId.of(subject), Instant.ofEpochSecond(notAfter),
                    maxBytes, maxSeconds, rate, sig);
        } catch (IllegalArgumentException e) {
            // a key that is no node's key, e.g. a point of small order
            throw new Invalid("relay token: " + e.getMessage());
        }
        if (!Identities.verify(t.issuer(), t.signed(), sig)) {
            throw new Invalid("the relay token's signature does not verify for issuer " + t.issuer());
        }
        return t;
    }

    /**
     * @param text the text form
     * @return the token
     * @throws Invalid when it is not valid base64url or not a valid token
     */
    static RelayToken parse(String text) throws Invalid {
        try {
            return decode(Base64.getUrlDecoder().decode(text.trim()));
        } catch (IllegalArgumentException e) {
            throw new Invalid("a relay token is base64url text: " + e.getMessage());
        }
    }
}
