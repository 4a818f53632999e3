package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;

class OptionsTest {

    private static final Path USER = Path.of("/home/someone");

    @Test
    void defaultsToTheHomeFolderInTheUsersHome() throws Exception {
        Options o = Options.parse(new String[0], null, USER);
        assertThat(o.home()).isEqualTo(Path.of("/home/someone/.kizuna"));
        assertThat(o.listen()).isEmpty();
        assertThat(o.commands()).isEmpty();
        assertThat(o.readyTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(o.help()).isFalse();
    }

    @Test
    void environmentSetsTheHomeAndTheOptionOverridesIt() throws Exception {
        assertThat(Options.parse(new String[0], "/srv/node", USER).home()).isEqualTo(Path.of("/srv/node"));
        assertThat(Options.parse(new String[] {"--home", "/tmp/a"}, "/srv/node", USER).home())
                .isEqualTo(Path.of("/tmp/a"));
        assertThat(Options.parse(new String[] {"--home=~/n1"}, null, USER).home())
                .isEqualTo(Path.of("/home/someone/n1"));
    }

    @Test
    void listenIsRepeatableAndCommaSeparated() throws Exception {
        Options o = Options.parse(new String[] {"--listen", "tcp://127.0.0.1:7400",
                "--listen=tcp://[::1]:7400,quic://0.0.0.0:0", "-c", "kizuna:id", "--wait", "5"}, null, USER);
        assertThat(o.listen()).containsExactly("tcp://127.0.0.1:7400", "tcp://[::1]:7400", "quic://0.0.0.0:0");
        assertThat(o.commands()).contains("kizuna:id");
        assertThat(o.readyTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void relayServiceAndRelayEndpoints() throws Exception {
        String relay = "a".repeat(51) + "q";
        Options o = Options.parse(new String[] {"--relay", "--listen", "relay://" + relay + "@tcp://203.0.113.1:7400"},
                null, USER);
        assertThat(o.relay()).isTrue();
        assertThat(o.listen()).containsExactly("relay://" + relay + "@tcp://203.0.113.1:7400");
        assertThat(Options.parse(new String[0], null, USER).relay()).isFalse();
        assertThatThrownBy(() -> Options.parse(new String[] {"--listen", "relay://nope@tcp://127.0.0.1:1"}, null,
                USER)).hasMessageContaining("is not an endpoint");
    }

    @Test
    void badArgumentsAreNamed() {
        assertThatThrownBy(() -> Options.parse(new String[] {"--listen", "127.0.0.1:7400"}, null, USER))
                .hasMessageContaining("'127.0.0.1:7400' is not an endpoint");
        assertThatThrownBy(() -> Options.parse(new String[] {"--listen", "tcp://localhost:7400"}, null, USER))
                .hasMessageContaining("with an IP address");
        assertThatThrownBy(() -> Options.parse(new String[] {"--home"}, null, USER))
                .hasMessage("--home needs a value");
        assertThatThrownBy(() -> Options.parse(new String[] {"--frobnicate"}, null, USER))
                .hasMessage("unknown argument '--frobnicate'");
        assertThatThrownBy(() -> Options.parse(new String[] {"--wait", "0"}, null, USER))
                .hasMessageContaining("from 1 to 3600");
        assertThatThrownBy(() -> Options.parse(new String[] {"-c", "a", "-c", "b"}, null, USER))
                .hasMessageContaining("-c given twice");
    }

    @Test
    void helpIsRecognised() throws Exception {
        assertThat(Options.parse(new String[] {"--help"}, null, USER).help()).isTrue();
        assertThat(Options.USAGE).contains("--home DIR", "--listen ENDPOINT", "-c COMMANDS");
    }

    @Test
    void listenEndpointsAreBounded() {
        String[] args = new String[2 * (Options.MAX_LISTEN + 1)];
        for (int i = 0; i < Options.MAX_LISTEN + 1; i++) {
            args[2 * i] = "--listen";
            args[2 * i + 1] = "tcp://127.0.0.1:" + (7000 + i);
        }
        assertThatThrownBy(() -> Options.parse(args, null, USER)).hasMessageContaining("at most 64");
        assertThat(List.of(args)).hasSize(130);
    }
}
