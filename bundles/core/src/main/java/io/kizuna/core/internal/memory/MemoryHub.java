package io.kizuna.core.internal.memory;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import io.kizuna.transport.TransportException;

/**
 * The in-process "network" of the memory transport: which listener holds which
 * port, per protocol name. Ports play the part of addresses; no socket is
 * opened. One hub serves the whole JVM ({@link #GLOBAL}); tests may make their own.
 */
public final class MemoryHub {

    /** The hub every memory transport uses unless given another. */
    public static final MemoryHub GLOBAL = new MemoryHub();

    /** Ports handed out for port 0 and for dialers' local addresses start here. */
    private static final int FIRST_DYNAMIC_PORT = 20000;
    private static final int LAST_PORT = 65535;

    private final Map<String, MemoryListener> listeners = new HashMap<>();
    private final Map<String, Set<Integer>> used = new HashMap<>();
    private final Map<String, Integer> nextPort = new HashMap<>();

    /**
     * Binds a listener to a port.
     *
     * @param protocol the transport's protocol name
     * @param port     the port asked for; 0 picks a free one
     * @param make     makes the listener once the port is known
     * @return the listener
     * @throws TransportException.Io when the port is taken
     * @throws TransportException.LimitExceeded when no port is free
     */
    synchronized MemoryListener bind(String protocol, int port, java.util.function.IntFunction<MemoryListener> make)
            throws TransportException {
        int p = port == 0 ? allocate(protocol) : port;
        Set<Integer> ports = used.computeIfAbsent(protocol, k -> new HashSet<>());
        if (port != 0 && ports.contains(port)) {
            throw new TransportException.Io("cannot listen on " + protocol + "://127.0.0.1:" + port
                    + ": the port is in use in this process; choose another port or 0", null);
        }
        ports.add(p);
        MemoryListener l = make.apply(p);
        listeners.put(key(protocol, p), l);
        return l;
    }

    /** Takes a port for a dialer's local address. */
    synchronized int ephemeral(String protocol) throws TransportException.LimitExceeded {
        int p = allocate(protocol);
        used.computeIfAbsent(protocol, k -> new HashSet<>()).add(p);
        return p;
    }

    synchronized void release(String protocol, int port) {
        Set<Integer> ports = used.get(protocol);
        if (ports != null) {
            ports.remove(port);
        }
    }

    synchronized void unbind(String protocol, int port, MemoryListener l) {
        if (listeners.remove(key(protocol, port), l)) {
            release(protocol, port);
        }
    }

    synchronized MemoryListener find(String protocol, int port) {
        return listeners.get(key(protocol, port));
    }

    private int allocate(String protocol) throws TransportException.LimitExceeded {
        Set<Integer> ports = used.computeIfAbsent(protocol, k -> new HashSet<>());
        int range = LAST_PORT - FIRST_DYNAMIC_PORT + 1;
        int start = nextPort.getOrDefault(protocol, FIRST_DYNAMIC_PORT);
        for (int i = 0; i < range; i++) {
            int p = FIRST_DYNAMIC_PORT + ((start - FIRST_DYNAMIC_PORT + i) % range);
            if (!ports.contains(p)) {
                nextPort.put(protocol, p + 1 > LAST_PORT ? FIRST_DYNAMIC_PORT : p + 1);
                return p;
            }
        }
        throw new TransportException.LimitExceeded("memory ports", range, "every " + protocol
                + " port of this process is in use");
    }

    private static String key(String protocol, int port) {
        return protocol + ":" + port;
    }
}
