package io.kizuna.quic.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DatagramPacket;
import io.netty.util.ReferenceCountUtil;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Stateless resets (RFC 9000 §10.3): a listener that lost a connection, because
 * it restarted, tells the dialer at once; nobody without the node key can.
 */
class StatelessResetTest {

    private static final InetSocketAddress DIALER = new InetSocketAddress("127.0.0.1", 40000);
    private static final InetSocketAddress LISTENER = new InetSocketAddress("127.0.0.1", 7400);

    private QuicTransport before;
    private QuicTransport after;
    private QuicTransport client;

    @AfterEach
    void stop() {
        for (QuicTransport t : new QuicTransport[] {client, before, after}) {
            if (t != null) {
                t.deactivate();
            }
        }
    }

    @Test
    void tokensFollowTheNodeKeyAndConnectionIdsTheInstance() {
        NodeIdentity node = Identities.generate();
        StatelessResets one = new StatelessResets(node);
        StatelessResets restarted = new StatelessResets(node);
        StatelessResets other = new StatelessResets(Identities.generate());
        ByteBuffer id = one.idGenerator().newId(StatelessResets.CONNECTION_ID_LENGTH);

        assertThat(restarted.token(id)).as("the same node key gives the same token after a restart")
                .isEqualTo(one.token(id)).hasSize(StatelessResets.TOKEN_LENGTH);
        assertThat(other.token(id)).isNotEqualTo(one.token(id));
        assertThat(one.token(one.idGenerator().newId(StatelessResets.CONNECTION_ID_LENGTH)))
                .as("each connection ID has its own token").isNotEqualTo(one.token(id));

        byte[] bytes = ByteBufUtil.getBytes(Unpooled.wrappedBuffer(id.duplicate()));
        byte[] scratch = new byte[16];
        assertThat(one.minted(one.idCipher(), bytes, scratch)).isTrue();
        assertThat(restarted.minted(restarted.idCipher(), bytes, scratch)).as("a new instance's IDs differ").isFalse();

        ByteBuffer dialerId = ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        assertThat(one.idGenerator().newId(dialerId, StatelessResets.CONNECTION_ID_LENGTH))
                .as("the ID after a Retry comes out the same again")
                .isEqualTo(one.idGenerator().newId(dialerId, StatelessResets.CONNECTION_ID_LENGTH));
        assertThat(one.minted(one.idCipher(), ByteBufUtil.getBytes(Unpooled.wrappedBuffer(
                one.idGenerator().newId(dialerId, StatelessResets.CONNECTION_ID_LENGTH))), scratch)).isTrue();
        assertThat(StatelessResets.connectionId(new io.netty.handler.codec.quic.QuicConnectionAddress(id.duplicate())))
                .isEqualTo(id);
    }

    /**
     * Stateless resets rest on reading the connection ID from Netty's text form
     * of a connection address (Netty keeps the bytes to itself). A Netty whose
     * text differs fails here, by name, instead of turning resets off quietly.
     */
    @Test
    void nettysConnectionAddressTextIsTheFormStatelessResetsRead() {
        byte[] id = new byte[StatelessResets.CONNECTION_ID_LENGTH];
        new SplittableRandom(3).nextBytes(id);
        String text = new io.netty.handler.codec.quic.QuicConnectionAddress(ByteBuffer.wrap(id)).toString();
        assertThat(text).as("Netty's QuicConnectionAddress.toString() changed: StatelessResets.connectionId reads "
                + "the connection ID from it, and without it no stateless reset token is sent")
                .isEqualTo(StatelessResets.ID_PREFIX + java.util.HexFormat.of().formatHex(id) + "}");
        assertThat(StatelessResets.connectionId(text)).isEqualTo(ByteBuffer.wrap(id));
    }

    @Test
    void anUnreadableConnectionAddressIsAnErrorNotAMissingId() {
        assertThatThrownBy(() -> StatelessResets.connectionId("QuicConnectionAddress[id=0102]"))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("Netty")
                .hasMessageContaining("no stateless reset token");
        assertThatThrownBy(() -> StatelessResets.connectionId(StatelessResets.ID_PREFIX + "zz}"))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void theListenerAnswersAStrangeConnectionIdWithAShorterResetAndPassesItsOwn() {
        StatelessResets resets = new StatelessResets(Identities.generate());
        AtomicLong sent = new AtomicLong();
        AtomicLong suppressed = new AtomicLong();
        EmbeddedChannel ch = new EmbeddedChannel(new StatelessResetResponder(resets, sent, suppressed));
        SplittableRandom random = new SplittableRandom(7);

        byte[] otherId = new byte[StatelessResets.CONNECTION_ID_LENGTH];
        random.nextBytes(otherId);
        byte[] strange = shortHeaderPacket(random, otherId, 60);
        ch.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(strange), LISTENER, DIALER));
        assertThat((Object) ch.readInbound()).as("nothing reaches the codec").isNull();
        DatagramPacket reset = ch.readOutbound();
        byte[] r = ByteBufUtil.getBytes(reset.content());
        reset.release();
        assertThat(reset.recipient()).isEqualTo(DIALER);
        assertThat(r.length).as("shorter than the packet that caused it").isLessThan(strange.length)
                .isGreaterThanOrEqualTo(StatelessResets.MIN_RESET_LENGTH);
        assertThat(r[0] & 0xC0).as("it looks like a short-header packet").isEqualTo(0x40);
        assertThat(Arrays.copyOfRange(r, r.length - 16, r.length))
                .isEqualTo(resets.token(ByteBuffer.wrap(strange, 1, StatelessResets.CONNECTION_ID_LENGTH).slice()));

