package io.kizuna.core.internal;

import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import io.kizuna.transport.Transport;

/**
 * A bound {@link Transport} service as the manager sees it: protocol and
 * priority read from the service properties, falling back to the service's
 * own methods.
 */
final class TransportEntry {

    final Transport transport;
    final String protocol;
    private volatile int priority;
    private volatile boolean removed;
    private final AtomicReference<Runnable> stopSignaled = new AtomicReference<>();

    TransportEntry(Transport transport, Map<String, ?> properties) {
        this.transport = transport;
        Object p = properties == null ? null : properties.get(Transport.PROTOCOL);
        this.protocol = p instanceof String s && !s.isBlank() ? s : transport.protocolName();
        this.priority = priorityOf(transport, properties);
    }

    static int priorityOf(Transport transport, Map<String, ?> properties) {
        Object v = properties == null ? null : properties.get(Transport.PRIORITY);
        if (v instanceof Number n) {
            return n.intValue();
        }
        if (v instanceof String s) {
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                // fall through to the service's own value
            }
        }
        return transport.priority();
    }

    int priority() {
        return priority;
    }

    void priority(int p) {
        priority = p;
    }

    boolean removed() {
        return removed;
    }

    void remove() {
        removed = true;
    }

    /** @param stop what stops the transport accepting connections signaled over others */
    void acceptingSignaled(Runnable stop) {
        stopSignaled.set(stop);
    }

    /** @return whether the transport accepts (and so dials) connections signaled over others */
    boolean signaled() {
        return stopSignaled.get() != null && usable();
    }

    /** Stops accepting signaled connections, once. */
    void stopSignaled() {
        Runnable r = stopSignaled.getAndSet(null);
        if (r != null) {
            r.run();
        }
    }

    /** @return usable for new dials and listeners */
    boolean usable() {
        return !removed && transport.isAvailable();
    }

    @Override
    public String toString() {
        return protocol + " (priority " + priority + ")";
    }
}
