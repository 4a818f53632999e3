package io.kizuna.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.security.SecureRandom;

import org.junit.jupiter.api.Test;

class PeerAddressTest {

    private static final SecureRandom RANDOM = new SecureRandom();

    static PeerId randomPeer() {
        byte[] key = new byte[PeerId.LENGTH];
        RANDOM.nextBytes(key);
        return PeerId.of(key);
    }

    @Test
    void peerIdTextRoundTrips() {
        for (int i = 0; i < 200; i++) {
            PeerId id = randomPeer();
            String text = id.toString();
            assertThat(text).hasSize(PeerId.TEXT_LENGTH).matches("[a-z2-7]+");
            assertThat(PeerId.parse(text)).isEqualTo(id);
            assertThat(PeerId.parse(text.toUpperCase())).isEqualTo(id);
        }
    }

    @Test
    void peerIdKnownVector() {
        byte[] zero = new byte[32];
        zero[31] = 1;
        // 255 zero bits ('a' is 00000), then the final one bit followed by four zero padding bits (10000, 'q').
        assertThat(PeerId.of(zero).toString()).isEqualTo("a".repeat(51) + "q");
    }

    @Test
    void peerIdRejectsBadText() {
        PeerId id = randomPeer();
        assertThatThrownBy(() -> PeerId.parse(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> PeerId.parse(id.toString().substring(1)))
                .hasMessageContaining("51 characters");
        assertThatThrownBy(() -> PeerId.parse("1" + id.toString().substring(1)))
                .hasMessageContaining("'1' at position 0");
        // Non-zero padding bits: the last character must end in four zero bits.
        String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        String text = id.toString();
        int last = alphabet.indexOf(text.charAt(text.length() - 1));
        String flipped = text.substring(0, text.length() - 1) + alphabet.charAt(last ^ 1);
        assertThatThrownBy(() -> PeerId.parse(flipped)).hasMessageContaining("padding");
        assertThatThrownBy(() -> PeerId.of(new byte[31])).hasMessageContaining("31 bytes");
    }

    @Test
    void parsesAndPrintsSeveralEndpoints() {
        PeerId id = randomPeer();
        String text = id + "@tcp://127.0.0.1:7400,quic://[::1]:7401";
        PeerAddress address = PeerAddress.parse(text);

        assertThat(address.peerId()).isEqualTo(id);
        assertThat(address.endpoints()).containsExactly(
                new Endpoint("tcp", new InetSocketAddress("127.0.0.1", 7400)),
                new Endpoint("quic", new InetSocketAddress("::1", 7401)));
        assertThat(address.transportHints()).containsExactly("tcp", "quic");
        assertThat(address.toString()).isEqualTo(text);
        assertThat(PeerAddress.parse(address.toString())).isEqualTo(address);
        assertThat(address.only("quic").endpoints()).hasSize(1);
    }

    @Test
    void printsIpv6Compressed() {
        assertThat(Endpoint.parse("tcp://[2001:db8:0:0:1:0:0:1]:1").toString()).isEqualTo("tcp://[2001:db8::1:0:0:1]:1");
        assertThat(Endpoint.parse("tcp://[::]:1").toString()).isEqualTo("tcp://[::]:1");
        assertThat(Endpoint.parse("tcp://[fe80::1:2]:1").toString()).isEqualTo("tcp://[fe80::1:2]:1");
        assertThat(Endpoint.parse("tcp://[1:0:2:0:3:0:4:5]:1").toString()).isEqualTo("tcp://[1:0:2:0:3:0:4:5]:1");
        assertThat(Endpoint.parse("tcp://[1:2:3:4:5:6:7:0]:1").toString()).isEqualTo("tcp://[1:2:3:4:5:6:7:0]:1");
    }

    @Test
    void acceptsRepeatedPeerPrefixAndBarePeer() {
        PeerId id = randomPeer();
        PeerAddress address = PeerAddress.parse(id + "@tcp://127.0.0.1:1, " + id + "@tcp://127.0.0.2:2");
        assertThat(address.endpoints()).hasSize(2);
        assertThat(PeerAddress.parse(id.toString()).endpoints()).isEmpty();
    }

    @Test
    void rejectsBadAddressesWithClearMessages() {
        PeerId id = randomPeer();
        assertThatThrownBy(() -> PeerAddress.parse("tcp://127.0.0.1:7400"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must start with the peer id");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@127.0.0.1:7400")).hasMessageContaining("no transport");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://127.0.0.1")).hasMessageContaining("ip:port");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://127.0.0.1:99999"))
                .hasMessageContaining("outside 0-65535");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://127.0.0.1:x")).hasMessageContaining("not a number");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://example.org:80"))
                .hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://300.1.1.1:80"))
                .hasMessageContaining("not a valid IPv4");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://::1:80")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@TCP_X://127.0.0.1:80"))
                .hasMessageContaining("transport name");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://127.0.0.1:1,,tcp://127.0.0.1:2"))
                .hasMessageContaining("empty entry");
        assertThatThrownBy(() -> PeerAddress.parse(id + "@tcp://127.0.0.1:1," + randomPeer() + "@tcp://127.0.0.1:2"))
                .hasMessageContaining("two different peers");
        assertThatThrownBy(() -> PeerAddress.parse("nonsense@tcp://127.0.0.1:1"))
                .hasMessageContaining("PeerId 'nonsense'");
        assertThatThrownBy(() -> PeerAddress.parse("  ")).hasMessageContaining("empty peer address");
    }

    @Test
    void exceptionsNameWhatWasTried() {
        PeerId expected = randomPeer();
        PeerId presented = randomPeer();
        var e = new TransportException.PeerAuthenticationFailed(expected, presented, "certificate");
        assertThat(e.getMessage()).contains(expected.toString()).contains(presented.toString());
        assertThat(TransportException.unwrap(new java.util.concurrent.CompletionException(e))).isSameAs(e);
        assertThat(TransportException.unwrap(new java.io.IOException("boom")))
                .isInstanceOf(TransportException.Io.class).hasMessage("boom");
        assertThat(new TransportException.LimitExceeded("maxConnections", 4, "dial to x").getMessage())
                .isEqualTo("dial to x: limit maxConnections=4 reached");
    }

    @Test
    void parsesAndPrintsRelayEndpoints() {
        PeerId peer = randomPeer();
        PeerId relay = randomPeer();
        String text = peer + "@relay://" + relay + "@tcp://198.51.100.7:7400,tcp://127.0.0.1:7401";
        PeerAddress a = PeerAddress.parse(text);
        assertThat(a.peerId()).isEqualTo(peer);
        assertThat(a.endpoints()).hasSize(2);
        Endpoint r = a.endpoints().get(0);
        assertThat(r.protocol()).isEqualTo("relay");
        assertThat(r.via()).contains(new Endpoint.Hop(relay, "tcp"));
        assertThat(r.address()).isEqualTo(new InetSocketAddress("198.51.100.7", 7400));
        assertThat(r.hopAddress()).contains(PeerAddress.parse(relay + "@tcp://198.51.100.7:7400"));
        assertThat(a.endpoints().get(1).via()).isEmpty();
        assertThat(a.toString()).isEqualTo(text);
        assertThat(a.transportHints()).containsExactly("relay", "tcp");
        // Repeating the peer prefix, and a relay endpoint after a comma without it.
        assertThat(PeerAddress.parse(peer + "@tcp://127.0.0.1:1," + peer + "@relay://" + relay + "@tcp://[::1]:2")
                .endpoints().get(1)).isEqualTo(Endpoint.via("relay", PeerAddress.parse(relay + "@tcp://[::1]:2")));
        assertThat(PeerAddress.parse(peer + "@tcp://127.0.0.1:1,relay://" + relay + "@tcp://127.0.0.1:2")
                .endpoints().get(1).via()).isPresent();
        assertThat(Endpoint.parse("relay://" + relay + "@quic://[::1]:9").toString())
                .isEqualTo("relay://" + relay + "@quic://[::1]:9");
    }

    @Test
    void directEndpointsAreUnchanged() {
        Endpoint e = new Endpoint("tcp", new InetSocketAddress("127.0.0.1", 7400));
        assertThat(e.via()).isEmpty();
        assertThat(e.hopAddress()).isEmpty();
        assertThat(e).isEqualTo(Endpoint.parse("tcp://127.0.0.1:7400"));
    }

    @Test
    void rejectsBadRelayEndpoints() {
        PeerId relay = randomPeer();
        assertThatThrownBy(() -> Endpoint.parse("relay://nope@tcp://127.0.0.1:1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("relay://<relay-id>@tcp://");
        assertThatThrownBy(() -> Endpoint.parse("relay://" + relay + "@relay://" + relay + "@tcp://127.0.0.1:1"))
                .hasMessageContaining("more than one hop");
        assertThatThrownBy(() -> Endpoint.parse("relay://" + relay + "@tcp://host:1"))
                .hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> Endpoint.via("relay", PeerAddress.of(relay)))
                .hasMessageContaining("exactly one direct endpoint");
    }
}
