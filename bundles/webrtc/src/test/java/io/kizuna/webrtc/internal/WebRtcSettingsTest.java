package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** List keys as a .cfg file gives them: one comma-separated value, or an array. */
class WebRtcSettingsTest {

    @Test
    void aCommaSeparatedValueIsSeveralEntries() {
        assertThat(WebRtcSettings.list(new String[] {"10.0.0.0/8, 203.0.113.0/24", " ", "198.51.100.0/24"}))
                .containsExactly("10.0.0.0/8", "203.0.113.0/24", "198.51.100.0/24");
        assertThat(WebRtcSettings.list(null)).isEmpty();
    }
}
