package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PunchSettingsTest {

    @Test
    void defaultsAreThoseForThePublicInternet() {
        PunchSettings s = PunchSettings.of(new String[0], false, PunchSettings.DEFAULT_ROUNDS,
                PunchSettings.DEFAULT_ROUND_MILLIS, PunchSettings.DEFAULT_PER_PEER_PER_MINUTE,
                PunchSettings.DEFAULT_MAX_SESSIONS);
        assertThat(s.policy()).isEqualTo(CandidatePolicy.PUBLIC_ONLY);
        assertThat(s.schedule()).isEqualTo(PunchSchedule.DEFAULT);
        assertThat(s.perPeerPerMinute()).isEqualTo(6);
        assertThat(s.maxSessions()).isEqualTo(16);
    }

    @Test
    void eachBadValueNamesItsKey() {
        assertThatThrownBy(() -> PunchSettings.of(new String[] {"nope"}, false, 3, 3000, 6, 16))
                .hasMessageContaining("punch network 'nope'");
        assertThatThrownBy(() -> PunchSettings.of(new String[0], false, 0, 3000, 6, 16))
                .hasMessageContaining("punchRounds is 0");
        assertThatThrownBy(() -> PunchSettings.of(new String[0], false, 3, 100, 6, 16))
                .hasMessageContaining("punchRoundMillis is 100");
        assertThatThrownBy(() -> PunchSettings.of(new String[0], false, 3, 3000, 0, 16))
                .hasMessage("punchSessionsPerPeerPerMinute is 0, expected 1 to 1000");
        assertThatThrownBy(() -> PunchSettings.of(new String[0], false, 3, 3000, 6, 1001))
                .hasMessage("maxPunchSessions is 1001, expected 1 to 1000");
    }
}
