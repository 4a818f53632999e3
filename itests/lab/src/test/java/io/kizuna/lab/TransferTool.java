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

    private static final Pattern LISTENING = Pattern.compile("listening (\\S+)");

    /**
     * The two ends of one transfer.
     *
     * @param listener  the listener's process, in the server site
     * @param dialer    the dialer's process, in the client site
     * @param listenLog the listener's output
     * @param dialLog   the dialer's output
     */
    record Ends(Process listener, Process dialer, Path listenLog, Path dialLog) {

        /**
         * @param upload whether the dialer sent
         * @return the receiving end's process
         */
        Process receiver(boolean upload) {
            return upload ? listener : dialer;
        }

        /**
         * @param upload whether the dialer sent
         * @return the receiving end's output
         */
        Path receiverLog(boolean upload) {
            return upload ? listenLog : dialLog;
        }
    }

    private TransferTool() {
    }

    /**
     * Starts a listener in the server site's client namespace and, once it listens, a dialer in the client site's.
     *
     * @param lab        the lab
     * @param server     the listener's site
     * @param client     the dialer's site
     * @param port       the listener's UDP port
     * @param upload     whether the dialer sends (otherwise the listener sends)
     * @param bytes      how many bytes the sender sends
     * @param tag        names the two logs in the lab's work folder
     * @param jvmOptions further JVM options for both ends, may be empty
     * @return the two processes and their logs
     */
    static Ends start(Lab lab, Lab.Site server, Lab.Site client, int port, boolean upload, long bytes, String tag,
            List<String> jvmOptions) throws Exception {
        Path listenLog = lab.work().resolve("listener" + tag + ".log");
        Path dialLog = lab.work().resolve("dialer" + tag + ".log");
        Process listener = lab.start(server.client(), listenLog, upload
                ? command(jvmOptions, "listen", server.clientIp(), "" + port, "receive")
                : command(jvmOptions, "listen", server.clientIp(), "" + port, "send", "" + bytes));
        Matcher address = await(listenLog, LISTENING, listener);
        Process dialer = lab.start(client.client(), dialLog, upload
                ? command(jvmOptions, "dial", address.group(1), "send", "" + bytes)
                : command(jvmOptions, "dial", address.group(1), "receive"));
        return new Ends(listener, dialer, listenLog, dialLog);
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
