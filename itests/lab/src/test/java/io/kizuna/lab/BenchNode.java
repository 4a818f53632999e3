package io.kizuna.lab;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kizuna nodes of the assembled distribution, run inside a lab namespace: a
 * listening daemon, and command runs ({@code -c}) against it whose output and
 * CPU time are returned.
 */
final class BenchNode {

    private static final Pattern READY = Pattern.compile("node ready: (\\S+)");
    /** What bash's {@code times} prints for the children: user then system, e.g. {@code 0m1.250s 0m0.310s}. */
    private static final Pattern TIMES = Pattern.compile("(\\d+)m([\\d.]+)s (\\d+)m([\\d.]+)s\\s*$");

    private final Lab lab;
    private final Path launcher;

    /**
     * @param lab  the lab
     * @param dist the assembled distribution ({@code runtime/target/kizuna})
     */
    BenchNode(Lab lab, Path dist) {
        this.lab = lab;
        this.launcher = dist.resolve("bin/kizuna");
        if (!Files.isExecutable(launcher)) {
            throw new Lab.LabException("no Kizuna distribution at " + dist + ": build it first (mvn install -pl runtime -am)");
        }
    }

    /**
     * A node started as a daemon.
     *
     * @param process its process ({@code ip netns exec} replaces itself with the JVM, so this is the JVM)
     * @param address the address peers dial
     * @param log     its output
     */
    record Daemon(Process process, String address, Path log) {

        /** @return CPU seconds the node has used so far, from /proc */
        double cpuSeconds() {
            return Bench.cpuSeconds(process.pid());
        }

        /** @return the peer id part of the address */
        String peerId() {
            return address.substring(0, address.indexOf('@'));
        }
    }

    /**
     * A finished command run.
     *
     * @param output     what the node printed
     * @param cpuSeconds user plus system CPU seconds of the node's JVM
     */
    record Run(String output, double cpuSeconds) { }

    /**
     * Starts a daemon and waits until it listens.
     *
     * @param ns     the namespace
     * @param home   its home folder, with {@code etc/} configuration if any
     * @param listen its listen endpoints, comma-separated
     * @param more   more launcher arguments, e.g. {@code --relay}
     * @return the running node
     */
    Daemon start(String ns, Path home, String listen, String... more) {
        return start(ns, home, listen, List.of(), more);
    }

    /**
     * Starts a daemon with JVM options and waits until it listens.
     *
     * @param ns      the namespace
     * @param home    its home folder
     * @param listen  its listen endpoints, comma-separated
     * @param jvm     JVM options (the launcher's JAVA_OPTS), e.g. {@code -XX:NativeMemoryTracking=summary}
     * @param more    more launcher arguments
     * @return the running node
     */
    Daemon start(String ns, Path home, String listen, List<String> jvm, String... more) {
        Path log = home.resolveSibling(home.getFileName() + ".log");
        try {
            Files.createDirectories(home);
        } catch (IOException e) {
            throw new Lab.LabException("cannot create " + home + ": " + e);
        }
        // env and the launcher replace themselves with the JVM: the process is still the JVM
        List<String> cmd = new ArrayList<>(List.of("env", "JAVA_OPTS=" + String.join(" ", jvm), launcher.toString(),
                "--home", home.toString(), "--listen", listen));
        cmd.addAll(List.of(more));
        Process p = lab.start(ns, log, cmd.toArray(String[]::new));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            Matcher m = READY.matcher(read(log));
            if (m.find()) {
                return new Daemon(p, m.group(1), log);
            }
            if (!p.isAlive()) {
                throw new Lab.LabException("the node in " + ns + " exited with " + p.exitValue() + ":\n" + read(log));
            }
            Bench.pause(100);
        }
        throw new Lab.LabException("the node in " + ns + " was not ready within 120 s:\n" + read(log));
    }

    /**
     * Runs a node with commands until they finish.
     *
     * @param ns       the namespace
     * @param home     its home folder
     * @param listen   its listen endpoints
     * @param seconds  how long it may take
     * @param commands Gogo commands, run in order; the first that fails ends the run
     * @return its output and CPU time
     */
    Run run(String ns, Path home, String listen, long seconds, List<String> commands) {
        // bash's times reports the CPU of the finished child: the JVM, start-up included
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "\"$@\"; s=$?; times; exit $s", "node",
                launcher.toString(), "--home", home.toString(), "--listen", listen, "-c", String.join("; ", commands)));
        Lab.Result r = lab.runFor(ns, seconds, cmd.toArray(String[]::new));
        if (r.exit() != 0) {
            throw new Lab.LabException("node commands " + commands + " in " + ns + " exited with " + r.exit() + ":\n"
                    + r.output());
        }
        List<String> lines = r.output().strip().lines().toList();
        Matcher m = TIMES.matcher(lines.get(lines.size() - 1));
        if (!m.find()) {
            throw new Lab.LabException("no CPU times at the end of:\n" + r.output());
        }
        double cpu = 60 * Double.parseDouble(m.group(1)) + Double.parseDouble(m.group(2))
                + 60 * Double.parseDouble(m.group(3)) + Double.parseDouble(m.group(4));
        return new Run(r.output(), cpu);
    }

    static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            throw new Lab.LabException("cannot read " + log + ": " + e);
        }
    }
}
