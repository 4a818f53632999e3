package io.kizuna.tcp.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What epoll sockets ({@code epoll = true}) add: the kernel's TCP_INFO in
 * {@link ConnectionInfo#rtt()} and {@link ConnectionInfo#bandwidth()}. Not the
 * whole contract: Netty 4.2.18's epoll transport fails some writes after the
 * peer's FIN (see {@link SocketIo}), which is why epoll is off by default.
 */
@Timeout(value = 30, unit = SECONDS)
class TcpEpollTest {

    private static final int MIB = 1024 * 1024;

    private TcpTransport server;
    private TcpTransport client;

    @AfterEach
    void stop() {
        for (TcpTransport t : new TcpTransport[] {client, server}) {
            if (t != null) {
                t.deactivate();
            }
        }
    }

    @Test
    void choosesEpollWhenAskedAndNioOtherwise() {
        // The test classpath has Netty's native epoll library for this platform, as the runtime does.
        assertThat(SocketIo.choose(true).epoll()).as(SocketIo.choose(true).description()).isTrue();
        assertThat(SocketIo.choose(false).epoll()).isFalse();
        assertThat(SocketIo.choose(false).description()).contains("epoll is off in the configuration");
    }

    @Test
    void reportsRttAndBandwidthFromTcpInfo() throws Exception {
        server = new TcpTransport(Identities.generate(), TcpSettings.defaults(), SocketIo.choose(true));
        client = new TcpTransport(Identities.generate(), TcpSettings.defaults(), SocketIo.choose(true));
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = get(server.listen(new Endpoint("tcp", new InetSocketAddress("127.0.0.1", 0)), accepted::add));
        Connection c = get(client.connect(PeerAddress.of(server.identity().peerId(), l.endpoint()),
                Duration.ofSeconds(10)));
        Connection s = accepted.poll(20, SECONDS);
        assertThat(s).isNotNull();

        // One MiB each way, so that both sides have RTT samples of data and of acknowledgements.
        byte[] data = new byte[MIB];
        new Random(5).nextBytes(data);
        CompletableFuture<Void> up = c.write(ByteBuffer.wrap(data)).toCompletableFuture();
        readExactly(s, MIB);
        get(up);
        CompletableFuture<Void> down = s.write(ByteBuffer.wrap(data)).toCompletableFuture();
        readExactly(c, MIB);
        get(down);

        for (Connection x : new Connection[] {c, s}) {
            ConnectionInfo info = x.info();
            assertThat(info.rtt()).as("RTT from TCP_INFO").isPresent();
            assertThat(info.rtt().get()).as("loopback RTT").isPositive().isLessThan(Duration.ofSeconds(1));
            assertThat(info.bandwidth()).as("cwnd * mss / rtt from TCP_INFO").isPresent();
            assertThat(info.bandwidth().get()).as("bytes per second").isPositive();
        }
        get(c.shutdownOutput());
        get(s.shutdownOutput());
        get(c.closeFuture());
        assertThat(c.info().rtt()).as("nothing measured once closed").isEmpty();
    }

    private static void readExactly(Connection c, int n) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            assertThat(get(c.read(buf))).as("bytes read before the end of stream").isNotNegative();
        }
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(20, SECONDS);
    }
}
