package io.kizuna.shell.internal.command;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How the commands print and parse sizes, times and rates. */
final class Units {

    private static final String[] BYTE_UNITS = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    private static final Pattern SIZE = Pattern.compile("(\\d{1,19})\\s*([kmgt]?)(i?b?)", Pattern.CASE_INSENSITIVE);

    private Units() {
    }

    /**
     * @param n a byte count
     * @return e.g. {@code 512 B}, {@code 1.5 KiB}, {@code 64.0 MiB}
     */
    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        double v = n;
        int unit = -1;
        while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
            v /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, BYTE_UNITS[unit]);
    }

    /**
     * @param d a time span such as a round trip
     * @return milliseconds with precision suited to the size, or seconds from 10 s up
     */
    static String time(Duration d) {
        long nanos = d.toNanos();
        if (nanos < 10_000_000L) {
            return String.format(Locale.ROOT, "%.3f ms", nanos / 1e6);
        }
        if (nanos < 10_000_000_000L) {
            return String.format(Locale.ROOT, "%.1f ms", nanos / 1e6);
        }
        return String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }

    /**
     * @param d a time span
     * @return milliseconds with three decimals, without unit (for min/avg/max)
     */
    static String millis(Duration d) {
        return String.format(Locale.ROOT, "%.3f", d.toNanos() / 1e6);
    }

    /**
     * @param d a time span
     * @return seconds with three decimals and the unit, e.g. {@code 0.512 s}
     */
    static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.3f s", d.toNanos() / 1e9);
    }

    /**
     * @param d a configured span such as a timeout
     * @return whole seconds as {@code 10 s}, anything else in milliseconds
     */
    static String span(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /**
     * @param d how long something has existed
     * @return e.g. {@code 42s}, {@code 3m05s}, {@code 2h07m}, {@code 4d03h}
     */
    static String age(Duration d) {
        long s = Math.max(0, d.getSeconds());
        if (s < 60) {
            return s + "s";
        }
        if (s < 3600) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        if (s < 86_400) {
            return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        }
        return String.format(Locale.ROOT, "%dd%02dh", s / 86_400, (s % 86_400) / 3600);
    }

    /**
     * @param bitsPerSecond a throughput
     * @return e.g. {@code 950.3 Mbit/s} or {@code 2.41 Gbit/s}
     */
    static String rate(double bitsPerSecond) {
        if (bitsPerSecond >= 1e9) {
            return String.format(Locale.ROOT, "%.2f Gbit/s", bitsPerSecond / 1e9);
        }
        if (bitsPerSecond >= 1e6) {
            return String.format(Locale.ROOT, "%.1f Mbit/s", bitsPerSecond / 1e6);
        }
        return String.format(Locale.ROOT, "%.1f kbit/s", bitsPerSecond / 1e3);
    }

    /**
     * Parses a byte count: a number with an optional binary suffix, {@code K},
     * {@code M}, {@code G} or {@code T} (also written {@code KiB}, {@code MB}...;
     * all mean powers of 1024).
     *
     * @param text the size, e.g. {@code 64M} or {@code 1G}
     * @param max  the largest size accepted
     * @return the number of bytes, at least 1
     * @throws IllegalArgumentException naming what is wrong and what is accepted
     */
    static long parseSize(String text, long max) {
        String t = text == null ? "" : text.trim();
        Matcher m = SIZE.matcher(t);
        if (!m.matches() || (m.group(2).isEmpty() && !m.group(3).isEmpty() && !m.group(3).equalsIgnoreCase("b"))) {
            throw new IllegalArgumentException("size '" + t + "' is not understood: write a number of bytes with "
                    + "an optional K, M, G or T suffix (powers of 1024), e.g. 64M or 1G");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        long n;
        try {
            n = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size '" + t + "' is too large: the most is " + bytes(max));
        }
        if (n > (max >> shift)) {
            throw new IllegalArgumentException("size '" + t + "' is too large: the most is " + bytes(max));
        }
        long bytes = n << shift;
        if (bytes < 1) {
            throw new IllegalArgumentException("size '" + t + "' must be at least 1 byte");
        }
        return bytes;
    }
}
