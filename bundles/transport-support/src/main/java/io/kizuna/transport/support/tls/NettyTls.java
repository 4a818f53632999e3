package io.kizuna.transport.support.tls;

import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.TlsEngine;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCounted;

/**
 * The TLS engine a transport runs its TLS 1.3 on, chosen once when it starts,
 * and the builders of its TLS contexts. Whatever the engine, the contexts take
 * the node's key manager and a trust manager from the identity bundle, so the
 * certificate and the PeerId checks are the same: OpenSSL calls the same Java
 * trust manager from inside its handshake, as the JDK's engine does.
 *
 * <p>With OpenSSL, contexts and engines hold native memory. By default they are
 * reference-counted ({@link SslProvider#OPENSSL_REFCNT}): Netty's {@code SslHandler}
 * releases its engine when its channel closes, and the transport releases each
 * context it built ({@link #release(SslContext)}) once it no longer makes engines
 * from it; an engine keeps its context alive until then. Engines that no channel
 * close reaches use {@link #releasedByGc()} instead.
 */
public final class NettyTls {

    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private final boolean openssl;
    private final boolean byGc;
    private final String description;
    private final String logLine;
    private final Level logLevel;

    private NettyTls(boolean openssl, boolean byGc, String description, String logLine, Level logLevel) {
        this.openssl = openssl;
        this.byGc = byGc;
        this.description = description;
        this.logLine = logLine;
        this.logLevel = logLevel;
    }

    /**
     * The engine for a node's identity: what it configures, and whether this JVM
     * can load OpenSSL (asked only when the configuration allows OpenSSL).
     *
     * @param identity the node's identity
     * @return the engine
     * @throws SSLException when {@code tlsEngine = openssl} and OpenSSL cannot be loaded
     */
    public static NettyTls of(NodeIdentity identity) throws SSLException {
        return choose(identity.tlsEngine(), NativeTls::probe);
    }

    /**
     * The engine for a transport whose connections half-close with TLS: one side's
     * close_notify ends its direction only, and the other side goes on writing
     * (tcp: each stream is a connection, and perf, relays and applications shut down
     * their output before they read the answer). Netty's OpenSSL engine answers a
     * close_notify with its own and closes both directions, so {@code auto} takes the
     * JDK's engine here; {@code openssl} takes OpenSSL all the same, with a warning.
     *
     * @param identity the node's identity
     * @return the engine
     * @throws SSLException when {@code tlsEngine = openssl} and OpenSSL cannot be loaded
     */
    public static NettyTls forHalfClose(NodeIdentity identity) throws SSLException {
        return chooseForHalfClose(identity.tlsEngine(), NativeTls::probe);
    }

    /**
     * @param configured what the identity's configuration asks for
     * @param nativeTls  what this JVM offers; called only for {@link TlsEngine#OPENSSL}
     * @return the engine for a transport whose connections half-close ({@link #forHalfClose})
     * @throws SSLException when {@code configured} is {@link TlsEngine#OPENSSL} and OpenSSL is not available
     */
    public static NettyTls chooseForHalfClose(TlsEngine configured, Supplier<NativeTls> nativeTls)
            throws SSLException {
        Objects.requireNonNull(configured, "configured");
        if (configured == TlsEngine.AUTO) {
            return new NettyTls(false, false, "jdk (" + NO_HALF_CLOSE + ")",
                    "TLS 1.3 on the JDK's engine: " + NO_HALF_CLOSE + " (Netty's OpenSSL engine answers a "
                            + "close_notify with its own); tlsEngine = openssl forces OpenSSL", Level.INFO);
        }
        NettyTls chosen = choose(configured, nativeTls);
        if (!chosen.openssl) {
            return chosen;
        }
        // "openssl (BoringSSL)" becomes "openssl (BoringSSL, no half-close)"
        String described = chosen.description.substring(0, chosen.description.length() - 1) + ", no half-close)";
        return new NettyTls(true, false, described,
                chosen.logLine + "; as tlsEngine = openssl asks, although " + NO_HALF_CLOSE
                        + ": a connection whose peer shuts down its output ends at once (kizuna:perf, relays and "
                        + "applications that end a stream before reading the answer fail)",
                Level.WARNING);
    }

    /** Why a transport whose connections half-close does not take OpenSSL by itself. */
    static final String NO_HALF_CLOSE = "OpenSSL cannot half-close, which this transport needs";

