package io.kizuna.shell.internal.command;

/**
 * A command failed for a reason the user can act on. Its message is the whole
 * story (usually the {@link io.kizuna.transport.TransportException} message), so
 * it carries no stack trace: shells print the message as one line, and the
 * launcher's {@code -c} mode exits with a non-zero status.
 */
public final class CommandFailure extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** @param message what failed, and what to do about it */
    CommandFailure(String message) {
        super(message, null, false, false);
    }
}
