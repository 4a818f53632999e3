package io.kizuna.quic.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;

import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.kizuna.identity.NodeIdentity;
import io.netty.handler.codec.quic.QuicConnectionAddress;
import io.netty.handler.codec.quic.QuicConnectionIdGenerator;
import io.netty.handler.codec.quic.QuicResetTokenGenerator;

/**
 * Stateless resets (RFC 9000 §10.3): the keys and connection IDs that let a
 * listener which lost a connection's state, because it restarted or crashed,
 * tell the dialer at once instead of leaving it to its idle timeout.
 *
 * <p>Two keys. The reset key is derived from the node key (an Ed25519 signature
 * of a fixed label, which is deterministic), so a restarted node computes the
 * same tokens: a connection ID's token is HMAC-SHA256(reset key, connection ID),
 * cut to 16 bytes (§10.3.2). The token of a connection reaches only that
 * connection's dialer, inside the connection. The connection-ID key is new with
 * every transport instance: a listener's connection IDs are 16 bytes of
 * AES(ID key, 8 unpredictable bytes, this instance's 8-byte tag) followed by 4
 * more, so an instance recognises its own IDs with one block decryption and
 * answers a short-header packet whose ID is not its own (one minted before a
 * restart) with a reset. To anyone else the IDs of different connections look
 * unrelated.
 */
final class StatelessResets {

    /** The length of a listener's connection IDs. */
    static final int CONNECTION_ID_LENGTH = 20;
    /** The length of a reset token. */
    static final int TOKEN_LENGTH = 16;
    /** The shortest stateless reset: 1 byte of header, 4 unpredictable ones, the token (§10.3). */
    static final int MIN_RESET_LENGTH = 5 + TOKEN_LENGTH;
    private static final byte[] RESET_KEY_LABEL = "kizuna/quic/stateless-reset-key/1".getBytes(StandardCharsets.US_ASCII);
    private static final int BLOCK = 16;
    private static final int TAG_LENGTH = 8;
    /** How Netty writes a connection address: this prefix, the ID in lowercase hex, then a brace. */
    static final String ID_PREFIX = "QuicConnectionAddress{connId=";

    private final SecretKeySpec resetKey;
    private final SecretKeySpec idKey;
    private final byte[] tag;

    /** @param identity the node identity the reset key is derived from */
    StatelessResets(NodeIdentity identity) {
        this(identity.sign(RESET_KEY_LABEL), QuicTransport.randomBytes(BLOCK), QuicTransport.randomBytes(TAG_LENGTH));
    }

    StatelessResets(byte[] resetKeyMaterial, byte[] idKeyMaterial, byte[] tag) {
        this.resetKey = new SecretKeySpec(resetKeyMaterial, "HmacSHA256");
        this.idKey = new SecretKeySpec(idKeyMaterial, "AES");
        this.tag = tag.clone();
    }

    /**
     * @param connectionId a connection ID of a listener of this node
     * @return its reset token
     */
    byte[] token(ByteBuffer connectionId) {
        Mac mac = hmac(resetKey);
        mac.update(connectionId.duplicate());
        return Arrays.copyOf(mac.doFinal(), TOKEN_LENGTH);
    }

    /**
     * @param address a QUIC channel's local connection address
     * @return its connection ID, or null when the channel has no address
     * @throws IllegalStateException when Netty's text form of the address is not
     *         the one read here: then no reset token can be sent, which must not
     *         pass unnoticed
     */
    static ByteBuffer connectionId(QuicConnectionAddress address) {
        // Netty keeps the ID's bytes package-private; its string form is the documented hex dump.
        return address == null ? null : connectionId(address.toString());
    }

    /**
     * @param text a connection address's text form
     * @return its connection ID
     * @throws IllegalStateException when the text is not in the form Netty writes
     */
    static ByteBuffer connectionId(String text) {
        if (text.startsWith(ID_PREFIX) && text.endsWith("}")) {
            try {
                return ByteBuffer.wrap(HexFormat.of().parseHex(text, ID_PREFIX.length(), text.length() - 1));
            } catch (IllegalArgumentException e) {
                // not hex: the form changed
            }
        }
        throw new IllegalStateException("Netty's QuicConnectionAddress text is '" + text + "', not " + ID_PREFIX
                + "<hex>}: the connection ID cannot be read, so no stateless reset token can be sent");
    }

    /** @return a cipher that tells this instance's connection IDs from others, for one thread */
    Cipher idCipher() {
        try {
            Cipher c = Cipher.getInstance("AES/ECB/NoPadding");
            c.init(Cipher.DECRYPT_MODE, idKey);
            return c;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES is not available", e);
        }
    }

    /**
     * @param cipher from {@link #idCipher()}, used by one thread
     * @param id     a connection ID of {@value #CONNECTION_ID_LENGTH} bytes
     * @param plain  scratch space of 16 bytes
     * @return whether that connection ID was minted by this instance
     */
    boolean minted(Cipher cipher, byte[] id, byte[] plain) {
        try {
            cipher.doFinal(id, 0, BLOCK, plain, 0);
        } catch (GeneralSecurityException e) {
            return false;
        }
        return MessageDigest.isEqual(Arrays.copyOfRange(plain, BLOCK - TAG_LENGTH, BLOCK), tag);
    }

    /** @return the generator of a listener's connection IDs, recognisable by {@link #minted} */
    QuicConnectionIdGenerator idGenerator() {
        return new QuicConnectionIdGenerator() {
            @Override
            public ByteBuffer newId(int length) {
                return mint(QuicTransport.randomBytes(TAG_LENGTH + 4), length);
            }

            @Override
            public ByteBuffer newId(ByteBuffer input, int length) {
                // After a Retry the codec derives the ID again from the dialer's: it must come out the same.
                Mac mac = hmac(idKey);
                mac.update(input.duplicate());
                return mint(mac.doFinal(), length);
            }

            @Override
            public int maxConnectionIdLength() {
                return CONNECTION_ID_LENGTH;
            }

            @Override
            public boolean isIdempotent() {
                return true;
            }
        };
    }

    /** @return tokens for the connection IDs quiche announces in NEW_CONNECTION_ID frames */
    QuicResetTokenGenerator tokenGenerator() {
        return cid -> ByteBuffer.wrap(token(cid));
    }

    private ByteBuffer mint(byte[] unpredictable, int length) {
        if (length != CONNECTION_ID_LENGTH) {
            throw new IllegalArgumentException("listener connection IDs are " + CONNECTION_ID_LENGTH
                    + " bytes, not " + length);
        }
        byte[] block = new byte[BLOCK];
        System.arraycopy(unpredictable, 0, block, 0, TAG_LENGTH);
        System.arraycopy(tag, 0, block, TAG_LENGTH, TAG_LENGTH);
        byte[] id = new byte[CONNECTION_ID_LENGTH];
        try {
            Cipher c = Cipher.getInstance("AES/ECB/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, idKey);
            c.doFinal(block, 0, BLOCK, id, 0);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES is not available", e);
        }
        System.arraycopy(unpredictable, TAG_LENGTH, id, BLOCK, CONNECTION_ID_LENGTH - BLOCK);
        return ByteBuffer.wrap(id);
    }

    private static Mac hmac(SecretKeySpec key) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key.getEncoded(), "HmacSHA256"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HMAC-SHA256 is not available", e);
        }
    }
}
