package io.kizuna.relay.internal;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Events (new relay streams, new reservations) per source address and window: a
 * fixed window per address, in a table of at most {@value #MAX_SOURCES} addresses (stale ones are
 * dropped first; when every one is fresh, new addresses are refused until a
 * window passes, so a flood of spoofed-looking sources cannot grow the table).
 */
final class SourceRateLimiter {

    static final int MAX_SOURCES = 8192;

    private static final class Window {
        long index;
        int count;
    }

    private final int perWindow;
    private final long windowNanos;
    private final Map<InetAddress, Window> windows = new LinkedHashMap<>();

    /** @param perSecond events allowed per address and second; 0 = unlimited */
    SourceRateLimiter(int perSecond) {
        this(perSecond, Duration.ofSeconds(1));
    }

    /**
     * @param perWindow events allowed per address and window; 0 = unlimited
     * @param window    the window
     */
    SourceRateLimiter(int perWindow, Duration window) {
        this.perWindow = perWindow;
        this.windowNanos = window.toNanos();
    }

    /**
     * @param source the address an event came from
     * @param nanos  now, from {@link System#nanoTime()}
     * @return whether it may go on
     */
    synchronized boolean allow(InetAddress source, long nanos) {
        if (perWindow <= 0) {
            return true;
        }
        long index = nanos / windowNanos;
        Window w = windows.get(source);
        if (w == null) {
            if (windows.size() >= MAX_SOURCES) {
                for (Iterator<Window> it = windows.values().iterator(); it.hasNext();) {
                    if (it.next().index < index) {
                        it.remove();
                    }
                }
                if (windows.size() >= MAX_SOURCES) {
                    return false;
                }
            }
            w = new Window();
            w.index = index;
            windows.put(source, w);
        }
        if (w.index != index) {
            w.index = index;
            w.count = 0;
        }
        return ++w.count <= perWindow;
    }
}
