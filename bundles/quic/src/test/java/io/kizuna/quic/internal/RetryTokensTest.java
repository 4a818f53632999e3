package io.kizuna.quic.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Retry tokens: only this listener's, for this address, in time. */
@Timeout(10)
class RetryTokensTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);
    private final AtomicLong now = new AtomicLong(1_000_000);
    private final RetryTokens tokens = new RetryTokens(10_000, now::get);
    private final ByteBuf dcid = Unpooled.wrappedBuffer(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});

    private ByteBuf mint(RetryTokens t) {
        return mint(t, CLIENT);
    }

    private ByteBuf mint(RetryTokens t, InetSocketAddress client) {
        return mint(t, client, dcid.duplicate());
    }

    private ByteBuf mint(RetryTokens t, InetSocketAddress client, ByteBuf id) {
        ByteBuf token = Unpooled.buffer();
        assertThat(t.writeToken(token, id, client)).isTrue();
        assertThat(token.readableBytes()).isLessThanOrEqualTo(t.maxTokenLength());
        return token;
    }

    @Test
    void aFreshTokenFromTheSameAddressIsAcceptedAndNamesTheConnectionId() {
        ByteBuf token = mint(tokens);
        int offset = tokens.validateToken(token, CLIENT);
        assertThat(offset).isPositive();
        assertThat(token.slice(offset, token.readableBytes() - offset)).isEqualTo(dcid);
        assertThat(tokens.issued()).isEqualTo(1);
        assertThat(tokens.rejected()).isZero();
    }

    @Test
    void aTokenFromAnotherAddressOrPortIsRefused() {
        ByteBuf token = mint(tokens);
        assertThat(tokens.validateToken(token, new InetSocketAddress("127.0.0.2", 40000))).isEqualTo(-1);
        assertThat(tokens.validateToken(token, new InetSocketAddress("127.0.0.1", 40001))).isEqualTo(-1);
        assertThat(tokens.rejected()).isEqualTo(2);
    }

    @Test
    void anExpiredTokenIsRefused() {
        ByteBuf token = mint(tokens);
        now.addAndGet(10_001);
        assertThat(tokens.validateToken(token, CLIENT)).isEqualTo(-1);
    }

    @Test
    void aTamperedTokenIsRefused() {
        for (int i = 0; i < mint(tokens).readableBytes(); i++) {
            ByteBuf token = mint(tokens);
            token.setByte(i, token.getByte(i) ^ 0x01);
            assertThat(tokens.validateToken(token, CLIENT)).as("byte %d flipped", i).isEqualTo(-1);
        }
    }

    @Test
    void anotherListenersTokenIsRefused() {
        RetryTokens other = new RetryTokens(10_000, now::get);
        assertThat(tokens.validateToken(mint(other), CLIENT)).isEqualTo(-1);
    }

    @Test
    void shortOrLongTokensAreRefused() {
        assertThat(tokens.validateToken(Unpooled.wrappedBuffer(new byte[39]), CLIENT)).isEqualTo(-1);
        assertThat(tokens.validateToken(Unpooled.wrappedBuffer(new byte[61]), CLIENT)).isEqualTo(-1);
        assertThat(tokens.validateToken(Unpooled.EMPTY_BUFFER, CLIENT)).isEqualTo(-1);
    }

    @Test
    void aTokenIsAcceptedOnlyOnce() {
        ByteBuf token = mint(tokens);
        assertThat(tokens.validateToken(token.duplicate(), CLIENT)).isPositive();
        assertThat(tokens.validateToken(token.duplicate(), CLIENT)).as("the same token again").isEqualTo(-1);
        assertThat(tokens.replayed()).isEqualTo(1);
        now.incrementAndGet(); // a token minted later differs
        assertThat(tokens.validateToken(mint(tokens), CLIENT)).as("a new token").isPositive();
    }

    @Test
    void oneSourceRedeemingTokensFastLocksOutOnlyItself() {
        // as many tokens as the record holds, all from 127.0.0.1, then one from elsewhere
        int accepted = 0;
        for (int i = 0; i < RetryTokens.MAX_USED; i++) {
            ByteBuf token = mint(tokens, CLIENT, Unpooled.copyInt(i));
            if (tokens.validateToken(token, CLIENT) > 0) {
                accepted++;
            }
        }
        assertThat(accepted).as("tokens of the flooding source accepted").isEqualTo(RetryTokens.MAX_USED_PER_SOURCE);
        assertThat(tokens.refusedForSource()).isEqualTo(RetryTokens.MAX_USED - RetryTokens.MAX_USED_PER_SOURCE);
        InetSocketAddress other = new InetSocketAddress("127.0.0.2", 40000);
        assertThat(tokens.validateToken(mint(tokens, other), other)).as("another source's token").isPositive();

        now.addAndGet(10_001); // the flood's records expire with its tokens
        assertThat(tokens.validateToken(mint(tokens), CLIENT)).as("the flooding source later").isPositive();
        assertThat(tokens.usedRecords()).isEqualTo(1);
    }

    @Test
    void anIpv6SourceIsCountedPerSlash64() {
        for (int i = 0; i < RetryTokens.MAX_USED_PER_SOURCE; i++) {
            InetSocketAddress from = new InetSocketAddress("2001:db8:0:1::" + Integer.toHexString(i + 1), 40000);
            assertThat(tokens.validateToken(mint(tokens, from), from)).isPositive();
        }
        InetSocketAddress sameNet = new InetSocketAddress("2001:db8:0:1:ffff::1", 40000);
        assertThat(tokens.validateToken(mint(tokens, sameNet), sameNet)).as("the same /64").isEqualTo(-1);
        InetSocketAddress nextNet = new InetSocketAddress("2001:db8:0:2::1", 40000);
        assertThat(tokens.validateToken(mint(tokens, nextNet), nextNet)).as("the next /64").isPositive();
    }

    @Test
    void aFullRecordForgetsTheHeaviestSourcesOldestAndStillAcceptsANewcomer() {
        // 64 sources one short of their bound, and a 65th with 64 tokens, fill the record
        int perSource = RetryTokens.MAX_USED_PER_SOURCE - 1;
        java.util.Map<String, ByteBuf> firstTokens = new java.util.HashMap<>();
        int filled = 0;
        for (int s = 0; filled < RetryTokens.MAX_USED; s++) {
            for (int i = 0; i < perSource && filled < RetryTokens.MAX_USED; i++, filled++) {
                InetSocketAddress from = new InetSocketAddress("10.0." + s + ".1", 1024 + i);
                ByteBuf token = mint(tokens, from);
                firstTokens.putIfAbsent(from.getHostString(), token.duplicate());
                assertThat(tokens.validateToken(token, from)).isPositive();
            }
        }
        assertThat(tokens.usedRecords()).isEqualTo(RetryTokens.MAX_USED);

        InetSocketAddress newcomer = new InetSocketAddress("192.0.2.1", 40000);
        assertThat(tokens.validateToken(mint(tokens, newcomer), newcomer)).as("a new source, record full")
                .isPositive();
        assertThat(tokens.forgotten()).isEqualTo(1);
        assertThat(tokens.usedRecords()).isEqualTo(RetryTokens.MAX_USED);
        // the light source's first token is still remembered as used; the heaviest source's oldest is not
        assertThat(tokens.validateToken(firstTokens.get("10.0.64.1"), new InetSocketAddress("10.0.64.1", 1024)))
                .isEqualTo(-1);
        assertThat(tokens.replayed()).isEqualTo(1);
        assertThat(tokens.validateToken(firstTokens.get("10.0.0.1"), new InetSocketAddress("10.0.0.1", 1024)))
                .isPositive();
    }
}
