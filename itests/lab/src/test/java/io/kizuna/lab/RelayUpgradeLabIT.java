package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * WebRTC private to private: two peers behind port-restricted cone NATs, each in
 * its own site, meet through a relay on the public segment and move to a direct
 * path. B listens only through the relay and has no webrtc endpoint; its HELLO
 * says it accepts WebRTC signaled over the connection. A dials B through the
 * relay; A's manager then sets up WebRTC in the background, the offer, answer and
 * candidates travelling over the relayed connection, and ICE finds the direct
 * path on server-reflexive candidates (coturn's STUN). Later pings and a 4 MiB
 * echo go over WebRTC, with matching SHA-256 both ways; the relayed connection
 * stays open beside it.
 */
class RelayUpgradeLabIT {

    /** The lab's own networks: no ICE candidate outside them is sent or used. */
    private static final String NETWORKS = "10.0.0.0/8, 203.0.113.0/24, 198.51.100.0/24";

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void relayedConnectionBetweenConeNatsIsUpgradedToDirectWebRtc() throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), "relay-upgrade");
        try (Lab lab = Lab.open(work)) {
            Lab.Site a = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
            Lab.Site b = lab.addSite(Lab.Nat.PORT_RESTRICTED_CONE);
            lab.startCoturn();
            Path dist = RelayLabIT.distribution(work);

            String relayId = RelayLabIT.startRelay(lab, work, dist);
            Path relayOut = work.resolve("relay.out");

            Path bHome = webRtcHome(work.resolve("b-home"));
            Path bOut = work.resolve("b.out");
            Process bNode = lab.start(b.client(), bOut, RelayLabIT.node(dist, bHome,
                    "--listen", "relay://" + relayId + "@" + RelayLabIT.RELAY_TCP));
            String bAddress = RelayLabIT.ready(bOut, bNode);
            assertThat(bAddress).as("B's address names only the relay").contains("@relay://")
                    .doesNotContain("webrtc").doesNotContain(",");

            // Pings first through the relay, then, once the upgrade is up, over WebRTC; then the echo.
            Path aHome = webRtcHome(work.resolve("a-home"));
            Lab.Result run = lab.tryRun(a.client(), RelayLabIT.node(dist, aHome, "--listen",
                    "tcp://" + a.clientIp() + ":0", "--wait", "60", "-c",
                    "kizuna:ping " + bAddress + " 6; itest:echo " + bAddress + " 4; kizuna:peers"));
            String out = run.output();
            String aLog = RelayLabIT.read(aHome.resolve("logs/kizuna.log"));
            String bLog = RelayLabIT.read(bHome.resolve("logs/kizuna.log"));
            String all = "A's commands:\n" + out + "\n--- A's log:\n" + aLog + "\n--- B's log:\n" + bLog
                    + "\n--- relay:\n" + RelayLabIT.read(relayOut);
            assertThat(run.exit()).as(all).isZero();
            assertThat(out).as(all).contains("via relay " + relayId).contains("via webrtc://");
            assertThat(out.indexOf("via relay ")).as("the relay first, then WebRTC").isLessThan(
                    out.indexOf("via webrtc://"));
            assertThat(aLog).as(all).contains("upgraded: connected");

            Matcher sent = Pattern.compile("sent (\\d+) bytes sha256 ([0-9a-f]{64})").matcher(out);
            Matcher echoed = Pattern.compile("echoed (\\d+) bytes sha256 ([0-9a-f]{64})").matcher(out);
            assertThat(sent.find() && echoed.find()).as(all).isTrue();
            assertThat(sent.group(1)).isEqualTo(String.valueOf(4L * 1024 * 1024));
            assertThat(echoed.group(1)).isEqualTo(sent.group(1));
            assertThat(echoed.group(2)).as("SHA-256 of what came back").isEqualTo(sent.group(2));
            assertThat(out).as(all).contains("sha256 match over webrtc://");

            // ICE's pair: each side's own candidate is its NAT mapping (srflx from STUN, or prflx from checks).
            Pattern pair = Pattern.compile("webrtc: (connected to|accepted from) \\S+ over (\\w+) (\\S+) -> (\\w+) "
                    + "(\\S+)");
            Matcher dialer = pair.matcher(aLog);
            Matcher listener = pair.matcher(bLog);
            assertThat(dialer.find() && listener.find()).as(all).isTrue();
            assertThat(dialer.group(2) + " " + listener.group(2)).as(all).doesNotContain("relay").doesNotContain(
                    "host").contains("srflx");
            assertThat(dialer.group(5)).as("A reaches B at B's router").startsWith(b.wanIp() + ":");
            assertThat(listener.group(5)).as("B reaches A at A's router").startsWith(a.wanIp() + ":");
            System.out.println(out);
            System.out.println(dialer.group() + "\n" + listener.group());
        }
    }

    /** A node home whose WebRTC uses coturn's STUN and only the lab's networks. */
    private static Path webRtcHome(Path home) throws Exception {
        RelayLabIT.freshLogs(home);
        Files.createDirectories(home.resolve("etc"));
        Files.writeString(home.resolve("etc/io.kizuna.webrtc.cfg"), "stunServers = " + Lab.STUN_1 + ":3478\n"
                + "candidateNetworks = " + NETWORKS + "\n");
        return home;
    }
}
