package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigsTest {

    @TempDir
    Path dir;

    @Test
    void homeOverridesTheDefaultsKeyByKey() throws Exception {
        Path defaults = Files.createDirectories(dir.resolve("dist/etc"));
        Path home = Files.createDirectories(dir.resolve("home/etc"));
        Files.writeString(defaults.resolve("io.kizuna.core.cfg"), "# defaults\nlisten = tcp://0.0.0.0:7400\nraceDelayMillis=250\n");
        Files.writeString(defaults.resolve("io.kizuna.tcp.cfg"), "backlog=128\n");
        Files.writeString(home.resolve("io.kizuna.core.cfg"), "listen=tcp://127.0.0.1:7401\n");
        Files.writeString(home.resolve("io.kizuna.relay-eu.cfg"), "url=wss://relay.example\n");
        Files.writeString(home.resolve("notes.txt"), "ignored");
        Files.writeString(defaults.resolve("io.kizuna.identity.cfg"), "# only comments\n# keyFile = x\n");

        List<Configs.Config> configs = Configs.read(defaults, home, dir.resolve("missing"));

        assertThat(configs).extracting(Configs.Config::label)
                .containsExactly("io.kizuna.core", "io.kizuna.relay~eu", "io.kizuna.tcp");
        assertThat(configs.get(0).properties())
                .isEqualTo(Map.of("listen", "tcp://127.0.0.1:7401", "raceDelayMillis", "250"));
        assertThat(configs.get(0).sources()).containsExactly(defaults.resolve("io.kizuna.core.cfg"),
                home.resolve("io.kizuna.core.cfg"));
        assertThat(configs.get(1).pid()).isEqualTo("io.kizuna.relay");
        assertThat(configs.get(1).name()).isEqualTo("eu");
        assertThat(configs.get(2).properties()).isEqualTo(Map.of("backlog", "128"));
    }

    @Test
    void aListOfEndpointsBecomesAnArray() {
        assertThat(Configs.typed("tcp://127.0.0.1:7400, tcp://[::1]:7400"))
                .isEqualTo(new String[] {"tcp://127.0.0.1:7400", "tcp://[::1]:7400"});
        assertThat(Configs.typed("tcp://127.0.0.1:7400")).isEqualTo("tcp://127.0.0.1:7400");
        assertThat(Configs.typed("a, b")).isEqualTo("a, b");
        assertThat(Configs.typed("tcp://127.0.0.1:7400, not an endpoint")).isEqualTo("tcp://127.0.0.1:7400, not an endpoint");
        assertThat(Configs.typed("250")).isEqualTo("250");
    }

    @Test
    void eachFileOfAFolderIsReadOnItsOwnCommentsOnlyIncluded() throws Exception {
        Path home = Files.createDirectories(dir.resolve("home/etc"));
        Files.writeString(home.resolve("io.kizuna.core.cfg"), "listen = tcp://127.0.0.1:7401 \n");
        Files.writeString(home.resolve("io.kizuna.tcp.cfg"), "# nothing set\n");
        Files.writeString(home.resolve("io.kizuna.relay-eu.cfg"), "url=wss://relay.example\n");

        List<Configs.Config> each = Configs.readEach(home);

        assertThat(each).extracting(Configs.Config::label)
                .containsExactly("io.kizuna.core", "io.kizuna.relay~eu", "io.kizuna.tcp");
        assertThat(each.get(0).properties()).isEqualTo(Map.of("listen", "tcp://127.0.0.1:7401"));
        assertThat(each.get(2).properties()).isEmpty();
        assertThat(each.get(2).sources()).containsExactly(home.resolve("io.kizuna.tcp.cfg"));
        assertThat(Configs.readEach(dir.resolve("missing"))).isEmpty();
    }

    @Test
    void theDistributionsValuesGoUnderAConfigurationAndEndpointListsBecomeArrays() {
        java.util.Hashtable<String, Object> fromFile = new java.util.Hashtable<>();
        fromFile.put("service.pid", "io.kizuna.core");
        fromFile.put("listen", "tcp://127.0.0.1:7401, unix://127.0.0.1:7402");
        fromFile.put("maxStreams", "10");

        Configs.layer(fromFile, Map.of("maxStreams", "99", "idleTimeoutSeconds", "60"));

        assertThat(fromFile.get("listen"))
                .isEqualTo(new String[] {"tcp://127.0.0.1:7401", "unix://127.0.0.1:7402"});
        assertThat(fromFile).containsEntry("maxStreams", "10").containsEntry("idleTimeoutSeconds", "60")
                .containsEntry("service.pid", "io.kizuna.core");
    }
}
