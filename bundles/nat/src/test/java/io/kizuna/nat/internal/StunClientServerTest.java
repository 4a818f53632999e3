package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.transport.NatType;

@Timeout(30)
class StunClientServerTest {

    private static final StunClient.Timing FAST = new StunClient.Timing(Duration.ofMillis(50), 3, 4);

    @Test
    void bindingOverIpv4ReportsTheSourceAndRfc5780Attributes() throws Exception {
        InetAddress a = InetAddress.getByName("127.0.0.1");
        InetAddress b = InetAddress.getByName("127.0.0.2");
        try (StunServer server = new StunServer(new InetSocketAddress(a, 0), b, freePort(b));
             StunClient client = new StunClient(new InetSocketAddress(a, 0), FAST)) {
            StunClient.Response r = client.binding(server.primary(), List.of()).get();
            assertThat(r.mapped()).isEqualTo(client.localAddress());
            assertThat(r.message().fingerprinted()).isTrue();
            assertThat(r.origin()).isEqualTo(server.primary());
            assertThat(r.otherAddress()).isPresent();
            assertThat(r.otherAddress().get().getAddress()).isEqualTo(b);

            StunClient.Response changed = client.binding(server.primary(),
                    List.of(NatDiscovery.change(StunMessage.CHANGE_IP | StunMessage.CHANGE_PORT))).get();
            assertThat(changed.from()).isEqualTo(r.otherAddress().get());
            assertThat(changed.origin()).isEqualTo(changed.from());
            StunClient.Response port = client.binding(server.primary(),
                    List.of(NatDiscovery.change(StunMessage.CHANGE_PORT))).get();
            assertThat(port.from().getAddress()).isEqualTo(a);
            assertThat(port.from().getPort()).isEqualTo(r.otherAddress().get().getPort());
        }
    }

    @Test
    void bindingOverIpv6() throws Exception {
        InetSocketAddress any6 = new InetSocketAddress(InetAddress.getByName("::1"), 0);
        try (StunServer server = new StunServer(any6, null, 0); StunClient client = new StunClient(any6, FAST)) {
            StunClient.Response r = client.binding(server.primary(), List.of()).get();
            assertThat(r.mapped()).isEqualTo(client.localAddress());
            assertThat(r.mapped().getAddress().getAddress()).hasSize(16);
        }
    }

    @Test
    void discoveryOnLoopbackSeesNoNat() throws Exception {
        InetAddress a = InetAddress.getByName("127.0.0.1");
        InetAddress b = InetAddress.getByName("127.0.0.2");
        try (StunServer server = new StunServer(new InetSocketAddress(a, 0), b, freePort(b))) {
            NatDiscovery.Report report = new NatDiscovery(FAST).discover(new InetSocketAddress(a, 0), server.primary(), null);
            assertThat(report.failures()).isEmpty();
            assertThat(report.natPresent()).isFalse();
            assertThat(report.mapping()).isEqualTo(NatDiscovery.Mapping.ENDPOINT_INDEPENDENT);
            assertThat(report.filtering()).isEqualTo(NatDiscovery.Filtering.ENDPOINT_INDEPENDENT);
            assertThat(report.type()).isEqualTo(NatType.OPEN);
        }
    }

    @Test
    void bindingLifetimeWithoutNatIsTheWholeWindow() throws Exception {
        InetAddress a = InetAddress.getByName("127.0.0.1");
        InetAddress b = InetAddress.getByName("127.0.0.2");
        try (StunServer server = new StunServer(new InetSocketAddress(a, 0), b, freePort(b))) {
            NatDiscovery.Report report = new NatDiscovery(FAST)
                    .discover(new InetSocketAddress(a, 0), server.primary(), Duration.ofMillis(800));
            // no NAT: the RESPONSE-PORT answer reaches the idle socket after the longest wait
            assertThat(report.lifetime()).contains(Duration.ofMillis(800));
        }
    }

    @Test
    void hairpinProbeSeesItsOwnRequestComeBackAndTimesOutOtherwise() throws Exception {
        try (StunClient client = new StunClient(new InetSocketAddress("127.0.0.1", 0), FAST);
             DatagramSocket silent = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            // to itself stands in for a NAT that hairpins
            assertThat(client.hairpin(client.localAddress(), Duration.ofSeconds(2)).get()).isEqualTo(client.localAddress());
            assertThatThrownBy(() -> client.hairpin((InetSocketAddress) silent.getLocalSocketAddress(),
                    Duration.ofMillis(300)).get()).hasCauseInstanceOf(StunClient.TimeoutException.class);
            assertThat(client.drops()).containsEntry(StunClient.Drop.UNEXPECTED_REQUEST, 0L);
        }
    }

    @Test
    void noServerMeansBlockedWithTheReason() throws Exception {
        int silent = freePort(InetAddress.getByName("127.0.0.1"));
        NatDiscovery.Report report = new NatDiscovery(FAST)
                .discover(new InetSocketAddress("127.0.0.1", 0), new InetSocketAddress("127.0.0.1", silent), null);
        assertThat(report.type()).isEqualTo(NatType.BLOCKED);
        assertThat(report.failures()).singleElement().asString().contains("no answer");
    }

