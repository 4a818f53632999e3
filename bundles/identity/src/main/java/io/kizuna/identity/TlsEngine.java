package io.kizuna.identity;

import java.util.Locale;

/**
 * Which TLS implementation the node's transports run their TLS 1.3 on (key
 * {@code tlsEngine} of PID {@code io.kizuna.identity}). Whatever the engine, the
 * certificates and their checks are the same: the engine runs the handshake and
 * the records, and calls {@link NodeIdentity#keyManager()} and
 * {@link NodeIdentity#trustManager()} (or a {@link DialTrustManager}) for the
 * node's certificate and the peer's.
 *
 * <p>Transports whose TLS library is fixed (QUIC's quiche, WebRTC's DTLS) ignore it.
 */
public enum TlsEngine {

    /**
     * OpenSSL (BoringSSL through netty-tcnative) when its native library loads and
     * the transport's connections never half-close at the TLS level, else the JDK's.
     */
    AUTO,
    /** OpenSSL (BoringSSL through netty-tcnative) only: a transport that cannot load it does not start. */
    OPENSSL,
    /** The JDK's own TLS implementation (SunJSSE). */
    JDK;

    /** @return the configuration value: {@code auto}, {@code openssl} or {@code jdk} */
    public String configValue() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param value a configuration value, case and surrounding blanks ignored; empty means {@link #AUTO}
     * @return the engine it names
     * @throws IllegalArgumentException naming the value and the accepted ones
     */
    public static TlsEngine parse(String value) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        if (v.isEmpty()) {
            return AUTO;
        }
        for (TlsEngine e : values()) {
            if (e.configValue().equals(v)) {
                return e;
            }
        }
        throw new IllegalArgumentException("tlsEngine '" + value + "' is not known: write auto, openssl or jdk");
    }
}
