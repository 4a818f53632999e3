package io.kizuna.quic.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * carries it is dropped before the listener keeps any state for it. The record of
 * used tokens is bounded per source (an IPv4 address, an IPv6 /64), and a source
 * at its bound has its further tokens refused until its records expire, so one
 * source redeeming tokens as fast as it can locks out only itself. When the
 * record as a whole is full, the oldest record of the source that holds the most
 * is forgotten: that token could then be replayed only from its own address and
 * port, and only within its lifetime, which gains the source nothing a fresh
 * token would not.
 * Netty's {@code InsecureQuicTokenHandler} accepts any token that names the
 * address in clear text; this one does not.
 */
final class RetryTokens implements QuicTokenHandler {

    private static final int EXPIRY = Long.BYTES;
    private static final int MAC = 32;
    private static final int PREFIX = EXPIRY + MAC;
    /** RFC 9000: connection ids are at most 20 bytes. */
    private static final int MAX_CID = 20;
    /** Used tokens remembered until they expire; beyond this many, the heaviest source's oldest is forgotten. */
    static final int MAX_USED = 65_536;
    /**
     * Used tokens remembered per source; beyond this many, that source's tokens are refused. With the
     * default 10 s lifetime, about 100 handshakes a second from one address or /64.
     */
    static final int MAX_USED_PER_SOURCE = 1024;
    /** IPv6 sources are counted per /64, what one host or site usually gets. */
    private static final int IPV6_SOURCE_BYTES = 8;

    private static final System.Logger LOG = System.getLogger(RetryTokens.class.getName());

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
    private final AtomicLong refusedForSource = new AtomicLong();
    private final AtomicLong forgotten = new AtomicLong();
    // Guarded by this.
    /** MAC of each accepted token -> its source and expiry, oldest first (every token lives equally long). */
    private final LinkedHashMap<ByteBuffer, Used> used = new LinkedHashMap<>();
    /** Per source, the MACs of its used tokens, oldest first: the same order as {@link #used}. */
    private final Map<ByteBuffer, ArrayDeque<ByteBuffer>> bySource = new HashMap<>();
    /** Sources by how many records they hold (index 1 to {@link #MAX_USED_PER_SOURCE}), to find the heaviest. */
    private final List<Set<ByteBuffer>> bySize = new ArrayList<>();
    private int heaviest;
    private boolean full;

    private record Used(ByteBuffer source, long expiry) {
    }

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
        for (int i = 0; i <= MAX_USED_PER_SOURCE; i++) {
            bySize.add(new LinkedHashSet<>());
        }
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
        if (!firstUse(mac, expiry, address)) {
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

    /** @return tokens refused: forged, expired, from another address, used, or over their source's bound */
    long rejected() {
        return rejected.get();
    }

    private synchronized boolean firstUse(byte[] mac, long expiry, InetSocketAddress address) {
        expire(clock.getAsLong());
        ByteBuffer key = ByteBuffer.wrap(mac);
        if (used.containsKey(key)) {
            replayed.incrementAndGet();
            return false;
        }
        ByteBuffer source = source(address);
        ArrayDeque<ByteBuffer> own = bySource.get(source);
        int held = own == null ? 0 : own.size();
        if (held >= MAX_USED_PER_SOURCE) {
            refusedForSource.incrementAndGet();
            return false;
        }
        if (used.size() >= MAX_USED) {
            if (!full) {
                full = true;
                LOG.log(System.Logger.Level.WARNING, "quic: {0} Retry tokens were redeemed within their lifetime; "
                        + "forgetting the oldest of the sources that redeem the most", MAX_USED);
            }
            forgetOldestOf(bySize.get(heaviest).iterator().next());
            forgotten.incrementAndGet();
            own = bySource.get(source);
        }
        if (own == null) {
            own = new ArrayDeque<>();
            bySource.put(source, own);
        }
        own.addLast(key);
        used.put(key, new Used(source, expiry));
        resized(source, own.size() - 1, own.size());
        if (own.size() == MAX_USED_PER_SOURCE) {
            LOG.log(System.Logger.Level.WARNING, "quic: {0} redeemed {1} Retry tokens within their lifetime; its "
                    + "further tokens are refused until they expire", address.getAddress().getHostAddress(),
                    MAX_USED_PER_SOURCE);
        }
        return true;
    }

    /** Drops the records that expired: the oldest of all is also the oldest of its source. */
    private void expire(long now) {
        var oldest = used.values().iterator();
        while (oldest.hasNext()) {
            Used u = oldest.next();
            if (u.expiry() >= now) {
                break;
            }
            oldest.remove();
            dropOldest(u.source());
        }
        if (full && used.size() < MAX_USED) {
            full = false;
        }
    }

    private void forgetOldestOf(ByteBuffer source) {
        used.remove(bySource.get(source).peekFirst());
        dropOldest(source);
    }

    private void dropOldest(ByteBuffer source) {
        ArrayDeque<ByteBuffer> own = bySource.get(source);
        own.pollFirst();
        resized(source, own.size() + 1, own.size());
        if (own.isEmpty()) {
            bySource.remove(source);
        }
    }

    private void resized(ByteBuffer source, int before, int after) {
        if (before > 0) {
            bySize.get(before).remove(source);
        }
        if (after > 0) {
            bySize.get(after).add(source);
        }
        if (after > heaviest) {
            heaviest = after;
        }
        while (heaviest > 0 && bySize.get(heaviest).isEmpty()) {
            heaviest--;
        }
    }

    /** @return the source a token is counted against: an IPv4 address, or an IPv6 address's /64 */
    private static ByteBuffer source(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        return ByteBuffer.wrap(ip.length == 4 ? ip : Arrays.copyOf(ip, IPV6_SOURCE_BYTES));
    }

    /** @return valid tokens refused because their source had redeemed {@link #MAX_USED_PER_SOURCE} already */
    long refusedForSource() {
        return refusedForSource.get();
    }

    /** @return records of used tokens forgotten because the record was full */
    long forgotten() {
        return forgotten.get();
    }

    /** @return records of used tokens held now */
    synchronized int usedRecords() {
        return used.size();
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
