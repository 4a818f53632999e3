package io.kizuna.runtime;

import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;

import org.osgi.framework.Bundle;

/**
 * A Gogo session, driven by reflection: the Gogo API lives in the gogo runtime
 * bundle, whose classes the launcher (outside the framework) cannot link to.
 */
final class Gogo implements AutoCloseable {

    static final String COMMAND_PROCESSOR = "org.apache.felix.service.command.CommandProcessor";
    private static final String COMMAND_SESSION = "org.apache.felix.service.command.CommandSession";
    /** {@code Converter.INSPECT}: how Gogo's own console prints a command's result. */
    private static final int INSPECT = 0;

    private final Object session;
    private final Method execute;
    private final Method format;
    private final Method put;
    private final Method close;

    /**
     * @param processor the CommandProcessor service
     * @param provider  the bundle that registered it (its class loader sees the Gogo API)
     * @param out       where command output goes
     * @param err       where command errors go
     * @throws ReflectiveOperationException when the Gogo API is not what this launcher knows
     */
    Gogo(Object processor, Bundle provider, PrintStream out, PrintStream err) throws ReflectiveOperationException {
        Class<?> cp = provider.loadClass(COMMAND_PROCESSOR);
        Class<?> cs = provider.loadClass(COMMAND_SESSION);
        Method create = cp.getMethod("createSession", InputStream.class, OutputStream.class, OutputStream.class);
        this.session = invoke(create, processor, InputStream.nullInputStream(), out, err);
        this.execute = cs.getMethod("execute", CharSequence.class);
        this.format = cs.getMethod("format", Object.class, int.class);
        this.put = cs.getMethod("put", String.class, Object.class);
        this.close = cs.getMethod("close");
    }

    /**
     * Sets a session variable.
     *
     * @param name  the variable
     * @param value its value
     */
    void put(String name, Object value) throws ReflectiveOperationException {
        invoke(put, session, name, value);
    }

    /**
     * Runs one command.
     *
     * @param command the Gogo command line
     * @return the result formatted as Gogo's console prints it, or null when there is none
     * @throws Exception what the command threw
     */
    String execute(String command) throws Exception {
        Object result = invoke(execute, session, command);
        if (result == null) {
            return null;
        }
        return String.valueOf(invoke(format, session, result, INSPECT));
    }

    @Override
    public void close() {
        try {
            invoke(close, session);
        } catch (Exception e) {
            // closing a session of a stopping framework may fail; nothing is lost
        }
    }

    private static Object invoke(Method m, Object target, Object... args) throws ReflectiveOperationException {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error er) {
                throw er;
            }
            throw new CommandException(cause);
        }
    }

    /** A checked exception thrown by a command, carried through reflection. */
    static final class CommandException extends ReflectiveOperationException {
        private static final long serialVersionUID = 1L;

        CommandException(Throwable cause) {
            super(cause.getMessage(), cause);
        }
    }

    /**
     * @param failure what a command threw
     * @return one line for the user: the message, or the type when there is none
     */
    static String oneLine(Throwable failure) {
        Throwable t = failure instanceof CommandException && failure.getCause() != null ? failure.getCause() : failure;
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return t.getClass().getSimpleName();
        }
        String first = m.strip().lines().findFirst().orElse(m);
        return first;
    }
}
