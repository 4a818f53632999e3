package io.kizuna.transport.support;

/**
 * The checks a transport's settings record makes on its configuration, with
 * messages that name the transport, the property and its value.
 */
public final class SettingsCheck {

    private final String transport;

    /** @param transport the transport's protocol name (e.g. {@code tcp}), which every message starts with */
    public SettingsCheck(String transport) {
        this.transport = transport;
    }

    /**
     * @param message what is wrong, e.g. {@code maxFrameSize=9 must not exceed maxMessageSize=8}
     * @return the error to throw
     */
    public IllegalArgumentException invalid(String message) {
        return invalid(message, null);
    }

    /**
     * @param message what is wrong
     * @param cause   why, or null
     * @return the error to throw
     */
    public IllegalArgumentException invalid(String message, Throwable cause) {
        return new IllegalArgumentException(transport + " configuration: " + message, cause);
    }

    /**
     * @param name  the property
     * @param value its value
     * @throws IllegalArgumentException unless the value is positive
     */
    public void positive(String name, int value) {
        if (value <= 0) {
            throw invalid(name + "=" + value + " must be positive");
        }
    }

    /**
     * @param low  {@code writeLowWaterMark}
     * @param high {@code writeHighWaterMark}
     * @throws IllegalArgumentException when the low mark is above the high one
     */
    public void waterMarks(int low, int high) {
        if (low > high) {
            throw invalid("writeLowWaterMark=" + low + " must not exceed writeHighWaterMark=" + high);
        }
    }

    /**
     * @param ioThreads {@code ioThreads}: 0 for automatic, or a count
     * @return the count: min(2, processors) for 0
     * @throws IllegalArgumentException when it is negative
     */
    public int ioThreads(int ioThreads) {
        if (ioThreads < 0) {
            throw invalid("ioThreads=" + ioThreads + " must be 0 (automatic) or more");
        }
        return ioThreads == 0 ? Math.min(2, Runtime.getRuntime().availableProcessors()) : ioThreads;
    }
}
