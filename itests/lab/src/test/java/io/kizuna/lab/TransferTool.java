package io.kizuna.lab;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Launches quic's {@code QuicTransferTool} (from its test-jar on this classpath)
 * as a process of its own, printing quiche's counters every second, and waits
 * for lines in its log.
 */
final class TransferTool {

    private TransferTool() {
    }

    /**
     * @param jvmOptions further JVM options, may be empty
     * @param args       the tool's arguments
     * @return the command line
     */
    static String[] command(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-Dquic.tool.stats=true"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.kizuna.quic.internal.QuicTransferTool"));
        cmd.addAll(List.of(args));
        return cmd.toArray(String[]::new);
    }

    /** Waits for a line in a process's log, up to three minutes, failing with the log when the process ends first. */
    static Matcher await(Path log, Pattern pattern, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log) : "";
            Matcher m = pattern.matcher(text);
            if (m.find()) {
                return m;
            }
            if (!p.isAlive()) {
                throw new AssertionError("the process ended (" + p.exitValue() + ") before '" + pattern + "':\n" + text);
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + pattern + "' in " + log + " within 3 minutes");
    }
}
