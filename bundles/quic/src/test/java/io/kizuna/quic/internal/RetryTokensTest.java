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
        ByteBuf token = Unpooled.buffer();
        assertThat(t.writeToken(token, dcid.duplicate(), CLIENT)).isTrue();
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
}
