package io.kizuna.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;

import org.junit.jupiter.api.Test;

class AddressScopeTest {

    static AddressScope scope(String ip) throws Exception {
        return AddressScope.of(InetAddress.getByName(ip));
    }

    @Test
    void eachRangeAndItsEdges() throws Exception {
        assertThat(scope("198.51.100.1")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("8.8.8.8")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("127.0.0.1")).isEqualTo(AddressScope.LOOPBACK);
        assertThat(scope("127.255.255.254")).isEqualTo(AddressScope.LOOPBACK);
        assertThat(scope("::1")).isEqualTo(AddressScope.LOOPBACK);
        assertThat(scope("10.0.0.1")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("172.16.0.1")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("172.31.255.255")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("172.32.0.1")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("172.15.255.255")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("192.168.1.1")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("192.169.1.1")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("fc00::1")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("fdff::1")).isEqualTo(AddressScope.PRIVATE);
        assertThat(scope("fe00::1")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("169.254.3.4")).isEqualTo(AddressScope.LINK_LOCAL);
        assertThat(scope("fe80::1")).isEqualTo(AddressScope.LINK_LOCAL);
        assertThat(scope("100.64.0.1")).isEqualTo(AddressScope.SHARED);
        assertThat(scope("100.127.255.255")).isEqualTo(AddressScope.SHARED);
        assertThat(scope("100.128.0.1")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("100.63.255.255")).isEqualTo(AddressScope.PUBLIC);
        assertThat(scope("224.0.0.1")).isEqualTo(AddressScope.MULTICAST);
        assertThat(scope("239.255.255.255")).isEqualTo(AddressScope.MULTICAST);
        assertThat(scope("ff02::1")).isEqualTo(AddressScope.MULTICAST);
        assertThat(scope("0.0.0.0")).isEqualTo(AddressScope.UNSPECIFIED);
        assertThat(scope("0.1.2.3")).isEqualTo(AddressScope.UNSPECIFIED);
        assertThat(scope("::")).isEqualTo(AddressScope.UNSPECIFIED);
        assertThat(scope("255.255.255.255")).isEqualTo(AddressScope.BROADCAST);
        assertThat(scope("240.0.0.1")).isEqualTo(AddressScope.RESERVED);
        assertThat(scope("2001:db8::1")).isEqualTo(AddressScope.PUBLIC);
    }

    @Test
    void anIpv4MappedAddressIsJudgedAsItsIpv4Address() throws Exception {
        byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 10, 0, 0, 1};
        assertThat(AddressScope.of(java.net.Inet6Address.getByAddress(null, mapped, null)))
                .isEqualTo(AddressScope.PRIVATE);
    }

    @Test
    void onlyUnicastScopesCanBeAPeer() {
        assertThat(AddressScope.values()).filteredOn(AddressScope::unicast).containsExactly(AddressScope.PUBLIC,
                AddressScope.LOOPBACK, AddressScope.PRIVATE, AddressScope.LINK_LOCAL, AddressScope.SHARED);
    }
}