        byte[] tiny = Arrays.copyOf(strange, 30);
        ch.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(tiny), LISTENER, DIALER));
        DatagramPacket small = ch.readOutbound();
        assertThat(small.content().readableBytes()).as("one byte shorter than a short packet").isEqualTo(29);
        small.release();

        ByteBuffer own = resets.idGenerator().newId(StatelessResets.CONNECTION_ID_LENGTH);
        byte[] ours = shortHeaderPacket(random, ByteBufUtil.getBytes(Unpooled.wrappedBuffer(own)), 60);
        ch.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(ours), LISTENER, DIALER));
        DatagramPacket passed = ch.readInbound();
        assertThat(passed).as("a packet for one of its own connection IDs goes to the codec").isNotNull();
        passed.release();
        byte[] longHeader = strange.clone();
        longHeader[0] = (byte) 0xC3;
        ch.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(longHeader), LISTENER, DIALER));
        ReferenceCountUtil.release(ch.readInbound());
        assertThat((Object) ch.readOutbound()).as("long-header packets are the codec's").isNull();
        assertThat(sent.get()).isEqualTo(2);

        for (int i = 0; i < 2 * StatelessResetResponder.MAX_PER_SECOND; i++) {
            ch.writeInbound(new DatagramPacket(Unpooled.wrappedBuffer(strange.clone()), LISTENER, DIALER));
        }
        int out = 0;
        for (Object o; (o = ch.readOutbound()) != null; out++) {
            ReferenceCountUtil.release(o);
        }
        assertThat(out + 2L).as("resets within one second").isLessThanOrEqualTo(StatelessResetResponder.MAX_PER_SECOND);
        assertThat(suppressed.get()).isPositive();
        assertThat(sent.get() + suppressed.get()).isEqualTo(2 + 2L * StatelessResetResponder.MAX_PER_SECOND);
        ch.finishAndReleaseAll();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aRestartedListenerEndsTheDialersConnectionAtOnce() throws Exception {
        NodeIdentity node = Identities.generate();
        QuicConnection conn = connectThenCrash(node);

        after = listenOnSamePort(node);
        long start = System.nanoTime();
        conn.write(ByteBuffer.wrap(new byte[] {1})); // a short-header packet to the restarted listener
        assertThatThrownBy(() -> conn.closeFuture().toCompletableFuture().get(10, SECONDS))
                .isInstanceOf(ExecutionException.class).hasMessageContaining("stateless reset");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(millis).as("ended long before the idle timeout").isLessThan(QuicSettings.defaults().idleTimeoutMillis() / 3);
        // the listener's thread may count its reset just after the dialer's thread has acted on it
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(after.statelessResetCounts()[0])
                .as("resets the restarted listener sent").isPositive());
        assertThat(client.statelessResetCounts()[2]).as("resets the dialer took").isEqualTo(1);
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void aResetFromAnotherNodeKeyIsIgnored() throws Exception {
        QuicConnection conn = connectThenCrash(Identities.generate());

        after = listenOnSamePort(Identities.generate()); // another node on the same port: other tokens
        conn.write(ByteBuffer.wrap(new byte[] {1}));
        await().atMost(Duration.ofSeconds(10)).until(() -> after.statelessResetCounts()[0] > 0);
        TimeUnit.MILLISECONDS.sleep(500); // the reset has arrived: it must change nothing
        assertThat(conn.isConnected()).isTrue();
        assertThat(conn.closeFuture().toCompletableFuture()).isNotDone();
        assertThat(client.statelessResetCounts()[2]).isZero();
    }

    /** Connects, waits for the listener's reset token, then stops the listener without it sending a byte. */
    private QuicConnection connectThenCrash(NodeIdentity node) throws Exception {
        before = new QuicTransport(node, QuicSettings.defaults());
        client = new QuicTransport(Identities.generate(), QuicSettings.defaults());
        QuicListener listener = (QuicListener) before.listen(new InetSocketAddress("127.0.0.1", 0), c -> { })
                .toCompletableFuture().get(10, SECONDS);
        port = listener.localAddress().getPort();
        QuicConnection conn = (QuicConnection) client.connect(PeerAddress.of(node.peerId(),
                new Endpoint("quic", listener.localAddress())), Duration.ofSeconds(10)).toCompletableFuture()
                .get(15, SECONDS);
        StatelessResetDetector detector = conn.channel().parent().pipeline().get(StatelessResetDetector.class);
        await().atMost(Duration.ofSeconds(10)).until(detector::armed);
        listener.channel().pipeline().addFirst(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                ReferenceCountUtil.release(msg); // a crash: not even CONNECTION_CLOSE leaves
                promise.setSuccess();
            }
        });
        before.deactivate();
        before = null;
        return conn;
    }

    private int port;

    private QuicTransport listenOnSamePort(NodeIdentity node) throws Exception {
        QuicTransport t = new QuicTransport(node, QuicSettings.defaults());
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> t.listen(
                new InetSocketAddress("127.0.0.1", port), c -> { }).toCompletableFuture().get(5, SECONDS) != null);
        return t;
    }

    private static byte[] shortHeaderPacket(SplittableRandom random, byte[] id, int length) {
        byte[] p = new byte[length];
        random.nextBytes(p);
        p[0] = 0x41;
        System.arraycopy(id, 0, p, 1, id.length);
        return p;
    }
}
