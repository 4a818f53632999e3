package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.core.internal.protocol.ControlMessage;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;

/**
 * The endpoints of a peer's HELLO that the manager keeps and dials later: a
 * peer must not make this node connect into its host or LAN by announcing an
 * address there.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class AnnouncedEndpointsTest extends ManagerTestSupport {

    static Endpoint ep(String ip) throws Exception {
        return new Endpoint("tcp", new InetSocketAddress(InetAddress.getByName(ip), 7400));
    }

    static InetSocketAddress from(String ip) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), 50000);
    }

    @Test
    void publicEndpointsAreKeptAndOthersOnlyFromThatKindOfNetwork() throws Exception {
        List<Endpoint> announced = List.of(ep("198.51.100.7"), ep("127.0.0.1"), ep("10.0.0.1"), ep("fd00::1"),
                ep("169.254.0.9"), ep("100.64.0.1"), ep("224.0.0.1"), ep("0.0.0.0"), ep("255.255.255.255"),
                ep("2001:db8::7"));
        assertThat(AnnouncedEndpoints.keep(announced, from("203.0.113.4"), false))
                .containsExactly(ep("198.51.100.7"), ep("2001:db8::7"));
        assertThat(AnnouncedEndpoints.keep(announced, from("127.0.0.1"), false)).as("a peer on this host")
                .containsExactly(ep("198.51.100.7"), ep("127.0.0.1"), ep("2001:db8::7"));
        assertThat(AnnouncedEndpoints.keep(announced, from("192.168.1.20"), false)).as("a peer on the LAN")
                .containsExactly(ep("198.51.100.7"), ep("10.0.0.1"), ep("fd00::1"), ep("2001:db8::7"));
        assertThat(AnnouncedEndpoints.keep(announced, null, false)).as("connection address unknown")
                .containsExactly(ep("198.51.100.7"), ep("2001:db8::7"));
        assertThat(AnnouncedEndpoints.keep(announced, from("203.0.113.4"), true)).as("dialPrivateAnnounced")
                .containsExactly(ep("198.51.100.7"), ep("127.0.0.1"), ep("10.0.0.1"), ep("fd00::1"),
                        ep("169.254.0.9"), ep("100.64.0.1"), ep("2001:db8::7"));
    }

    /** A peer announces its listener at 10.0.0.1 (the memory transport finds a listener by port only). */
    private RawPeer announcePrivate(Node target) throws Exception {
        RawPeer peer = RawPeer.listen(hub, "mem-a");
        int port = peer.address().endpoints().get(0).address().getPort();
        Connection c = peer.dial(target.address());
        RawPeer.write(c, RawPeer.frame(new ControlMessage.Open(ConnectionManagerImpl.CONTROL)));
        assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.OpenOk.class);
        RawPeer.write(c, RawPeer.frame(new ControlMessage.Hello(1, peer.id,
                List.of(new Endpoint("mem-a", new InetSocketAddress(InetAddress.getByName("10.0.0.1"), port))),
                List.of("mem-a"), Optional.empty())));
        assertThat(RawPeer.read(c)).isInstanceOf(ControlMessage.Hello.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> target.manager.connections(peer.id).size() == 1);
        get(c.close());
        await().atMost(Duration.ofSeconds(5)).until(() -> target.manager.connections(peer.id).isEmpty());
        return peer;
    }

    @Test
    void aPrivateEndpointAnnouncedOverLoopbackIsNotDialed() throws Exception {
        Node target = node(Node.settings().openTimeout(Duration.ofSeconds(2)), "mem-a:100");
        try (RawPeer peer = announcePrivate(target)) {
            int dials = target.dials();
            assertThat(failure(target.manager.connectToPeer(PeerAddress.of(peer.id))))
                    .hasMessageContaining("no address is known");
            assertThat(target.dials()).isEqualTo(dials);
            assertThat(peer.accepted).isEmpty();
            assertThat(target.manager.announcedEndpointsDropped()).isEqualTo(1);
        }
    }

    @Test
    void dialPrivateAnnouncedKeepsIt() throws Exception {
        Node target = node(Node.settings().openTimeout(Duration.ofSeconds(2)).dialPrivateAnnounced(true),
                "mem-a:100");
        try (RawPeer peer = announcePrivate(target)) {
            target.manager.connectToPeer(PeerAddress.of(peer.id));
            await().atMost(Duration.ofSeconds(5)).until(() -> !peer.accepted.isEmpty());
            assertThat(target.manager.announcedEndpointsDropped()).isZero();
        }
    }
}
