package io.kizuna.quic.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.identity.Identities;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;

/**
 * Coverage-guided fuzzing (Jazzer) of the QUIC listener's own reading of
 * datagrams from anyone, before quiche sees them: the Retry token check and the
 * stateless-reset responder. The contract: {@link RetryTokens#validateToken}
 * never throws, never accepts bytes it did not mint (its MAC key is secret) and
 * accepts a token it minted once, naming the connection ID; the responder never
 * throws, passes a datagram on unchanged or answers it with a reset shorter
 * than the datagram and at least {@link StatelessResets#MIN_RESET_LENGTH} long
 * (or counts it as suppressed), and keeps no buffer. Without {@code JAZZER_FUZZ}
 * the inputs under {@code QuicPacketJazzerTestInputs} are replayed.
 */
class QuicPacketJazzerTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);
    private static final InetSocketAddress LISTENER = new InetSocketAddress("127.0.0.1", 7401);
    private static final AtomicLong NOW = new AtomicLong(1_000_000);
    private static final long LIFETIME_MILLIS = 10_000;
    private static final RetryTokens TOKENS = new RetryTokens(LIFETIME_MILLIS, NOW::get);
    private static final StatelessResets RESETS = new StatelessResets(Identities.generate());

    @FuzzTest
    void retryToken(FuzzedDataProvider data) {
        // A token for the same ID and address minted in the same millisecond is the same token, which
        // may be used once; and one source may redeem at most MAX_USED_PER_SOURCE within the lifetime.
        // So each run mints later by more than lifetime / MAX_USED_PER_SOURCE.
        NOW.addAndGet(2 * LIFETIME_MILLIS / RetryTokens.MAX_USED_PER_SOURCE + 1);
        byte[] id = data.consumeBytes(20);
        byte[] forged = data.consumeRemainingAsBytes();
        ByteBuf f = Unpooled.wrappedBuffer(forged);
        assertThat(TOKENS.validateToken(f, CLIENT)).as("bytes not minted here are refused").isEqualTo(-1);
        assertThat(f.readerIndex()).isZero();

        ByteBuf minted = Unpooled.buffer();
        TOKENS.writeToken(minted, Unpooled.wrappedBuffer(id), CLIENT);
        assertThat(minted.readableBytes()).isLessThanOrEqualTo(TOKENS.maxTokenLength());
        int offset = TOKENS.validateToken(minted, CLIENT);
        assertThat(offset).isPositive();
        assertThat(ByteBufUtil.getBytes(minted, offset, minted.readableBytes() - offset)).isEqualTo(id);
        assertThat(TOKENS.validateToken(minted, CLIENT)).as("a token is used once").isEqualTo(-1);
    }

    @FuzzTest
    void resetResponder(byte[] datagram) {
        AtomicLong sent = new AtomicLong();
        AtomicLong suppressed = new AtomicLong();
        EmbeddedChannel ch = new EmbeddedChannel(new StatelessResetResponder(RESETS, sent, suppressed));
        ByteBuf in = Unpooled.wrappedBuffer(datagram.clone());
        ch.writeInbound(new DatagramPacket(in, LISTENER, CLIENT));
        DatagramPacket passed = ch.readInbound();
        DatagramPacket reset = ch.readOutbound();
        if (passed != null) {
            assertThat(reset).isNull();
            assertThat(ByteBufUtil.getBytes(passed.content())).isEqualTo(datagram);
            passed.release();
        } else if (reset != null) {
            byte[] r = ByteBufUtil.getBytes(reset.content());
            reset.release();
            assertThat(sent.get()).isEqualTo(1);
            assertThat(r.length).isLessThan(datagram.length).isGreaterThanOrEqualTo(StatelessResets.MIN_RESET_LENGTH);
            assertThat(r[0] & 0xC0).isEqualTo(0x40);
            assertThat(Arrays.copyOfRange(r, r.length - StatelessResets.TOKEN_LENGTH, r.length)).isEqualTo(
                    RESETS.token(java.nio.ByteBuffer.wrap(datagram, 1, StatelessResets.CONNECTION_ID_LENGTH).slice()));
        } else {
            assertThat(suppressed.get()).isEqualTo(1);
        }
        if (datagram.length > 0) { // Netty's shared empty buffer is never released
            assertThat(in.refCnt()).as("the datagram is released").isZero();
        }
        assertThat(ch.finishAndReleaseAll()).isFalse();
    }
}