    /**
     * @param configured what the identity's configuration asks for
     * @param nativeTls  what this JVM offers; not called when {@code configured} is {@link TlsEngine#JDK}
     * @return the engine
     * @throws SSLException when {@code configured} is {@link TlsEngine#OPENSSL} and OpenSSL is not available
     */
    public static NettyTls choose(TlsEngine configured, Supplier<NativeTls> nativeTls) throws SSLException {
        Objects.requireNonNull(configured, "configured");
        if (configured == TlsEngine.JDK) {
            return new NettyTls(false, false, "jdk (tlsEngine = jdk)", "TLS 1.3 on the JDK's engine (tlsEngine = jdk)",
                    Level.INFO);
        }
        NativeTls offered = nativeTls.get();
        if (offered.available()) {
            String library = offered.library().orElse("OpenSSL");
            return new NettyTls(true, false, "openssl (" + library + ")",
                    "TLS 1.3 on OpenSSL (" + library + ", netty-tcnative)", Level.INFO);
        }
        String reason = offered.reason().orElse("no reason given");
        if (configured == TlsEngine.OPENSSL) {
            throw new SSLException("tlsEngine = openssl (PID io.kizuna.identity), but OpenSSL cannot be used: " + reason
                    + "; install netty-tcnative-boringssl-static for this platform, or set tlsEngine = auto");
        }
        return new NettyTls(false, false, "jdk (" + reason + ")",
                "TLS 1.3 on the JDK's engine, as OpenSSL cannot be used: " + reason, Level.WARNING);
    }

    /**
     * The JDK's engine whatever the identity configures, for TLS that does not run on OpenSSL yet.
     *
     * @param why why, in a few words, shown in {@link #describe()}
     * @return the JDK's engine
     */
    public static NettyTls jdk(String why) {
        return new NettyTls(false, false, "jdk (" + why + ")", "TLS 1.3 on the JDK's engine: " + why, Level.INFO);
    }

    /** @return whether the engine is OpenSSL */
    public boolean isOpenSsl() {
        return openssl;
    }

    /**
     * @return the engine in a few words, for people: {@code openssl (BoringSSL)},
     *         {@code jdk (tlsEngine = jdk)}, or {@code jdk (<why OpenSSL cannot be used>)}
     */
    public String describe() {
        return description;
    }

    /**
     * Logs the choice once: a warning when OpenSSL was wanted and could not be had.
     *
     * @param log       the transport's logger
     * @param transport the transport's name
     */
    public void log(System.Logger log, String transport) {
        log.log(logLevel, "{0}: {1}", transport, logLine);
    }

    /** @return the Netty provider of the contexts this builds */
    public SslProvider provider() {
        if (!openssl) {
            return SslProvider.JDK;
        }
        return byGc ? SslProvider.OPENSSL : SslProvider.OPENSSL_REFCNT;
    }

    /**
     * @return the same engine, for contexts and engines that nothing releases: with
     *         OpenSSL, the garbage collector frees their native memory
     */
    public NettyTls releasedByGc() {
        return new NettyTls(openssl, true, description, logLine, logLevel);
    }

    /**
     * A listener's context builder: the node's certificate, TLS 1.3 only, and, unless
     * {@code auth} is {@link ClientAuth#NONE}, the node's trust manager for dialers'
     * certificates.
     *
     * @param identity the node's identity
     * @param auth     whether dialers must present a certificate
     * @return the builder, to build or adjust
     */
    public SslContextBuilder server(NodeIdentity identity, ClientAuth auth) {
        SslContextBuilder b = SslContextBuilder.forServer(identity.keyManager());
        if (auth != ClientAuth.NONE) {
            b.trustManager(identity.trustManager());
        }
        return b.sslProvider(provider()).protocols(PROTOCOLS).clientAuth(auth);
    }

    /**
     * A dialer's context builder: the node's certificate, TLS 1.3 only, no host name check.
     *
     * @param identity the node's identity
     * @param trust    checks the listener's certificate (a {@link io.kizuna.identity.DialTrustManager})
     * @return the builder, to build or adjust
     */
    public SslContextBuilder client(NodeIdentity identity, X509ExtendedTrustManager trust) {
        return SslContextBuilder.forClient().keyManager(identity.keyManager()).trustManager(trust)
                .sslProvider(provider()).protocols(PROTOCOLS).endpointIdentificationAlgorithm(null);
    }

    /**
     * Gives up the builder's reference to a context; its engines keep it alive
     * until they are released. Does nothing for a JDK context or one released already.
     *
     * @param context a context built here, may be null
     */
    public static void release(SslContext context) {
        if (context instanceof ReferenceCounted r && r.refCnt() > 0) {
            r.release();
        }
    }

    /**
     * @param context a context built here, may be null
     * @return an action that {@linkplain #release(SslContext) releases} it the first time it runs, and
     *         does nothing after: for a context released from two places, whichever comes first
     */
    public static Runnable releaseOnce(SslContext context) {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                release(context);
            }
        };
    }

    /**
     * @param engine an engine made by a context of this class
     * @return whether it is OpenSSL's
     */
    public static boolean isOpenSsl(SSLEngine engine) {
        return engine instanceof ReferenceCountedOpenSslEngine;
    }

    @Override
    public String toString() {
        return describe();
    }
}
