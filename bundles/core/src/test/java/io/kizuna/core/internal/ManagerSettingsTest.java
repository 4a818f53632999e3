package io.kizuna.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.annotation.Annotation;
import java.time.Duration;
import java.util.Map;

import io.kizuna.transport.Endpoint;

import org.junit.jupiter.api.Test;

class ManagerSettingsTest {

    /** A configuration with the defaults, except the values given. */
    private static ManagerConfig config(Map<String, Object> values) {
        return (ManagerConfig) java.lang.reflect.Proxy.newProxyInstance(ManagerConfig.class.getClassLoader(),
                new Class<?>[] {ManagerConfig.class}, (proxy, method, args) -> {
                    if (method.getName().equals("annotationType")) {
                        return ManagerConfig.class;
                    }
                    if (values.containsKey(method.getName())) {
                        return values.get(method.getName());
                    }
                    Object d = method.getDefaultValue();
                    if (d == null) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    return d;
                });
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        ManagerSettings s = ManagerSettings.from(config(Map.of()), null);
        assertThat(s.listen()).containsExactly(Endpoint.parse("tcp://127.0.0.1:7400"),
                Endpoint.parse("quic://127.0.0.1:7400"),
                Endpoint.parse("websocket://127.0.0.1:7443"));
        assertThat(s.staggerDelay()).isEqualTo(Duration.ofMillis(250));
        assertThat(s.connectTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(s.minConnectTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(s.maxFrameSize()).isEqualTo(64 * 1024);
        assertThat(s.maxPerfBytes()).isEqualTo(16L * 1024 * 1024 * 1024);
        assertThat(s.jmxName()).isEqualTo("io.kizuna:type=ConnectionManager");
        assertThat(s.upgradeRelayed()).isTrue();
        assertThat(s.upgradeAttempts()).isEqualTo(3);
        assertThat(s.upgradeRetryDelay()).isEqualTo(Duration.ofSeconds(10));
        assertThat(ManagerConfig.class.isAnnotation()).isTrue();
        assertThat(Annotation.class.isAssignableFrom(ManagerConfig.class)).isTrue();
    }

    @Test
    void theFrameworkPropertyReplacesTheConfiguredEndpoints() {
        ManagerSettings s = ManagerSettings.from(config(Map.of("listen", new String[] {"tcp://127.0.0.1:1"})),
                " tcp://0.0.0.0:0 , memory://127.0.0.1:0,,");
        assertThat(s.listen()).containsExactly(Endpoint.parse("tcp://0.0.0.0:0"),
                Endpoint.parse("memory://127.0.0.1:0"));
        assertThat(ManagerSettings.from(config(Map.of("listen", new String[] {"tcp://127.0.0.1:1"})), "  ").listen())
                .containsExactly(Endpoint.parse("tcp://127.0.0.1:1"));
    }

    @Test
    void aConfiguredListMayArriveAsOneCommaSeparatedString() {
        // FileInstall (Karaf's etc/, the runtime's live changes) hands "a, b" to DS as one String: String[]{"a, b"}
        ManagerSettings s = ManagerSettings.from(config(Map.of("listen",
                new String[] {"tcp://127.0.0.1:1, quic://127.0.0.1:2,", " websocket://127.0.0.1:3"})), null);
        assertThat(s.listen()).containsExactly(Endpoint.parse("tcp://127.0.0.1:1"),
                Endpoint.parse("quic://127.0.0.1:2"), Endpoint.parse("websocket://127.0.0.1:3"));
    }

    @Test
    void badValuesNameTheirSourceAndTheExpectedRange() {
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of()), "tcp://localhost:7400"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kizuna.listen")
                .hasMessageContaining("not an IP address");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("listen", new String[] {"7400"})), null))
                .hasMessageContaining("configuration io.kizuna.core listen");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("maxFrameSize", 100)), null))
                .hasMessageContaining("maxFrameSize is 100").hasMessageContaining("8192");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("maxConnections", 0)), null))
                .hasMessageContaining("maxConnections is 0, expected at least 1");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("staggerDelayMillis", -5)), null))
                .hasMessageContaining("staggerDelayMillis");
        assertThat(ManagerSettings.from(config(Map.of("idleTimeoutSeconds", 0)), null).idleTimeout())
                .as("0 never closes idle connections").isZero();
    }

    @Test
    void upgradeRetriesAreBoundedAndTheirWaitsDouble() {
        ManagerSettings s = ManagerSettings.from(config(Map.of()), null);
        assertThat(s.upgradeBackoff(1)).isEqualTo(Duration.ofSeconds(10));
        assertThat(s.upgradeBackoff(2)).isEqualTo(Duration.ofSeconds(20));
        assertThat(s.upgradeBackoff(9)).as("capped").isEqualTo(Duration.ofMinutes(10));
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("upgradeAttempts", 0)), null))
                .hasMessageContaining("upgradeAttempts is 0, expected 1 (no retry) to 10");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("upgradeAttempts", 11)), null))
                .hasMessageContaining("upgradeAttempts is 11");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("upgradeRetryDelayMillis", 0)), null))
                .hasMessageContaining("upgradeRetryDelayMillis");
        assertThatThrownBy(() -> ManagerSettings.from(config(Map.of("upgradeRetryDelayMillis", 600_001)), null))
                .hasMessageContaining("upgradeRetryDelayMillis is 600001 ms, expected at most 600000 ms");
    }
}
