package io.kizuna.runtime;

import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@code kizuna} command: starts a node from the distribution this jar
 * belongs to. See {@link Options#USAGE}.
 */
public final class Main {

    /** System property naming the distribution folder; set by {@code bin/kizuna}. */
    static final String DIST_PROPERTY = "kizuna.dist";

    private Main() {
    }

    /**
     * @param args the command line
     */
    public static void main(String[] args) {
        // Gogo replaces System.out/err while it runs; keep the process's own streams.
        PrintStream out = System.out;
        PrintStream err = System.err;
        int status;
        try {
            Options options = Options.parse(args, System.getenv("KIZUNA_HOME"), Path.of(System.getProperty("user.home")));
            if (options.help()) {
                out.println(Options.USAGE);
                status = 0;
            } else {
                Launcher.Mode mode = options.commands().isPresent() ? Launcher.Mode.COMMANDS
                        : System.console() != null ? Launcher.Mode.SHELL : Launcher.Mode.DAEMON;
                if (options.commands().isPresent()) {
                    try {
                        Scripts.split(options.commands().get());
                    } catch (IllegalArgumentException e) {
                        throw new Options.UsageException("-c: " + e.getMessage());
                    }
                }
                status = new Launcher(options, distribution(), mode, out, err).run();
            }
        } catch (Options.UsageException e) {
            err.println("kizuna: " + e.getMessage());
            err.println("kizuna: try --help");
            status = 2;
        } catch (LaunchException e) {
            err.println("kizuna: " + e.getMessage());
            status = 1;
        }
        out.flush();
        err.flush();
        Logs.close();
        System.exit(status);
    }

    private static Path distribution() throws LaunchException {
        String configured = System.getProperty(DIST_PROPERTY);
        Path dist;
        if (configured != null && !configured.isBlank()) {
            dist = Path.of(configured);
        } else {
            try {
                // lib/<this jar> inside the distribution
                Path jar = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
                dist = jar.getParent().getParent();
            } catch (URISyntaxException | RuntimeException e) {
                throw new LaunchException("cannot tell where the distribution is; set -D" + DIST_PROPERTY + "=DIR");
            }
        }
        dist = dist.toAbsolutePath().normalize();
        if (!Files.isDirectory(dist.resolve("bundle"))) {
            throw new LaunchException("no bundle/ folder in " + dist + ": the distribution is incomplete; rebuild it");
        }
        return dist;
    }
}
