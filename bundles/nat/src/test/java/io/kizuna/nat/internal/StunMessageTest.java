package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
class StunMessageTest {

    /** RFC 5769 section 2.2: sample IPv4 response. */
    private static final String RFC5769_IPV4 = "0101003c2112a442b7e7a701bc34d686fa87dfae"
            + "8022000b7465737420766563746f7220"
            + "002000080001a147e112a643"
            + "000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
            + "80280004c07d4c96";

    @Test
    void parsesTheRfc5769SampleResponseAndChecksItsFingerprint() throws Exception {
        byte[] bytes = HexFormat.of().parseHex(RFC5769_IPV4.replace(" ", ""));
        StunMessage m = StunMessage.parse(bytes, 0, bytes.length);
        assertThat(m.type()).isEqualTo(StunMessage.BINDING_SUCCESS);
        assertThat(m.fingerprinted()).isTrue();
        assertThat(m.address(StunMessage.XOR_MAPPED_ADDRESS))
                .contains(new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 32853));
        bytes[bytes.length - 1] ^= 1;
        assertThatThrownBy(() -> StunMessage.parse(bytes, 0, bytes.length))
                .isInstanceOfSatisfying(StunMessage.MalformedException.class,
                        e -> assertThat(e.reason()).isEqualTo(StunMessage.Reason.BAD_FINGERPRINT));
    }

    @Test
    void roundTripsXorMappedAddressesForIpv4AndIpv6() throws Exception {
        byte[] id = StunClient.newTransactionId();
        for (String ip : List.of("203.0.113.7", "2001:db8::1234:5678")) {
            InetSocketAddress a = new InetSocketAddress(InetAddress.getByName(ip), 54321);
            StunMessage m = new StunMessage(StunMessage.BINDING_SUCCESS, id,
                    List.of(new StunMessage.Attribute(StunMessage.XOR_MAPPED_ADDRESS, StunMessage.encodeAddress(a, true, id))),
                    true);
            byte[] wire = m.encode();
            StunMessage back = StunMessage.parse(wire, 0, wire.length);
            assertThat(back).isEqualTo(m);
            assertThat(back.address(StunMessage.XOR_MAPPED_ADDRESS)).contains(a);
            // the XOR really hides the address on the wire
            assertThat(HexFormat.of().formatHex(wire)).doesNotContain(HexFormat.of().formatHex(a.getAddress().getAddress()));
        }
    }

    @Test
    void rejectsWrongCookieAndLengths() {
        byte[] good = new StunMessage(StunMessage.BINDING_REQUEST, StunClient.newTransactionId(), List.of(), false).encode();
        byte[] cookie = good.clone();
        cookie[4] = 0;
        assertReason(cookie, StunMessage.Reason.BAD_COOKIE);
        byte[] length = good.clone();
        length[3] = 8;
        assertReason(length, StunMessage.Reason.BAD_LENGTH);
        assertReason(new byte[12], StunMessage.Reason.BAD_LENGTH);
    }

    @Test
    void transactionIdsAreRandomAndDistinct() {
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (int i = 0; i < 1000; i++) {
            ids.add(HexFormat.of().formatHex(StunClient.newTransactionId()));
        }
        assertThat(ids).hasSize(1000);
    }

    @Test
    void timingFollowsRfc8489() {
        assertThat(StunClient.Timing.RFC.total().toMillis()).isEqualTo(39_500);
    }

    private static void assertReason(byte[] b, StunMessage.Reason reason) {
        assertThatThrownBy(() -> StunMessage.parse(b, 0, b.length))
                .isInstanceOfSatisfying(StunMessage.MalformedException.class, e -> assertThat(e.reason()).isEqualTo(reason));
    }
}
