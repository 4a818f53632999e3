package io.kizuna.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The seed's NAT traversal tests, through the lab's real NAT routers: each peer
 * is reachable only at its relay address, and the connection manager's upgrade
 * of the relayed connection finds the path by itself (see {@link NatPair}).
 */
class NatTraversalLabIT {

    /**
     * UDP hole punching: two peers behind port-restricted cone NATs (Linux
     * MASQUERADE: a datagram gets in only from an address and port the inside
     * sent to) meet through the relay and end on a QUIC connection punched in
     * the first round; later pings go over it.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void test_nat_traversal() throws Exception {
        NatPair.Outcome o = pair("nat-traversal", Lab.Nat.PORT_RESTRICTED_CONE, Lab.Nat.PORT_RESTRICTED_CONE, 6);
        assertThat(o.path()).as(o.evidence()).isEqualTo("punched quic");
        assertThat(o.rounds()).as(o.evidence()).isEqualTo(1);
        assertThat(o.millis()).as("from the relayed connection to the punched one").isPositive().isLessThan(5000);
        assertThat(o.evidence()).contains("via relay ").as("B's router's public address")
                .containsPattern("via quic://203\\.0\\.113\\.1\\d\\d:")
                .contains("(punched, round 1, " + o.millis() + " ms after relay)");
        System.out.println(o.evidence());
    }

    /**
     * A dialer behind a symmetric NAT (a new port per destination, so its
     * probes come from a port nobody was told) reaches a listener behind a full
     * cone NAT directly: the full cone lets the probes in from anywhere, and
     * the listener answers the port they came from (peer-reflexive).
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void aSymmetricNatReachesAFullConeDirectly() throws Exception {
        NatPair.Outcome o = pair("symmetric-full-cone", Lab.Nat.SYMMETRIC, Lab.Nat.FULL_CONE, 6);
        assertThat(o.path()).as(o.evidence()).isEqualTo("punched quic");
        assertThat(o.rounds()).as(o.evidence()).isEqualTo(1);
        System.out.println(o.evidence());
    }

    /**
     * Relay fallback: two peers behind symmetric NATs (a new mapping per
     * destination, so neither the punch nor ICE finds a path) stay on the
     * relay: every ping is answered through it while the upgrade's first
     * attempt tries the punch (three rounds), then WebRTC, and A's log names
     * each failure and what follows.
     */
    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void test_relay_fallback() throws Exception {
        NatPair.Outcome o = pair("relay-fallback", Lab.Nat.SYMMETRIC, Lab.Nat.SYMMETRIC, 24);
        assertThat(o.path()).as(o.evidence()).isEqualTo("relay");
        assertThat(o.evidence()).contains("24 received").doesNotContain("via quic").doesNotContain("via webrtc")
                .contains("to punch failed (attempt 1 of 3): punch with ")
                .contains("no probe answered in 3 rounds")
                .contains("; trying webrtc next")
                .contains("to webrtc in the background (attempt 1 of 3)");
        assertThat(o.evidence()).as(o.evidence())
                .containsPattern("to punch, then webrtc failed \\(attempt 1 of 3\\).*; next attempt in 10000 ms");
        System.out.println(o.evidence());
    }

    /**
     * Runs one pair in a lab of its own: a relay and coturn on the public segment, A and B in sites of the
     * given behaviours.
     */
    private static NatPair.Outcome pair(String name, Lab.Nat a, Lab.Nat b, int pings) throws Exception {
        Path work = Path.of(System.getProperty("lab.work", "target/lab-work"), name);
        try (Lab lab = Lab.open(work)) {
            Lab.Site aSite = lab.addSite(a);
            Lab.Site bSite = lab.addSite(b);
            lab.startCoturn();
            Path dist = RelayLabIT.distribution(work);
            String relayId = RelayLabIT.startRelay(lab, work, dist);
            return NatPair.run(lab, work.resolve("pair"), dist, relayId, aSite, bSite, pings);
        }
    }
}
