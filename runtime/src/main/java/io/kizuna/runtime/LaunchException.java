package io.kizuna.runtime;

/** The node could not be started or did not become ready; the message is the one line the user sees. */
final class LaunchException extends Exception {

    private static final long serialVersionUID = 1L;

    LaunchException(String message) {
        super(message);
    }

    LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}
