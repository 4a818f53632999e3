package io.kizuna.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogsTest {

    @TempDir
    Path logs;

    @Test
    void theLogFileRotatesAtItsLimitAndKeepsFiveOldOnes() throws Exception {
        Logs.RotatingFileHandler h = new Logs.RotatingFileHandler(logs, 1000);
        h.setFormatter(new Logs.LineFormatter(true));
        for (int i = 0; i < 200; i++) {
            h.publish(new LogRecord(Level.INFO, "line " + i + " " + "x".repeat(40)));
        }
        h.close();
        assertThat(logs.resolve("kizuna.log")).exists();
        for (int i = 1; i <= 5; i++) {
            assertThat(logs.resolve("kizuna.log." + i)).exists();
            assertThat(Files.size(logs.resolve("kizuna.log." + i))).isBetween(1000L, 1200L);
        }
        assertThat(logs.resolve("kizuna.log.6")).doesNotExist();
        assertThat(Files.readString(logs.resolve("kizuna.log"))).contains("line 199");
        assertThat(Files.size(logs.resolve("kizuna.log"))).isLessThan(1200L);
    }

    @Test
    void linesCarryTimeLevelLoggerAndStackTraceOnlyInTheFile() {
        LogRecord r = new LogRecord(Level.WARNING, "it broke");
        r.setLoggerName("io.kizuna.tcp.internal.TcpTransport");
        r.setThrown(new IllegalStateException("why"));
        String file = new Logs.LineFormatter(true).format(r);
        String console = new Logs.LineFormatter(false).format(r);
        assertThat(file).contains(" WARNING TcpTransport: it broke").contains("\tat ");
        assertThat(console).contains(" WARNING TcpTransport: it broke (java.lang.IllegalStateException: why)")
                .doesNotContain("\tat ");
        assertThat(console.lines()).hasSize(1);
    }

    @Test
    void theConsoleShowsTheRootCause() {
        LogRecord r = new LogRecord(Level.SEVERE, "component failed");
        r.setThrown(new RuntimeException("wrapper", new IllegalArgumentException("port 70000 is outside 0-65535")));
        assertThat(new Logs.LineFormatter(false).format(r))
                .contains("component failed (java.lang.IllegalArgumentException: port 70000 is outside 0-65535)");
    }
}
