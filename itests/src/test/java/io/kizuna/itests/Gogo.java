package io.kizuna.itests;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/** Runs Gogo commands in the test framework through its CommandProcessor service, as a shell would. */
final class Gogo {

    /** What one command printed, and what it returned or threw. */
    record Result(String output, Object value, Exception failure) {

        /** @return the output; fails the test when the command failed */
        String ok() {
            if (failure != null) {
                throw new AssertionError("command failed: " + failure + "\n--- output:\n" + output, failure);
            }
            return output + (value == null ? "" : String.valueOf(value));
        }
    }

    private Gogo() {
    }

    /**
     * @param context a bundle context of the framework
     * @param command the command line, e.g. {@code kizuna:transports}
     * @return what it printed and returned
     */
    static Result run(BundleContext context, String command) {
        ServiceReference<CommandProcessor> ref = Itest.awaitService(context, CommandProcessor.class,
                null, Duration.ofSeconds(30));
        CommandProcessor processor = context.getService(ref);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
                CommandSession session = processor.createSession(new ByteArrayInputStream(new byte[0]), out, out)) {
            Object value = null;
            Exception failure = null;
            try {
                value = session.execute(command);
            } catch (Exception e) {
                failure = e;
            }
            out.flush();
            return new Result(bytes.toString(StandardCharsets.UTF_8), value, failure);
        } finally {
            context.ungetService(ref);
        }
    }
}
