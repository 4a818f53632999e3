package io.kizuna.runtime;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.StreamHandler;

/**
 * Logging through {@code java.util.logging}, which also receives what the
 * bundles write to {@link System.Logger}: a rotating file under
 * {@code <home>/logs}, and the console.
 */
final class Logs {

    static final String FILE = "kizuna.log";
    /** A log file is rotated when it reaches this size. */
    private static final int FILE_LIMIT = 10 << 20;
    /** Old log files kept: kizuna.log.1 to kizuna.log.5. */
    private static final int FILE_COUNT = 5;

    private Logs() {
    }

    /**
     * Replaces the JUL configuration.
     *
     * @param logs    the folder of the log file
     * @param console the console level: INFO to stdout for a daemon, WARNING to stderr otherwise
     * @throws IOException when the log file cannot be opened
     */
    static void setUp(Path logs, Level console, boolean toStdout) throws IOException {
        Files.createDirectories(logs);
        LogManager.getLogManager().reset();
        Logger root = Logger.getLogger("");
        root.setLevel(Level.INFO);
        RotatingFileHandler file = new RotatingFileHandler(logs, FILE_LIMIT);
        file.setFormatter(new LineFormatter(true));
        file.setLevel(Level.INFO);
        root.addHandler(file);
        Handler out = toStdout ? new StdoutHandler() : new ConsoleHandler();
        out.setFormatter(new LineFormatter(false));
        out.setLevel(console);
        root.addHandler(out);
    }

    /**
     * Keeps the log bounded: a file over the limit becomes {@code kizuna.log.1},
     * older ones shift up to {@code kizuna.log.5}, the oldest is deleted.
     */
    static void rotate(Path logs, long limit) throws IOException {
        Path current = logs.resolve(FILE);
        if (!Files.exists(current) || Files.size(current) < limit) {
            return;
        }
        Files.deleteIfExists(logs.resolve(FILE + "." + FILE_COUNT));
        for (int i = FILE_COUNT - 1; i >= 1; i--) {
            Path older = logs.resolve(FILE + "." + i);
            if (Files.exists(older)) {
                Files.move(older, logs.resolve(FILE + "." + (i + 1)));
            }
        }
        Files.move(current, logs.resolve(FILE + ".1"));
    }

    /** Flushes and closes the handlers, so the file is complete when the JVM exits. */
    static void close() {
        for (Handler h : Logger.getLogger("").getHandlers()) {
            h.flush();
            h.close();
        }
    }

    /** Appends to {@code kizuna.log}; rotates it when it outgrows the limit. */
    static final class RotatingFileHandler extends StreamHandler {
        private final Path logs;
        private final long limit;
        private long written;

        RotatingFileHandler(Path logs, long limit) throws IOException {
            this.logs = logs;
            this.limit = limit;
            rotate(logs, limit);
            open();
        }

        private void open() throws IOException {
            Path file = logs.resolve(FILE);
            written = Files.exists(file) ? Files.size(file) : 0;
            OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            setOutputStream(new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    written += len;
                }

                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    written++;
                }
            });
        }

        @Override
        public synchronized void publish(LogRecord record) {
            super.publish(record);
            flush();
            if (written >= limit) {
                try {
                    rotateOpen();
                } catch (IOException e) {
                    reportError("cannot rotate " + logs.resolve(FILE), e, java.util.logging.ErrorManager.OPEN_FAILURE);
                }
            }
        }

        private void rotateOpen() throws IOException {
            super.close();
            rotate(logs, limit);
            open();
        }
    }

    /** One line per record: time, level, logger, message; the stack trace only in the file. */
    static final class LineFormatter extends Formatter {
        private final boolean withStackTraces;

        LineFormatter(boolean withStackTraces) {
            this.withStackTraces = withStackTraces;
        }

        @Override
        public String format(LogRecord r) {
            StringBuilder sb = new StringBuilder();
            sb.append(Instant.ofEpochMilli(r.getMillis())).append(' ').append(r.getLevel().getName()).append(' ')
                    .append(shortName(r.getLoggerName())).append(": ").append(formatMessage(r));
            if (r.getThrown() != null) {
                if (withStackTraces) {
                    StringWriter w = new StringWriter();
                    r.getThrown().printStackTrace(new PrintWriter(w));
                    sb.append(System.lineSeparator()).append(w.toString().stripTrailing());
                } else {
                    sb.append(" (").append(rootCause(r.getThrown())).append(')');
                }
            }
            return sb.append(System.lineSeparator()).toString();
        }

        private static String shortName(String name) {
            if (name == null || name.isEmpty()) {
                return "kizuna";
            }
            return name.substring(name.lastIndexOf('.') + 1);
        }
    }

    /**
     * @param t a failure
     * @return its innermost cause, which usually says what went wrong, as {@code Type: message}
     */
    static String rootCause(Throwable t) {
        Throwable root = t;
        for (int i = 0; i < 32 && root.getCause() != null && root.getCause() != root; i++) {
            root = root.getCause();
        }
        String text = root.toString();
        // Felix Log re-wraps foreign exceptions as LogException("original.Type: message")
        return text.startsWith("org.apache.felix.log.LogException: ")
                ? text.substring("org.apache.felix.log.LogException: ".length()) : text;
    }

    /** Like {@link ConsoleHandler}, but to stdout (a daemon's output is its log). */
    static final class StdoutHandler extends StreamHandler {
        StdoutHandler() {
            super(System.out, new LineFormatter(false));
        }

        @Override
        public synchronized void publish(LogRecord record) {
            super.publish(record);
            flush();
        }

        @Override
        public synchronized void close() {
            flush();
        }
    }

    /** Routes the framework's own messages (resolution errors, bundle failures) into JUL. */
    static final class FrameworkLogger extends org.apache.felix.framework.Logger {
        private static final Logger LOG = Logger.getLogger("org.apache.felix.framework");

        @Override
        protected void doLog(int level, String msg, Throwable throwable) {
            Level l = switch (level) {
                case LOG_ERROR -> Level.SEVERE;
                case LOG_WARNING -> Level.WARNING;
                case LOG_INFO -> Level.INFO;
                default -> Level.FINE;
            };
            LOG.log(l, msg, throwable);
        }
    }
}
