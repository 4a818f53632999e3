package io.kizuna.transport.support.tls;

import java.util.Objects;
import java.util.Optional;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;

/**
 * Whether Netty's OpenSSL engine can be used in this JVM: netty-tcnative's
 * classes are there, its native library loaded, and it offers TLS 1.3 and Java
 * key managers (the node's certificate comes from one).
 *
 * @param available whether the OpenSSL engine can be used
 * @param library   the native library's name and version (e.g. {@code BoringSSL}), when available
 * @param reason    why it cannot be used, in one line, when not available
 */
public record NativeTls(boolean available, Optional<String> library, Optional<String> reason) {

    /** The longest reason kept: a linker's message can run over several lines. */
    static final int MAX_REASON = 300;

    /** Checks the arguments. */
    public NativeTls {
        Objects.requireNonNull(library, "library");
        Objects.requireNonNull(reason, "reason");
        if (available == reason.isPresent()) {
            throw new IllegalArgumentException("a reason is given exactly when OpenSSL is not available");
        }
    }

    /**
     * @param library the native library's name and version
     * @return OpenSSL is available
     */
    public static NativeTls available(String library) {
        return new NativeTls(true, Optional.of(library), Optional.empty());
    }

    /**
     * @param reason why OpenSSL cannot be used
     * @return OpenSSL is not available
     */
    public static NativeTls unavailable(String reason) {
        return new NativeTls(false, Optional.empty(), Optional.of(oneLine(reason)));
    }

    /**
     * Asks Netty. The first call loads the native library (once per class loader
     * of Netty's handler classes); later calls return what it found.
     *
     * @return what this JVM offers
     */
    public static NativeTls probe() {
        try {
            if (!OpenSsl.isAvailable()) {
                return unavailable(OpenSsl.unavailabilityCause());
            }
            String library = OpenSsl.versionString();
            if (!SslProvider.isTlsv13Supported(SslProvider.OPENSSL)) {
                return unavailable(library + " offers no TLS 1.3");
            }
            if (!OpenSsl.supportsKeyManagerFactory()) {
                return unavailable(library + " cannot take the node's certificate from a Java key manager");
            }
            return available(library);
        } catch (LinkageError e) {
            // Netty's OpenSsl class itself failed to initialise.
            return unavailable(e);
        }
    }

    /**
     * @param cause why Netty could not load OpenSSL, may be null
     * @return OpenSSL is not available, for that reason in words
     */
    public static NativeTls unavailable(Throwable cause) {
        return unavailable(reason(cause));
    }

    private static String reason(Throwable cause) {
        if (cause == null) {
            return "native library not loaded (no reason given)";
        }
        for (Throwable c = cause; c != null; c = c.getCause()) {
            if (c instanceof ClassNotFoundException || c instanceof NoClassDefFoundError) {
                return "netty-tcnative is not installed (" + message(c) + ")";
            }
        }
        return "native library not loaded: " + message(cause);
    }

    private static String message(Throwable t) {
        return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    }

    private static String oneLine(String s) {
        String line = Objects.requireNonNull(s, "reason").replaceAll("\\s+", " ").trim();
        return line.length() <= MAX_REASON ? line : line.substring(0, MAX_REASON - 3) + "...";
    }
}
