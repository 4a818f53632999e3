package io.kizuna.runtime;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;

/**
 * Copies the errors and warnings of the OSGi log (where SCR reports components that fail to activate,
 * ConfigAdmin and Metatype report bad configuration) into {@code java.util.logging},
 * so it reaches the node's log file. The OSGi log API lives in the log bundle,
 * so the listener is a proxy and the entries are read by reflection.
 */
final class LogBridge {

    static final String READER = "org.osgi.service.log.LogReaderService";
    private static final String LISTENER = "org.osgi.service.log.LogListener";
    /** {@code LogService.LOG_ERROR} and {@code LOG_WARNING}. */
    private static final int ERROR = 1;
    private static final int WARNING = 2;

    /** The latest error of each bundle, for the launcher's "not ready" message; bounded. */
    private static final Map<String, String> LAST_ERRORS = new ConcurrentHashMap<>();
    private static final int MAX_BUNDLES = 256;

    private LogBridge() {
    }

    /**
     * @param symbolicName a bundle
     * @return the latest error it logged, with its root cause, if any
     */
    static Optional<String> lastError(String symbolicName) {
        return Optional.ofNullable(LAST_ERRORS.get(symbolicName));
    }

    /**
     * Adds the listener to the log reader service.
     *
     * @param context the framework's context
     * @param ref     the log reader service
     * @throws ReflectiveOperationException when the log API is not what this bridge knows
     */
    static void attach(BundleContext context, ServiceReference<?> ref) throws ReflectiveOperationException {
        Object reader = context.getService(ref);
        Class<?> readerType = ref.getBundle().loadClass(READER);
        Class<?> listenerType = ref.getBundle().loadClass(LISTENER);
        InvocationHandler handler = (proxy, method, args) -> switch (method.getName()) {
            case "logged" -> {
                publish(args[0]);
                yield null;
            }
            case "hashCode" -> System.identityHashCode(proxy);
            case "equals" -> proxy == args[0];
            case "toString" -> "kizuna log bridge";
            default -> null;
        };
        Object listener = Proxy.newProxyInstance(listenerType.getClassLoader(), new Class<?>[] {listenerType}, handler);
        readerType.getMethod("addLogListener", listenerType).invoke(reader, listener);
    }

    private static void publish(Object entry) {
        try {
            int level = (Integer) call(entry, "getLevel");
            if (level > WARNING) {
                // info and debug entries are mostly the framework's bundle and service events
                return;
            }
            Level l = level == ERROR ? Level.SEVERE : Level.WARNING;
            Object bundle = call(entry, "getBundle");
            String name = bundle instanceof Bundle b && b.getSymbolicName() != null ? b.getSymbolicName() : "osgi";
            String message = String.valueOf(call(entry, "getMessage"));
            Throwable failure = (Throwable) call(entry, "getException");
            if (level == ERROR) {
                if (LAST_ERRORS.size() >= MAX_BUNDLES) {
                    LAST_ERRORS.clear();
                }
                LAST_ERRORS.put(name, failure == null ? message : Logs.rootCause(failure));
            }
            Logger logger = Logger.getLogger(name);
            if (logger.isLoggable(l)) {
                logger.log(l, message, failure);
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            Logger.getLogger("io.kizuna.runtime").log(Level.FINE, "unreadable log entry", e);
        }
    }

    private static Object call(Object target, String method) throws ReflectiveOperationException {
        Method m = target.getClass().getMethod(method);
        m.setAccessible(true);
        return m.invoke(target);
    }
}
