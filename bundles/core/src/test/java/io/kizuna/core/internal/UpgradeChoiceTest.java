package io.kizuna.core.internal;

import static io.kizuna.core.internal.ConnectionManagerImpl.upgradeChoice;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

/** When the manager upgrades a relayed connection, and to what. */
class UpgradeChoiceTest {

    private static final Map<String, Integer> WEBRTC_HERE = Map.of("webrtc", 90);

    @Test
    void aRelayedConnectionThisNodeDialedIsUpgradedToATransportBothSignal() {
        assertThat(upgradeChoice(true, true, true, List.of("webrtc"), WEBRTC_HERE, false))
                .contains("webrtc");
    }

    @Test
    void aPunchedQuicConnectionIsPreferredToWebRtc() {
        assertThat(upgradeChoice(true, true, true, List.of("webrtc", "punch"), Map.of("webrtc", 90, "punch", 95),
                false)).contains("punch");
        assertThat(upgradeChoice(true, true, true, List.of("webrtc"), Map.of("webrtc", 90, "punch", 95), false))
                .contains("webrtc");
    }

    @Test
    void anAttemptTriesEveryTransportBothSignalBestFirst() {
        Map<String, Integer> here = Map.of("webrtc", 90, "punch", 95, "other", 40);
        assertThat(ConnectionManagerImpl.upgradeOrder(true, true, true, List.of("other", "webrtc", "punch", "webrtc",
                "unknown"), here, false)).containsExactly("punch", "webrtc", "other");
        assertThat(ConnectionManagerImpl.upgradeOrder(true, true, true, List.of("webrtc", "punch"), here, true))
                .as("a direct connection is pooled").isEmpty();
    }

    @Test
    void onlyTheDialerOfARelayedConnectionUpgradesAndOnlyWhenEnabled() {
        assertThat(upgradeChoice(true, true, false, List.of("webrtc"), WEBRTC_HERE, false)).isEmpty();
        assertThat(upgradeChoice(true, false, true, List.of("webrtc"), WEBRTC_HERE, false)).isEmpty();
        assertThat(upgradeChoice(false, true, true, List.of("webrtc"), WEBRTC_HERE, false)).isEmpty();
    }

    @Test
    void bothSidesMustSignalTheTransport() {
        assertThat(upgradeChoice(true, true, true, List.of(), WEBRTC_HERE, false)).isEmpty();
        assertThat(upgradeChoice(true, true, true, List.of("webrtc"), Map.of(), false)).isEmpty();
    }

    @Test
    void noUpgradeWhenADirectConnectionIsPooledAlready() {
        assertThat(upgradeChoice(true, true, true, List.of("webrtc"), WEBRTC_HERE, true))
                .isEmpty();
    }

    @Test
    void theHighestPriorityAmongTheCommonOnesWins() {
        Optional<String> c = upgradeChoice(true, true, true, List.of("webrtc", "other", "only-there"),
                Map.of("webrtc", 90, "other", 95, "only-here", 99), false);
        assertThat(c).contains("other");
    }
}
