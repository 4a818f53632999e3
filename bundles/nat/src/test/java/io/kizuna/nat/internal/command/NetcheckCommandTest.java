package io.kizuna.nat.internal.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.nat.internal.NatService;
import io.kizuna.nat.internal.NatServices;
import io.kizuna.nat.internal.StunClient;
import io.kizuna.nat.internal.StunServer;

@Timeout(30)
class NetcheckCommandTest {

    private static final StunClient.Timing FAST = new StunClient.Timing(java.time.Duration.ofMillis(50), 3, 4);

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
                        "  failed probe: binding to /127.0.0.1:" + silent + " failed: no answer");
                assertThatThrownBy(command::netcheck).hasMessageContaining("no STUN server given and none configured");
                assertThatThrownBy(() -> command.netcheck("nohost")).hasMessageContaining("host:port");
            } finally {
                service.deactivate();
            }
        }
    }
}
