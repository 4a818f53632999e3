package io.kizuna.relay.internal;

import java.net.InetAddress;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * New relay streams per source address per second: a fixed one-second window per
 * address, in a table of at most {@value #MAX_SOURCES} addresses (stale ones are
 * dropped first; when every one is fresh, new addresses are refused until a
 * window passes, so a flood of spoofed-looking sources cannot grow the table).
 */
final class SourceRateLimiter {

    static final int MAX_SOURCES = 8192;

    private static final class Window {
        long second;
        int count;
    }

    private final int perSecond;
    private final Map<InetAddress, Window> windows = new LinkedHashMap<>();

    /** @param perSecond new streams allowed per address and second; 0 = unlimited */
    SourceRateLimiter(int perSecond) {
        this.perSecond = perSecond;
    }

    /**
     * @param source the address a new stream came from
     * @param nanos  now, from {@link System#nanoTime()}
     * @return whether it may go on
     */
    synchronized boolean allow(InetAddress source, long nanos) {
        if (perSecond <= 0) {
            return true;
        }
        long second = nanos / 1_000_000_000L;
        Window w = windows.get(source);
        if (w == null) {
            if (windows.size() >= MAX_SOURCES) {
                for (Iterator<Window> it = windows.values().iterator(); it.hasNext();) {
                    if (it.next().second < second) {
                        it.remove();
                    }
                }
                if (windows.size() >= MAX_SOURCES) {
                    return false;
                }
            }
            w = new Window();
            w.second = second;
            windows.put(source, w);
        }
        if (w.second != second) {
            w.second = second;
            w.count = 0;
        }
        return ++w.count <= perSecond;
    }
}
