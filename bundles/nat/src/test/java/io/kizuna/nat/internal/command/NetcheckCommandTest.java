package io.kizuna.nat.internal.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

import io.kizuna.nat.internal.NatService;
import io.kizuna.nat.internal.NatServices;
import io.kizuna.nat.internal.StunClient;
import io.kizuna.nat.internal.StunServer;
import io.kizuna.transport.NatType;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class NetcheckCommandTest {

    private static final StunClient.Timing FAST = new StunClient.Timing(java.time.Duration.ofMillis(50), 3, 4);

    @Test
    void saysWithWhichPeersPunchingIsExpectedToWork() {
        assertThat(NetcheckCommand.punching(NatType.PORT_RESTRICTED_CONE, true)).startsWith("UDP hole punching: "
                + "expected to work with open peers and peers behind cone NATs, not with peers behind symmetric NATs")
                .doesNotContain("QUIC listener");
        assertThat(NetcheckCommand.punching(NatType.SYMMETRIC, true)).contains("only with open peers and peers "
                + "behind full or restricted cone NATs");
        assertThat(NetcheckCommand.punching(NatType.BLOCKED, true)).contains("not expected to work");
        assertThat(NetcheckCommand.punching(NatType.UNKNOWN, false)).contains("cannot tell", "no QUIC listener");
    }

    @Test
    void reportsReachabilityTypeBehavioursLatencyAndFailedProbes() throws Exception {
        InetAddress b = InetAddress.getByName("127.0.0.2");
        int alt;
        int silent;
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(b, 0));
             DatagramSocket t = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            alt = s.getLocalPort();
            silent = t.getLocalPort();
        }
        try (StunServer server = new StunServer(new InetSocketAddress("127.0.0.1", 0), b, alt)) {
            NatService service = NatServices.create(List.of(), FAST);
            try {
                NetcheckCommand command = new NetcheckCommand(service);
                String out = command.netcheck("127.0.0.1:" + server.primary().getPort(), "127.0.0.1:" + silent);
                assertThat(out).contains("UDP: reachable", "NAT type: OPEN (no NAT, mapping endpoint-independent, "
                        + "filtering endpoint-independent)", "mapping varies by destination: no",
                        "hairpinning: not needed (no NAT)", "binding lifetime: not measured",
                        "server 127.0.0.1:" + server.primary().getPort() + ": latency ",
                        "server 127.0.0.1:" + silent + ": no answer, BLOCKED",
                        "  failed probe: binding to /127.0.0.1:" + silent + " failed: no answer",
                        "UDP hole punching: expected to work with peers behind any NAT: this node has no NAT in front",
                        "and this node has no QUIC listener, which punched connections need",
                        "punches: 0 started, 0 answered, 0 direct, 0 failed\n");
                assertThatThrownBy(command::netcheck).hasMessageContaining("no STUN server given and none configured");
                assertThatThrownBy(() -> command.netcheck("nohost")).hasMessageContaining("host:port");
            } finally {
                service.deactivate();
            }
        }
    }
}
