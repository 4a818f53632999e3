package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Connection;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * WebRTC set up over a connection the manager already has (here a relayed one),
 * with no webrtc endpoint on either side: the node reached accepts it only through
 * {@link WebRtcTransport#acceptSignaled}, and the dialer checks who answered.
 */
@Timeout(60)
class SignaledConnectionTest {

    private final NodeIdentity dialerId = Identities.generate();
    private final NodeIdentity peerId = Identities.generate();
    private final PeerId relay = Identities.generate().peerId();
    private final WebRtcTransport dialer = new WebRtcTransport(dialerId, WebRtcContractTest.loopbackSettings());
    private final WebRtcTransport peer = new WebRtcTransport(peerId, WebRtcContractTest.loopbackSettings());
    private final CompletableFuture<Connection> accepted = new CompletableFuture<>();

    @AfterEach
    void stop() {
        dialer.deactivate();
        peer.deactivate();
    }

    /**
     * A manager that knows one relayed connection, to {@code connected}, and whose
     * streams on it reach {@code peer}'s signaling handler.
     */
    private void managerReaching(PeerId connected) {
        dialer.manager(MemoryStream.managerReaching(dialerId.peerId(), connected, relay, peer, pair -> { }));
    }

    @Test
    void peerWithoutEndpointAcceptsWebRtcSignaledOverTheRelayedConnection() throws Exception {
        Optional<Runnable> stop = peer.acceptSignaled(accepted::complete);
        assertThat(stop).isPresent();
        managerReaching(peerId.peerId());

        Connection c = dialer.connect(PeerAddress.of(peerId.peerId()), Duration.ofSeconds(10))
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        Connection other = accepted.get(20, TimeUnit.SECONDS);
        assertThat(c.info().peerId()).isEqualTo(peerId.peerId());
        assertThat(c.info().protocol()).isEqualTo("webrtc");
        assertThat(c.info().via()).as("the WebRTC connection is direct, whatever carried its signaling").isEmpty();
        assertThat(other.info().peerId()).isEqualTo(dialerId.peerId());
        assertThat(((WebRtcConnection) c).selectedCandidatePair().toCompletableFuture()
                .get(10, TimeUnit.SECONDS)).isPresent();

        byte[] hello = "both ways".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        c.write(ByteBuffer.wrap(hello)).toCompletableFuture().get(10, TimeUnit.SECONDS);
        ByteBuffer in = ByteBuffer.allocate(hello.length);
        while (in.hasRemaining()) {
            assertThat(other.read(in).toCompletableFuture().get(10, TimeUnit.SECONDS)).isPositive();
        }
        other.write(in.flip()).toCompletableFuture().get(10, TimeUnit.SECONDS);
        ByteBuffer back = ByteBuffer.allocate(hello.length);
        while (back.hasRemaining()) {
            assertThat(c.read(back).toCompletableFuture().get(10, TimeUnit.SECONDS)).isPositive();
        }
        assertThat(back.array()).isEqualTo(hello);
        c.close();
        other.close();
    }

    @Test
    void offerAnsweredByAnotherPeerIdFailsNamingBoth() throws Exception {
        peer.acceptSignaled(accepted::complete);
        // The manager's connection said to reach `expected` leads to `peer`, which holds another key.
        PeerId expected = Identities.generate().peerId();
        managerReaching(expected);

        assertThatThrownBy(() -> dialer.connect(PeerAddress.of(expected), Duration.ofSeconds(10))
                .toCompletableFuture().get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .satisfies(e -> {
                    TransportException t = TransportException.unwrap(e);
                    assertThat(t).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
                    assertThat(t.getMessage()).contains(expected.toString()).contains(peerId.peerId().toString());
                });
        assertThat(accepted).isNotDone();
    }

    @Test
    void withoutAnEndpointOrAConnectionTheAddressIsNotSupported() {
        managerReaching(peerId.peerId());
        PeerId stranger = Identities.generate().peerId();
        assertThatThrownBy(() -> dialer.connect(PeerAddress.of(stranger), Duration.ofSeconds(5))
                .toCompletableFuture().get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(TransportException.AddressNotSupported.class);
    }

    @Test
    void aNodeThatDoesNotAcceptSignaledConnectionsRefusesTheStream() throws Exception {
        WebRtcTransport closedNode = new WebRtcTransport(Identities.generate(),
                WebRtcContractTest.loopbackSettings().withAcceptSignaled(false));
        try {
            assertThat(closedNode.acceptSignaled(accepted::complete)).isEmpty();
            MemoryStream[] pair = MemoryStream.pair(dialerId.peerId(), peerId.peerId(), relay);
            closedNode.handle(pair[1], StreamSignaling.PROTOCOL);
            assertThat(pair[0].closeFuture().toCompletableFuture().get(5, TimeUnit.SECONDS)).isNull();
        } finally {
            closedNode.deactivate();
        }
    }

    @Test
    void stoppingTheSignaledAcceptorRefusesLaterStreams() throws Exception {
        Runnable stop = peer.acceptSignaled(accepted::complete).orElseThrow();
        stop.run();
        MemoryStream[] pair = MemoryStream.pair(dialerId.peerId(), peerId.peerId(), relay);
        peer.handle(pair[1], StreamSignaling.PROTOCOL);
        assertThat(pair[0].closeFuture().toCompletableFuture().get(5, TimeUnit.SECONDS)).isNull();
    }

    @Test
    void aPeerCannotSetUpMoreThanMaxConnectionsPerPeerAndIsToldWhy() throws Exception {
        WebRtcTransport bounded = new WebRtcTransport(peerId, WebRtcContractTest.loopbackSettings()
                .withMaxConnectionsPerPeer(1));
        try {
            CompletableFuture<Connection> first = new CompletableFuture<>();
            bounded.acceptSignaled(first::complete);
            dialer.manager(MemoryStream.managerReaching(dialerId.peerId(), peerId.peerId(), relay, bounded,
                    pair -> { }));
            Connection one = dialer.connect(PeerAddress.of(peerId.peerId()), Duration.ofSeconds(10))
                    .toCompletableFuture().get(20, TimeUnit.SECONDS);
            first.get(20, TimeUnit.SECONDS);

            assertThatThrownBy(() -> dialer.connect(PeerAddress.of(peerId.peerId()), Duration.ofSeconds(10))
                    .toCompletableFuture().get(20, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .satisfies(e -> assertThat(TransportException.unwrap(e).getMessage())
                            .contains("refused the connection").contains("maxConnectionsPerPeer=1"));
            assertThat(bounded.refusedPerPeer()).isEqualTo(1);

            one.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                Connection again = dialer.connect(PeerAddress.of(peerId.peerId()), Duration.ofSeconds(10))
                        .toCompletableFuture().get(20, TimeUnit.SECONDS);
                again.close();
            });
        } finally {
            bounded.deactivate();
        }
    }
}
