package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.transport.NatType;

@Timeout(30)
class NatServiceTest {

    private static final StunClient.Timing FAST = new StunClient.Timing(Duration.ofMillis(50), 3, 4);

    @Test
    void withoutServersItReportsUnknownAndSendsNothing() throws Exception {
        NatService service = new NatService(List.of(), FAST, null, null);
        try {
            assertThat(service.discoverNatType().toCompletableFuture().get()).isEqualTo(NatType.UNKNOWN);
            assertThat(service.reflexiveAddress().toCompletableFuture().get()).isEmpty();
        } finally {
            service.deactivate();
        }
    }

    @Test
    void discoversAgainstAConfiguredLoopbackServer() throws Exception {
        InetAddress b = InetAddress.getByName("127.0.0.2");
        try (StunServer server = new StunServer(new InetSocketAddress("127.0.0.1", 0), b, StunClientServerTest.freePort(b))) {
            NatService service = new NatService(List.of(server.primary()), FAST, null, null);
            try {
                assertThat(service.discoverNatType().toCompletableFuture().get()).isEqualTo(NatType.OPEN);
                Optional<InetSocketAddress> reflexive = service.reflexiveAddress().toCompletableFuture().get();
                assertThat(reflexive).isPresent();
                assertThat(reflexive.get().getAddress().isLoopbackAddress()).isTrue();
            } finally {
                service.deactivate();
            }
        }
    }

    @Test
    void parsesServerAddressesWithClearErrors() {
        assertThat(NatService.parseAddress("127.0.0.1:3478")).isEqualTo(new InetSocketAddress("127.0.0.1", 3478));
        assertThat(NatService.parseAddress("[::1]:3478").getAddress().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
        assertThatThrownBy(() -> NatService.parseAddress("127.0.0.1")).hasMessageContaining("host:port");
        assertThat(NatService.parseServers(new String[] {"127.0.0.1:3478, 127.0.0.2:3479", " "}))
                .as("a configuration file's list arrives as one string").containsExactly(
                        new InetSocketAddress("127.0.0.1", 3478), new InetSocketAddress("127.0.0.2", 3479));
        assertThatThrownBy(() -> NatService.parseAddress("::1:3478")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> NatService.parseAddress("127.0.0.1:70000")).hasMessageContaining("1-65535");
    }

    @Test
    void overallTypePrefersAnAnswerThatCouldTell() {
        NatDiscovery.Report blocked = report(NatType.BLOCKED);
        NatDiscovery.Report cone = report(NatType.PORT_RESTRICTED_CONE);
        assertThat(NatService.overall(List.of(blocked, cone))).isEqualTo(NatType.PORT_RESTRICTED_CONE);
        assertThat(NatService.overall(List.of(blocked, blocked))).isEqualTo(NatType.BLOCKED);
        assertThat(NatService.overall(List.of(report(NatType.UNKNOWN), blocked))).isEqualTo(NatType.UNKNOWN);
        assertThat(NatService.overall(List.of())).isEqualTo(NatType.UNKNOWN);
    }

    @Test
    void classificationFollowsRfc5780Behaviours() {
        var eim = NatDiscovery.Mapping.ENDPOINT_INDEPENDENT;
        assertThat(NatDiscovery.classify(true, eim, NatDiscovery.Filtering.ENDPOINT_INDEPENDENT)).isEqualTo(NatType.FULL_CONE);
        assertThat(NatDiscovery.classify(true, eim, NatDiscovery.Filtering.ADDRESS_DEPENDENT)).isEqualTo(NatType.RESTRICTED_CONE);
        assertThat(NatDiscovery.classify(true, eim, NatDiscovery.Filtering.ADDRESS_AND_PORT_DEPENDENT))
                .isEqualTo(NatType.PORT_RESTRICTED_CONE);
        assertThat(NatDiscovery.classify(true, NatDiscovery.Mapping.ADDRESS_DEPENDENT,
                NatDiscovery.Filtering.ADDRESS_AND_PORT_DEPENDENT)).isEqualTo(NatType.SYMMETRIC);
        assertThat(NatDiscovery.classify(true, NatDiscovery.Mapping.UNKNOWN, NatDiscovery.Filtering.UNKNOWN))
                .isEqualTo(NatType.UNKNOWN);
        assertThat(NatDiscovery.classify(false, eim, NatDiscovery.Filtering.ENDPOINT_INDEPENDENT)).isEqualTo(NatType.OPEN);
    }

    static NatDiscovery.Report report(NatType type) {
        InetSocketAddress a = new InetSocketAddress("127.0.0.1", 3478);
        return new NatDiscovery.Report(a, a, false, "its own socket",
                type == NatType.BLOCKED ? Optional.empty() : Optional.of(a), Optional.empty(),
                false, NatDiscovery.Mapping.UNKNOWN, NatDiscovery.Filtering.UNKNOWN, Optional.empty(), Optional.empty(),
                type, List.of());
    }
}
