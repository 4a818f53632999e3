package io.kizuna.shell.internal.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;

import org.junit.jupiter.api.Test;

class UnitsTest {

    @Test
    void bytesUseBinaryUnits() {
        assertThat(Units.bytes(0)).isEqualTo("0 B");
        assertThat(Units.bytes(1023)).isEqualTo("1023 B");
        assertThat(Units.bytes(1536)).isEqualTo("1.5 KiB");
        assertThat(Units.bytes(64L << 20)).isEqualTo("64.0 MiB");
        assertThat(Units.bytes(1L << 30)).isEqualTo("1.0 GiB");
    }

    @Test
    void timesKeepPrecisionForSmallValues() {
        assertThat(Units.time(Duration.ofNanos(213_456))).isEqualTo("0.213 ms");
        assertThat(Units.time(Duration.ofMillis(42))).isEqualTo("42.0 ms");
        assertThat(Units.time(Duration.ofMillis(12_345))).isEqualTo("12.35 s");
        assertThat(Units.millis(Duration.ofNanos(1_500_000))).isEqualTo("1.500");
        assertThat(Units.seconds(Duration.ofMillis(512))).isEqualTo("0.512 s");
    }

    @Test
    void agesAreCompact() {
        assertThat(Units.age(Duration.ofSeconds(42))).isEqualTo("42s");
        assertThat(Units.age(Duration.ofSeconds(185))).isEqualTo("3m05s");
        assertThat(Units.age(Duration.ofMinutes(127))).isEqualTo("2h07m");
        assertThat(Units.age(Duration.ofHours(99))).isEqualTo("4d03h");
        assertThat(Units.age(Duration.ofSeconds(-3))).isEqualTo("0s");
    }

    @Test
    void ratesSwitchUnits() {
        assertThat(Units.rate(5e5)).isEqualTo("500.0 kbit/s");
        assertThat(Units.rate(950.34e6)).isEqualTo("950.3 Mbit/s");
        assertThat(Units.rate(2.414e9)).isEqualTo("2.41 Gbit/s");
    }

    @Test
    void sizesAcceptBinarySuffixes() {
        long max = 64L << 30;
        assertThat(Units.parseSize("1000", max)).isEqualTo(1000);
        assertThat(Units.parseSize("64K", max)).isEqualTo(64L << 10);
        assertThat(Units.parseSize("64m", max)).isEqualTo(64L << 20);
        assertThat(Units.parseSize("8MiB", max)).isEqualTo(8L << 20);
        assertThat(Units.parseSize("1GB", max)).isEqualTo(1L << 30);
        assertThat(Units.parseSize(" 2G ", max)).isEqualTo(2L << 30);
        assertThat(Units.parseSize("64G", max)).isEqualTo(max);
    }

    @Test
    void badSizesAreRefusedWithTheAcceptedForm() {
        long max = 64L << 30;
        assertThatThrownBy(() -> Units.parseSize("lots", max)).hasMessageContaining("'lots' is not understood")
                .hasMessageContaining("64M or 1G");
        assertThatThrownBy(() -> Units.parseSize("1.5G", max)).hasMessageContaining("not understood");
        assertThatThrownBy(() -> Units.parseSize("-1", max)).hasMessageContaining("not understood");
        assertThatThrownBy(() -> Units.parseSize("0", max)).hasMessageContaining("at least 1 byte");
        assertThatThrownBy(() -> Units.parseSize("65G", max)).hasMessageContaining("too large")
                .hasMessageContaining("64.0 GiB");
        assertThatThrownBy(() -> Units.parseSize("9999999999999999999T", max)).hasMessageContaining("too large");
        assertThatThrownBy(() -> Units.parseSize(null, max)).hasMessageContaining("not understood");
    }
}
