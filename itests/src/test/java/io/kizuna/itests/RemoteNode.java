package io.kizuna.itests;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import io.kizuna.transport.PeerAddress;

/**
 * A second Kizuna node in its own JVM, started from the runtime's Felix
 * distribution as a user would ({@code bin/kizuna --home DIR --listen ...}, no
 * terminal, so it runs as a daemon), with the echo test bundle added.
 *
 * <p>It listens on a free loopback port; {@link #address()} is what it logged as
 * "node ready". {@link #echoEvents()} tells how the echo streams ended on its
 * side. {@link #close()} sends SIGTERM, as an operator would, and waits.
 */
final class RemoteNode implements AutoCloseable {

    static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final String READY = "node ready: ";

    private final Path folder;
    private final Path home;
    private final Path output;
    private final Process process;
    private final PeerAddress address;

    private RemoteNode(Path folder, Path home, Path output, Process process, PeerAddress address) {
        this.folder = folder;
        this.home = home;
        this.output = output;
        this.process = process;
        this.address = address;
    }

    /**
     * Starts a node and waits until it is ready.
     *
     * @param name names its folder under the work folder
     * @return the running node
     */
    static RemoteNode start(String name) throws IOException {
        return start(name, "tcp://127.0.0.1:0");
    }

    /**
     * Starts a node listening on the given endpoints and waits until it is ready.
     *
     * @param name   names its folder under the work folder
     * @param listen the endpoints, comma-separated, as {@code --listen} takes them
     * @return the running node
     */
    static RemoteNode start(String name, String listen) throws IOException {
        return start(name, listen, java.util.Map.of());
    }

    /**
     * Starts a node with configuration files in its home and extra launcher arguments.
     *
     * @param name   names its folder under the work folder
     * @param listen the endpoints, comma-separated, as {@code --listen} takes them
     * @param etc    files for {@code <home>/etc}: name (e.g. {@code io.kizuna.relay.cfg}) to content
     * @param args   more launcher arguments, e.g. {@code --relay}
     * @return the running node
     */
    static RemoteNode start(String name, String listen, java.util.Map<String, String> etc, String... args)
            throws IOException {
        return start(name, listen, etc, List.of(), args);
    }

    /**
     * Starts a node with configuration files and plug-in bundles in its home.
     *
     * @param name   names its folder under the work folder
     * @param listen the endpoints, comma-separated, as {@code --listen} takes them
     * @param etc    files for {@code <home>/etc}: name to content
     * @param deploy jars copied into {@code <home>/deploy} before it starts (FileInstall installs them)
     * @param args   more launcher arguments
     * @return the running node
     */
    static RemoteNode start(String name, String listen, java.util.Map<String, String> etc, List<Path> deploy,
            String... args) throws IOException {
        Path dist = Path.of(Itest.property(Itest.DIST));
        if (!Files.isRegularFile(dist.resolve("bin/kizuna")) || !Files.isDirectory(dist.resolve("bundle"))) {
            throw new AssertionError("no runtime distribution at " + dist
                    + ": build the runtime module first (cd runtime && mvn install)");
        }
        Path folder = Itest.workFolder(name);
        Path copy = folder.resolve("dist");
        copyTree(dist, copy);
        Path echo = Path.of(Itest.property(Itest.ECHO_BUNDLE));
        Files.copy(echo, copy.resolve("bundle").resolve("itest-echo.jar"), StandardCopyOption.REPLACE_EXISTING);
        copy.resolve("bin/kizuna").toFile().setExecutable(true);
        Path home = folder.resolve("home");
        Path output = folder.resolve("node.out");
        for (java.util.Map.Entry<String, String> f : etc.entrySet()) {
            Files.createDirectories(home.resolve("etc"));
            Files.writeString(home.resolve("etc").resolve(f.getKey()), f.getValue(), StandardCharsets.UTF_8);
        }
        for (Path jar : deploy) {
            Files.createDirectories(home.resolve("deploy"));
            Files.copy(jar, home.resolve("deploy").resolve(jar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        }
        List<String> command = new java.util.ArrayList<>(List.of(copy.resolve("bin/kizuna").toString(), "--home",
                home.toString(), "--listen", listen, "--wait", String.valueOf(START_TIMEOUT.toSeconds())));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().put("JAVA_OPTS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1");
        pb.environment().remove("KIZUNA_HOME");
        pb.redirectErrorStream(true).redirectOutput(output.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE);
        Process p = pb.start();
        // if this JVM is killed before the test closes the node, the node must not outlive it
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly, "stop-" + name));
        try {
            String ready = await("node " + name + " to log '" + READY + "' in " + output).atMost(START_TIMEOUT)
                    .pollInterval(Duration.ofMillis(50))
                    .until(() -> readyLine(output, p), Optional::isPresent).orElseThrow();
            return new RemoteNode(folder, home, output, p, PeerAddress.parse(ready));
        } catch (RuntimeException | Error e) {
            stop(p);
            throw new AssertionError("node " + name + " did not start: " + e.getMessage() + "\n--- its output:\n"
                    + read(output), e);
        }
    }

    private static Optional<String> readyLine(Path output, Process p) {
        String text = read(output);
        int i = text.indexOf(READY);
        if (i >= 0) {
            int end = text.indexOf('\n', i);
            if (end > 0) {
                return Optional.of(text.substring(i + READY.length(), end).trim());
            }
        }
        if (!p.isAlive()) {
            throw new AssertionError("the node exited with status " + p.exitValue() + " before it was ready");
        }
        return Optional.empty();
    }

    /** @return the node's address: its PeerId and loopback TCP endpoint */
    PeerAddress address() {
        return address;
    }

    /** @return the node's home folder */
    Path home() {
        return home;
    }

    /** @return the lines the echo handler recorded: {@code open|eof|failed <n> <peer> ...} */
    List<String> echoEvents() {
        Path f = home.resolve("echo-events.log");
        if (!Files.exists(f)) {
            return List.of();
        }
        return List.of(read(f).split("\n")).stream().filter(l -> !l.isBlank()).toList();
    }

    /** @return what the node printed so far */
    String output() {
        return read(output) + "\n--- log:\n" + read(home.resolve("logs/kizuna.log"));
    }

    /** @return whether the process still runs */
    boolean isAlive() {
        return process.isAlive();
    }

    /** Stops the node with SIGTERM, as an operator would, and waits for it to exit. */
    @Override
    public void close() {
        stop(process);
    }

    /** @return the node's exit status; call after {@link #close()} */
    int exitValue() {
        return process.exitValue();
    }

    private static void stop(Process p) {
        // a test that timed out arrives here interrupted: stop anyway, then keep the interrupt
        boolean interrupted = Thread.interrupted();
        p.destroy();
        try {
            if (!p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            interrupted = true;
            p.destroyForcibly();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static String read(Path f) {
        try {
            return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read " + f + ": " + e + ")";
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path src : (Iterable<Path>) files::iterator) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    @Override
    public String toString() {
        return "node " + folder.getFileName() + " " + address;
    }
}