    @Test
    void serverWithoutSecondAddressRefusesChangeRequest() throws Exception {
        try (StunServer server = new StunServer(new InetSocketAddress("127.0.0.1", 0), null, 0);
             StunClient client = new StunClient(new InetSocketAddress("127.0.0.1", 0), FAST)) {
            assertThatThrownBy(() -> client.binding(server.primary(),
                    List.of(NatDiscovery.change(StunMessage.CHANGE_PORT))).get())
                    .isInstanceOf(ExecutionException.class).hasMessageContaining("420");
            NatDiscovery.Report report = new NatDiscovery(FAST)
                    .discover(new InetSocketAddress("127.0.0.1", 0), server.primary(), null);
            assertThat(report.reflexive()).isPresent();
            assertThat(report.failures()).anyMatch(f -> f.contains("OTHER-ADDRESS"));
        }
    }

    @Test
    void malformedAndForeignResponsesAreDroppedAndCountedNotThrown() throws Exception {
        try (DatagramSocket fake = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
             StunClient client = new StunClient(new InetSocketAddress("127.0.0.1", 0),
                     new StunClient.Timing(Duration.ofMillis(100), 2, 30))) {
            fake.setSoTimeout(5000);
            var future = client.binding((InetSocketAddress) fake.getLocalSocketAddress(), List.of());
            DatagramPacket p = new DatagramPacket(new byte[1500], 1500);
            fake.receive(p);
            StunMessage request = StunMessage.parse(p.getData(), 0, p.getLength());
            byte[] id = request.transactionId();
            InetSocketAddress to = client.localAddress();
            var mapped = new StunMessage.Attribute(StunMessage.XOR_MAPPED_ADDRESS,
                    StunMessage.encodeAddress(new InetSocketAddress("203.0.113.9", 4000), true, id));
            byte[] good = new StunMessage(StunMessage.BINDING_SUCCESS, id, List.of(mapped), true).encode();
            byte[] wrongCookie = good.clone();
            wrongCookie[5] ^= 1;
            byte[] badLength = good.clone();
            badLength[3] += 4;
            byte[] otherId = new StunMessage(StunMessage.BINDING_SUCCESS, StunClient.newTransactionId(), List.of(mapped), true).encode();
            byte[] unknownRequired = new StunMessage(StunMessage.BINDING_SUCCESS, id,
                    List.of(mapped, new StunMessage.Attribute(0x7001, new byte[4])), true).encode();
            for (byte[] bad : List.of(wrongCookie, badLength, otherId, unknownRequired)) {
                fake.send(new DatagramPacket(bad, bad.length, to));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (client.dropped() < 4 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(future).isNotDone();
            assertThat(client.drops()).containsEntry(StunClient.Drop.BAD_COOKIE, 1L)
                    .containsEntry(StunClient.Drop.BAD_LENGTH, 1L)
                    .containsEntry(StunClient.Drop.UNKNOWN_TRANSACTION, 1L)
                    .containsEntry(StunClient.Drop.UNKNOWN_REQUIRED_ATTRIBUTE, 1L);
            fake.send(new DatagramPacket(good, good.length, to));
            assertThat(future.get().mapped()).isEqualTo(new InetSocketAddress("203.0.113.9", 4000));
        }
    }

    @Test
    void retransmitsOnTheRfcScheduleThenTimesOut() throws Exception {
        try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
             StunClient client = new StunClient(new InetSocketAddress("127.0.0.1", 0),
                     new StunClient.Timing(Duration.ofMillis(100), 4, 2))) {
            silent.setSoTimeout(3000);
            long start = System.nanoTime();
            var future = client.binding((InetSocketAddress) silent.getLocalSocketAddress(), List.of());
            long[] at = new long[4];
            String id = null;
            for (int i = 0; i < 4; i++) {
                DatagramPacket p = new DatagramPacket(new byte[1500], 1500);
                silent.receive(p);
                at[i] = (System.nanoTime() - start) / 1_000_000;
                String thisId = java.util.HexFormat.of().formatHex(StunMessage.parse(p.getData(), 0, p.getLength()).transactionId());
                assertThat(id == null || id.equals(thisId)).as("retransmissions reuse the transaction id").isTrue();
                id = thisId;
            }
            // sends at 0, 100, 300, 700 ms; the failure at 700 + 2 * 100
            assertThat(at[1]).isBetween(80L, 250L);
            assertThat(at[2]).isBetween(280L, 450L);
            assertThat(at[3]).isBetween(680L, 850L);
            assertThatThrownBy(future::get).hasCauseInstanceOf(StunClient.TimeoutException.class);
            long end = (System.nanoTime() - start) / 1_000_000;
            assertThat(end).isBetween(880L, 1500L);
        }
    }

    static int freePort(InetAddress on) throws Exception {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(on, 0))) {
            return s.getLocalPort();
        }
    }
}
