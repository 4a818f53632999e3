package io.kizuna.transport.support;

import io.netty.handler.codec.DecoderException;

/** How the TLS transports word a cause in their messages. */
public final class Causes {

    private Causes() {
    }

    /**
     * @param t a cause, possibly wrapped by a decoder (the TLS handler wraps what its engine throws)
     * @return its message, or the name of its class when it has none
     */
    public static String describe(Throwable t) {
        Throwable c = t instanceof DecoderException && t.getCause() != null ? t.getCause() : t;
        return c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName();
    }

    /**
     * @param t    a cause
     * @param type a type
     * @return whether the cause, or a cause of it, is of that type
     */
    public static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}
