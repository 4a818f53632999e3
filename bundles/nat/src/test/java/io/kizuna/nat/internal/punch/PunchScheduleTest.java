package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PunchScheduleTest {

    @Test
    void theInitiatorStartsHalfAnRttAfterSyncWithinABound() {
        assertThat(PunchSchedule.initiatorStartDelay(0)).isZero();
        assertThat(PunchSchedule.initiatorStartDelay(81)).isEqualTo(40);
        assertThat(PunchSchedule.initiatorStartDelay(300)).isEqualTo(150);
        assertThat(PunchSchedule.initiatorStartDelay(-5)).isZero();
        assertThat(PunchSchedule.initiatorStartDelay(60_000)).isEqualTo(PunchSchedule.MAX_START_DELAY_MILLIS);
    }

    @Test
    void probesBackOffAndStayInsideTheRound() {
        assertThat(PunchSchedule.DEFAULT.probeOffsets()).containsExactly(0L, 50L, 100L, 200L, 400L, 800L, 1600L);
        assertThat(new PunchSchedule(3, 500).probeOffsets()).containsExactly(0L, 50L, 100L, 200L, 400L);
        assertThat(new PunchSchedule(3, 800).probeOffsets()).endsWith(400L);
        assertThat(new PunchSchedule(3, 801).probeOffsets()).endsWith(400L, 800L);
        assertThat(new PunchSchedule(1, 10_000).probeOffsets()).containsExactly(0L, 50L, 100L, 200L, 400L, 800L,
                1600L, 3200L, 6400L);
    }

    @Test
    void theResponderWaitsLongerThanTheInitiatorTakesForARound() {
        PunchSchedule s = PunchSchedule.DEFAULT;
        // From SYNC's arrival: RTT/2 until the initiator probes, its round, RTT/2 for its next message.
        for (long rtt : new long[] {0, 100, 3_999}) {
            assertThat(s.responderWaitMillis()).isGreaterThan(s.roundMillis()
                    + PunchSchedule.initiatorStartDelay(rtt) + rtt / 2);
        }
        // Every round ends before its CANDIDATES go stale.
        PunchSchedule longest = new PunchSchedule(PunchCodec.MAX_ROUND, PunchSchedule.MAX_ROUND_MILLIS);
        assertThat(longest.responderWaitMillis()).isLessThan(PunchSchedule.MAX_AGE_MILLIS);
    }

    @Test
    void outOfRangeSettingsAreRefused() {
        assertThatThrownBy(() -> new PunchSchedule(0, 3000)).hasMessage("punchRounds is 0, expected 1 to 10");
        assertThatThrownBy(() -> new PunchSchedule(11, 3000)).hasMessage("punchRounds is 11, expected 1 to 10");
        assertThatThrownBy(() -> new PunchSchedule(3, 499))
                .hasMessage("punchRoundMillis is 499, expected 500 to 10000");
        assertThatThrownBy(() -> new PunchSchedule(3, 10_001))
                .hasMessage("punchRoundMillis is 10001, expected 500 to 10000");
    }
}
