package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.quic.QuicTokenHandler;

/**
 * Address-validation tokens for QUIC Retry (RFC 9000 §8.1.2): a listener answers
 * an Initial without a token with a Retry that carries one, and accepts the
 * handshake only when the client echoes a token that this listener minted, for
 * this source address and port, recently.
 *
 * <p>Token layout: {@code expiry (8, ms since the epoch) | mac (32) | original
 * destination connection id}. The MAC is HMAC-SHA256 under a key drawn from
 * {@link SecureRandom} at start, over the expiry, the client's address and port
 * and the connection id, so a token cannot be forged, moved to another address,
 * or used after it expired. Each token is accepted once: a replayed Initial that
 * carries it is dropped before the listener keeps any state for it (a bounded
 * record of used tokens; when it is full, tokens are refused, not forgotten).
 * Netty's {@code InsecureQuicTokenHandler} accepts any token that names the
 * address in clear text; this one does not.
 */
final class RetryTokens implements QuicTokenHandler {

    private static final int EXPIRY = Long.BYTES;
    private static final int MAC = 32;
    private static final int PREFIX = EXPIRY + MAC;
    /** RFC 9000: connection ids are at most 20 bytes. */
    private static final int MAX_CID = 20;
    /** Used tokens remembered until they expire; beyond this many, new tokens are refused. */
    static final int MAX_USED = 65_536;

    /** No address validation: no Retry is sent, and an Initial carrying a token is dropped. */
    static final QuicTokenHandler NONE = new QuicTokenHandler() {
        @Override
        public boolean writeToken(ByteBuf out, ByteBuf dcid, InetSocketAddress address) {
            return false;
        }

        @Override
        public int validateToken(ByteBuf token, InetSocketAddress address) {
            // No token of ours exists. Accepting one would tell quiche that a Retry validated the address,
            // lifting the anti-amplification limit for whatever a client puts there.
            return -1;
        }

        @Override
        public int maxTokenLength() {
            return 0;
        }
    };

    private final SecretKeySpec key;
    private final long lifetimeMillis;
    private final LongSupplier clock;
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong replayed = new AtomicLong();
    /** MAC of each accepted token -> its expiry, oldest first (every token lives equally long). */
    private final java.util.LinkedHashMap<java.nio.ByteBuffer, Long> used = new java.util.LinkedHashMap<>();

    /**
     * @param lifetimeMillis how long a token is accepted
     * @param clock          the current time in milliseconds
     */
    RetryTokens(long lifetimeMillis, LongSupplier clock) {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        this.key = new SecretKeySpec(secret, "HmacSHA256");
        this.lifetimeMillis = lifetimeMillis;
        this.clock = clock;
    }

    @Override
    public boolean writeToken(ByteBuf out, ByteBuf dcid, InetSocketAddress address) {
        byte[] id = bytes(dcid, dcid.readerIndex(), dcid.readableBytes());
        long expiry = clock.getAsLong() + lifetimeMillis;
        out.writeLong(expiry).writeBytes(mac(expiry, address, id)).writeBytes(id);
        issued.incrementAndGet();
        return true;
    }

    @Override
    public int validateToken(ByteBuf token, InetSocketAddress address) {
        int start = token.readerIndex();
        int length = token.readableBytes();
        if (length < PREFIX || length > PREFIX + MAX_CID) {
            return reject();
        }
        long expiry = token.getLong(start);
        if (clock.getAsLong() > expiry) {
            return reject();
        }
        byte[] mac = bytes(token, start + EXPIRY, MAC);
        byte[] id = bytes(token, start + PREFIX, length - PREFIX);
        if (!MessageDigest.isEqual(mac, mac(expiry, address, id))) {
            return reject();
        }
        if (!firstUse(mac, expiry)) {
            replayed.incrementAndGet();
            return reject();
        }
        return PREFIX; // where the original destination connection id starts
    }

    @Override
    public int maxTokenLength() {
        return PREFIX + MAX_CID;
    }

    /** @return tokens minted (Retry packets sent) */
    long issued() {
        return issued.get();
    }

    /** @return tokens refused: forged, expired, or from another address */
    long rejected() {
        return rejected.get();
    }

    private synchronized boolean firstUse(byte[] mac, long expiry) {
        long now = clock.getAsLong();
        var oldest = used.entrySet().iterator();
        while (oldest.hasNext() && oldest.next().getValue() < now) {
            oldest.remove();
        }
        if (used.size() >= MAX_USED) {
            return false; // fail closed: a flood of valid tokens cannot push out the record of used ones
        }
        return used.putIfAbsent(java.nio.ByteBuffer.wrap(mac), expiry) == null;
    }

    /** @return valid tokens refused because they had been used before */
    long replayed() {
        return replayed.get();
    }

    private int reject() {
        rejected.incrementAndGet();
        return -1;
    }

    private byte[] mac(long expiry, InetSocketAddress address, byte[] id) {
        byte[] ip = address.getAddress().getAddress();
        ByteBuffer input = ByteBuffer.allocate(EXPIRY + 1 + ip.length + 2 + id.length)
                .putLong(expiry).put((byte) ip.length).put(ip).putShort((short) address.getPort()).put(id);
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(key);
            return m.doFinal(input.array());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
        }
    }

    private static byte[] bytes(ByteBuf buf, int index, int length) {
        byte[] b = new byte[length];
        buf.getBytes(index, b);
        return b;
    }
}
