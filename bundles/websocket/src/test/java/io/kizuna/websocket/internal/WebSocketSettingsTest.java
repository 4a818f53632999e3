package io.kizuna.websocket.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kizuna.identity.Identities;
import io.kizuna.transport.TransportCapabilities;

import org.junit.jupiter.api.Test;

/** Defaults and checks of the configuration. */
class WebSocketSettingsTest {

    @Test
    void defaultsAreBelowTcpAndFarBelowIntegerMax() throws Exception {
        WebSocketSettings d = WebSocketSettings.defaults();
        assertThat(d.priority()).as("below tcp (100) and quic (200)").isLessThan(100);
        assertThat(d.maxFrameSize()).isLessThanOrEqualTo(d.maxMessageSize());
        assertThat((long) d.maxMessageSize()).isLessThanOrEqualTo(WebSocketSettings.MAX_MESSAGE_CEILING)
                .isLessThan(Integer.MAX_VALUE / 100);
        assertThat(d.deflate()).as("permessage-deflate is off by default").isFalse();
        assertThat(d.path()).isEqualTo("/kizuna");

        WebSocketTransport t = new WebSocketTransport(Identities.generate(), d);
        try {
            assertThat(t.protocolName()).isEqualTo("websocket");
            assertThat(t.priority()).isEqualTo(50);
            assertThat(t.capabilities()).isEqualTo(TransportCapabilities.STREAM);
            assertThat(t.isAvailable()).isTrue();
        } finally {
            t.deactivate();
        }
        assertThat(t.isAvailable()).isFalse();
        assertThat(t.unavailableReason()).hasValueSatisfying(r -> assertThat(r).contains("stopped"));
    }

    @Test
    void badValuesAreNamed() {
        WebSocketSettings d = WebSocketSettings.defaults();
        assertThatThrownBy(() -> d.withMaxConnections(0)).hasMessageContaining("maxConnections=0");
        assertThatThrownBy(() -> d.withKeepAlive(1000, 1000)).hasMessageContaining("deadPeerTimeoutMillis");
        assertThatThrownBy(() -> new WebSocketSettings(50, "kizuna", 128, 1, 1, 1, 1, 1, 1, 1, false, 1, 2, 2, 1, 1,
                0, 1)).hasMessageContaining("path=kizuna");
        assertThatThrownBy(() -> new WebSocketSettings(50, "/k", 128, 1, 1, 1, 1, 2, 1, 1, false, 1, 2, 2, 1, 1,
                0, 1)).hasMessageContaining("maxFrameSize=2");
        assertThatThrownBy(() -> new WebSocketSettings(50, "/k", 128, 1, 1, 1, 1, 1, Integer.MAX_VALUE, 1, false,
                1, 2, 2, 1, 1, 0, 1)).hasMessageContaining("maxMessageSize");
    }
}
