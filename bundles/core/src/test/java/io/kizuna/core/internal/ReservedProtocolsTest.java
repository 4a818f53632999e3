package io.kizuna.core.internal;

import static io.kizuna.core.internal.ConnectionManagerImpl.reserved;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which stream protocol names only the manager serves and opens. */
class ReservedProtocolsTest {

    @Test
    void theManagersOwnProtocolsAndUnknownPlatformNamesAreReserved() {
        assertThat(reserved("kizuna/control/1")).isTrue();
        assertThat(reserved("kizuna/perf/1")).isTrue();
        assertThat(reserved("kizuna/other/1")).isTrue();
    }

    @Test
    void platformBundlesServeTheRelayAndPunchProtocolsThroughTheWhiteboard() {
        assertThat(reserved("kizuna/relay/1")).isFalse();
        assertThat(reserved("kizuna/punch/1")).isFalse();
        assertThat(reserved("myapp/chat/1")).isFalse();
    }
}
