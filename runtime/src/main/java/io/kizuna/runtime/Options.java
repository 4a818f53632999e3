package io.kizuna.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The launcher's command line.
 *
 * @param home     the node's home folder: identity key, configuration, logs, cache
 * @param listen   listen endpoints that override the configured ones; empty keeps the configuration
 * @param commands Gogo commands to run instead of a shell or a daemon
 * @param readyTimeout how long to wait for the node to be up and listening
 * @param help     whether only the usage was asked for
 * @param relay    whether to serve as a relay for other peers ({@code --relay})
 */
record Options(Path home, List<String> listen, Optional<String> commands, Duration readyTimeout, boolean help,
        boolean relay) {

    /** The home folder when neither {@code --home} nor {@code KIZUNA_HOME} says otherwise. */
    static final String DEFAULT_HOME = "~/.kizuna";
    static final Duration DEFAULT_WAIT = Duration.ofSeconds(30);
    static final int MAX_LISTEN = 64;
    /**
     * transport://ip:port with a literal IP (IPv6 in brackets): host names are never resolved. A relay
     * endpoint names the relay first: relay://&lt;relay-id&gt;@tcp://ip:port.
     */
    private static final Pattern ENDPOINT = Pattern.compile(
            "[a-z][a-z0-9-]{0,31}://([a-z2-7]{52}@[a-z][a-z0-9-]{0,31}://)?"
                    + "(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9a-fA-F:.]+(%[\\w.-]+)?\\]):\\d{1,5}");

    static final String USAGE = String.join("\n",
            "usage: kizuna [--home DIR] [--listen ENDPOINT]... [--relay] [-c COMMANDS] [--wait SECONDS]",
            "",
            "Starts a Kizuna node in Apache Felix.",
            "",
            "  --home DIR          the node's folder: identity key, etc/*.cfg configuration, logs",
            "                      (default: $KIZUNA_HOME, else " + DEFAULT_HOME + ")",
            "  --listen ENDPOINT   listen there instead of the configured endpoints; repeatable,",
            "                      e.g. --listen tcp://127.0.0.1:7400 (port 0 picks a free port);",
            "                      relay://<relay-id>@tcp://ip:port keeps a reservation on that relay",
            "  --relay             also serve as a relay for other peers (PID io.kizuna.relay)",
            "  -c COMMANDS         run Gogo commands separated by ';' or newlines, print their output,",
            "                      then stop; exit status 1 at the first command that fails",
            "  --wait SECONDS      how long to wait for the node to be up and listening (default 30)",
            "  -h, --help          this text",
            "",
            "With a terminal and no -c it opens the Gogo shell (commands kizuna:*, e.g. kizuna:id).",
            "Without a terminal it runs as a daemon until SIGTERM, logging to <home>/logs/kizuna.log.");

    /** A command line that cannot be understood; the launcher prints it with the usage hint. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /**
     * @param args          the arguments
     * @param environmentHome the value of {@code KIZUNA_HOME}, or null
     * @param userHome      the user's home directory
     * @return the options
     * @throws UsageException naming the argument that is wrong
     */
    static Options parse(String[] args, String environmentHome, Path userHome) throws UsageException {
        String home = null;
        List<String> listen = new ArrayList<>();
        String commands = null;
        Duration wait = DEFAULT_WAIT;
        boolean help = false;
        boolean relay = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String name = a;
            String value = null;
            int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0) {
                name = a.substring(0, eq);
                value = a.substring(eq + 1);
            }
            switch (name) {
                case "-h", "--help" -> help = true;
                case "--relay" -> relay = true;
                case "--home" -> home = value != null ? value : next(args, ++i, name);
                case "--listen" -> {
                    String v = value != null ? value : next(args, ++i, name);
                    for (String e : v.split(",")) {
                        String endpoint = e.trim();
                        if (!ENDPOINT.matcher(endpoint).matches()) {
                            throw new UsageException("--listen '" + endpoint
                                    + "' is not an endpoint: write transport://ip:port with an IP address, "
                                    + "e.g. tcp://127.0.0.1:7400, tcp://[::1]:7400 or relay://<relay-id>@tcp://ip:port");
                        }
                        if (listen.size() >= MAX_LISTEN) {
                            throw new UsageException("at most " + MAX_LISTEN + " --listen endpoints");
                        }
                        listen.add(endpoint);
                    }
                }
                case "-c", "--command", "--commands" -> {
                    if (commands != null) {
                        throw new UsageException("-c given twice: put all commands in one -c, separated by ';'");
                    }
                    commands = value != null ? value : next(args, ++i, name);
                }
                case "--wait" -> {
                    String v = value != null ? value : next(args, ++i, name);
                    try {
                        long s = Long.parseLong(v);
                        if (s < 1 || s > 3600) {
                            throw new NumberFormatException();
                        }
                        wait = Duration.ofSeconds(s);
                    } catch (NumberFormatException e) {
                        throw new UsageException("--wait '" + v + "' must be a number of seconds from 1 to 3600");
                    }
                }
                default -> throw new UsageException("unknown argument '" + a + "'");
            }
        }
        String h = home != null ? home : environmentHome != null && !environmentHome.isBlank() ? environmentHome
                : DEFAULT_HOME;
        if (h.isBlank()) {
            throw new UsageException("--home needs a folder");
        }
        Path path = h.equals("~") ? userHome : h.startsWith("~/") ? userHome.resolve(h.substring(2)) : Path.of(h);
        return new Options(path.toAbsolutePath().normalize(), List.copyOf(listen), Optional.ofNullable(commands),
                wait, help, relay);
    }

    private static String next(String[] args, int i, String name) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(name + " needs a value");
        }
        return args[i];
    }
}
