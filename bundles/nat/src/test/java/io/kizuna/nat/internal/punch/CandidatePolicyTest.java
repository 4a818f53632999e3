package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;

import org.junit.jupiter.api.Test;

class CandidatePolicyTest {

    static InetSocketAddress at(String ip) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), 7400);
    }

    @Test
    void theDefaultAllowsPublicAddressesOnly() throws Exception {
        CandidatePolicy p = CandidatePolicy.PUBLIC_ONLY;
        assertThat(p.allows(at("198.51.100.7"))).isTrue();
        assertThat(p.allows(at("2001:db8::7"))).isTrue();
        assertThat(p.refusal(at("127.0.0.1"))).isEqualTo("127.0.0.1 is loopback and private addresses are not allowed");
        assertThat(p.refusal(at("10.0.0.1"))).isEqualTo("10.0.0.1 is private and private addresses are not allowed");
        assertThat(p.refusal(at("fd12::1"))).contains("is private");
        assertThat(p.refusal(at("169.254.1.1"))).contains("is link-local");
        assertThat(p.refusal(at("fe80::1"))).contains("is link-local");
        assertThat(p.refusal(at("100.64.1.1"))).contains("is shared");
        assertThat(p.refusal(at("::1"))).contains("is loopback");
        assertThat(p.refusal(at("224.0.0.251"))).isEqualTo("224.0.0.251 is multicast");
        assertThat(p.refusal(at("0.0.0.0"))).isEqualTo("0.0.0.0 is unspecified");
        assertThat(p.refusal(at("255.255.255.255"))).isEqualTo("255.255.255.255 is broadcast");
        assertThat(p.refusal(new InetSocketAddress(InetAddress.getByName("198.51.100.7"), 0)))
                .startsWith("not an IP address and port");
    }

    @Test
    void allowPrivateAdmitsLanAndLoopbackButNeverMulticastOrBroadcast() throws Exception {
        CandidatePolicy p = new CandidatePolicy(java.util.List.of(), true);
        assertThat(p.allows(at("127.0.0.1"))).isTrue();
        assertThat(p.allows(at("192.168.0.4"))).isTrue();
        assertThat(p.allows(at("100.100.0.1"))).isTrue();
        assertThat(p.allows(at("198.51.100.7"))).isTrue();
        assertThat(p.allows(at("ff02::1"))).isFalse();
        assertThat(p.allows(at("255.255.255.255"))).isFalse();
        assertThat(p.allows(at("::"))).isFalse();
    }

    @Test
    void configuredNetworksRestrictAndNameWhatIsAllowed() throws Exception {
        CandidatePolicy p = CandidatePolicy.of(new String[] {" 10.1.0.0/16", "203.0.113.0/24", "fd00::/8", ""},
                false);
        assertThat(p.allows(at("203.0.113.9"))).isTrue();
        assertThat(p.allows(at("10.1.2.3"))).as("private, but listed").isTrue();
        assertThat(p.allows(at("fd00::5"))).isTrue();
        assertThat(p.refusal(at("10.2.0.1"))).isEqualTo("10.2.0.1 is outside the configured networks "
                + "[10.1.0.0/16, 203.0.113.0/24, fd00:0:0:0:0:0:0:0/8]");
        assertThat(p.allows(at("198.51.100.7"))).as("public, but not listed").isFalse();
        // A prefix length that is not a multiple of 8.
        CandidatePolicy odd = CandidatePolicy.of(new String[] {"100.64.0.0/10"}, false);
        assertThat(odd.allows(at("100.127.255.255"))).isTrue();
        assertThat(odd.allows(at("100.128.0.0"))).isFalse();
        // A listed range never makes multicast probe-able.
        assertThat(CandidatePolicy.of(new String[] {"0.0.0.0/0"}, true).allows(at("239.1.1.1"))).isFalse();
    }

    @Test
    void aListInOneStringAsAConfigurationFileGivesItIsSplitAtCommas() throws Exception {
        CandidatePolicy p = CandidatePolicy.of(new String[] {"203.0.113.0/24, 198.51.100.0/24"}, false);
        assertThat(p.networks()).hasSize(2);
        assertThat(p.allows(at("198.51.100.7"))).isTrue();
        assertThat(p.allows(at("192.0.2.7"))).isFalse();
    }

    @Test
    void badPrefixesAreRefusedWithTheReason() {
        assertThatThrownBy(() -> CandidatePolicy.of(new String[] {"example.org/8"}, false))
                .hasMessage("punch network 'example.org/8' is not an IP prefix such as 203.0.113.0/24");
        assertThatThrownBy(() -> CandidatePolicy.of(new String[] {"10.0.0.0/33"}, false))
                .hasMessage("punch network '10.0.0.0/33' has a prefix length outside 0-32");
        assertThatThrownBy(() -> CandidatePolicy.of(new String[] {"10.0.0.0"}, false))
                .hasMessageContaining("is not an IP prefix");
    }
}
