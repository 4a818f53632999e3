package io.kizuna.runtime;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * SIGTERM and SIGINT stop the node cleanly and let it exit with status 0. The
 * JVM's default would run the shutdown hooks and exit with 143.
 */
final class Signals {

    private Signals() {
    }

    /** @param action run (it must return quickly) when SIGTERM or SIGINT arrives */
    static void onTermination(Runnable action) {
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> action.run());
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // not on this platform: the shutdown hook still stops the framework
                Logger.getLogger("io.kizuna.runtime").log(Level.FINE, "no handler for SIG" + name, e);
            }
        }
    }
}
