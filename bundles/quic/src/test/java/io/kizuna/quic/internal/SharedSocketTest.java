package io.kizuna.quic.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;

import io.kizuna.identity.Identities;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A QUIC listener's socket shared on loopback: what other bundles send leaves
 * from the listener's own port, what a peer sends there that is not QUIC reaches
 * them with its source, and the socket is offered while the listener listens
 * and withdrawn when it stops, or when the transport stops.
 */
class SharedSocketTest {

    private final List<String> published = new ArrayList<>();
    private QuicTransport transport;
    private DatagramSocket peer;

    @AfterEach
    void stop() {
        if (transport != null) {
            transport.deactivate();
        }
        if (peer != null) {
            peer.close();
        }
    }

    private QuicListener listen() throws Exception {
        transport = new QuicTransport(Identities.generate(), QuicSettings.defaults(), s -> {
            published.add("+" + s.localAddress().getPort());
            return () -> published.add("-" + s.localAddress().getPort());
        });
        peer = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        peer.setSoTimeout(10_000);
        return (QuicListener) transport.listen(new InetSocketAddress("127.0.0.1", 0), c -> { })
                .toCompletableFuture().get(10, SECONDS);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void datagramsLeaveFromAndArriveAtTheListenersPort() throws Exception {
        QuicListener listener = listen();
        SharedSocket shared = listener.sharedSocket();
        assertThat(shared.localAddress()).isEqualTo(listener.localAddress());
        assertThat(shared.endpoint()).isEqualTo(listener.endpoint());
        assertThat(published).containsExactly("+" + listener.localAddress().getPort());

        byte[] probe = UdpDemuxTest.stunBinding();
        shared.send((InetSocketAddress) peer.getLocalSocketAddress(), probe).toCompletableFuture().get(5, SECONDS);
        DatagramPacket in = new DatagramPacket(new byte[2048], 2048);
        peer.receive(in);
        assertThat(in.getPort()).as("sent from the QUIC listener's port").isEqualTo(listener.localAddress().getPort());
        assertThat(java.util.Arrays.copyOf(in.getData(), in.getLength())).isEqualTo(probe);

        BlockingQueue<InetSocketAddress> sources = new LinkedBlockingQueue<>();
        BlockingQueue<byte[]> data = new LinkedBlockingQueue<>();
        shared.receive((from, bytes) -> {
            sources.add(from);
            data.add(bytes);
        });
        byte[] answer = UdpDemuxTest.stunBinding();
        answer[0] = 0x01; // a success response
        peer.send(new DatagramPacket(answer, answer.length, listener.localAddress()));
        assertThat(data.poll(10, SECONDS)).isEqualTo(answer);
        assertThat(sources.poll()).isEqualTo(peer.getLocalSocketAddress());
        assertThat(shared.counters().sent()).isEqualTo(1);
        assertThat(shared.counters().delivered()).isEqualTo(1);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void closingTheListenerEndsTheSharing() throws Exception {
        QuicListener listener = listen();
        SharedSocket shared = listener.sharedSocket();
        listener.close().toCompletableFuture().get(5, SECONDS);
        assertThat(published).containsExactly("+" + listener.localAddress().getPort(),
                "-" + listener.localAddress().getPort());
        assertThatThrownBy(() -> shared.send((InetSocketAddress) peer.getLocalSocketAddress(),
                UdpDemuxTest.stunBinding()).toCompletableFuture().get(5, SECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TransportException.Io.class);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void stoppingTheTransportWithdrawsTheSocket() throws Exception {
        QuicListener listener = listen();
        transport.deactivate();
        transport = null;
        await().atMost(Duration.ofSeconds(5)).until(() -> published.size() == 2);
        assertThat(published).containsExactly("+" + listener.localAddress().getPort(),
                "-" + listener.localAddress().getPort());
        assertThat(listener.sharedSocket().isClosed()).isTrue();
    }
}
