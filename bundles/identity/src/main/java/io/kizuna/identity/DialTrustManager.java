package io.kizuna.identity;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.transport.PeerId;

/**
 * A dialer's trust manager: it accepts a listener's certificate chain only when
 * the node's trust manager accepts it and it is bound to the PeerId the dial
 * expects. Checking inside the handshake, not after it, means a listener with
 * the wrong key never receives the dialer's Finished message, so it never hands
 * the connection to its application. The PeerId the listener did prove is kept
 * for the error the dialer reports ({@link #mismatch(SSLEngine)}).
 *
 * <p>Two ways to use it. {@link #forPeer} makes one for a single dial, which
 * expects the same PeerId on whatever engine or socket it checks. {@link #shared}
 * makes one that many dials share, so that one client TLS context (and its
 * session cache, for resumption) serves them all: each dial registers the engine
 * it created with the PeerId it expects ({@link #expect}) and forgets it when
 * done ({@link #forget}); a chain checked on an engine nobody registered is
 * refused. It never checks dialers' certificates: a listener uses the node's
 * own trust manager and reads the dialer's PeerId from the session.
 */
public final class DialTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager node;
    private final PeerId fixed;
    private final Map<SSLEngine, PeerId> expected = new ConcurrentHashMap<>();
    private final Map<SSLEngine, PeerId> presented = new ConcurrentHashMap<>();
    private volatile PeerId presentedToFixed;

    private DialTrustManager(X509ExtendedTrustManager node, PeerId fixed) {
        this.node = Objects.requireNonNull(node, "node");
        this.fixed = fixed;
    }

    /**
     * @param node     the node's trust manager ({@link NodeIdentity#trustManager()})
     * @param expected the PeerId the dial expects
     * @return a trust manager for one dial
     */
    public static DialTrustManager forPeer(X509ExtendedTrustManager node, PeerId expected) {
        return new DialTrustManager(node, Objects.requireNonNull(expected, "expected"));
    }

    /**
     * @param node the node's trust manager ({@link NodeIdentity#trustManager()})
     * @return a trust manager that dials share, each registering its engine
     */
    public static DialTrustManager shared(X509ExtendedTrustManager node) {
        return new DialTrustManager(node, null);
    }

    /**
     * Registers a dial's engine, on a shared trust manager.
     *
     * @param engine the engine the dial created
     * @param peer   the PeerId the dial expects
     */
    public void expect(SSLEngine engine, PeerId peer) {
        expected.put(Objects.requireNonNull(engine, "engine"), Objects.requireNonNull(peer, "peer"));
    }

    /**
     * The dial that used {@code engine} is over.
     *
     * @param engine its engine; null does nothing
     */
    public void forget(SSLEngine engine) {
        if (engine != null) {
            expected.remove(engine);
            presented.remove(engine);
        }
    }

    /**
     * @param engine the dial's engine; may be null for one made by {@link #forPeer}
     * @return the PeerId the listener proved when it was not the expected one, else null
     */
    public PeerId mismatch(SSLEngine engine) {
        PeerId p = engine == null ? null : presented.get(engine);
        return p != null ? p : presentedToFixed;
    }

    /** @return for one made by {@link #forPeer}: the PeerId the listener proved when it was not the expected one */
    public PeerId mismatch() {
        return presentedToFixed;
    }

    /** @return the PeerId expected by a trust manager made by {@link #forPeer}, else null */
    public PeerId expected() {
        return fixed;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, engine);
        PeerId want = fixed != null ? fixed : expected.get(engine);
        if (want == null) {
            throw new CertificateException("no dial of this node expects a listener on this connection");
        }
        check(chain, want, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, socket);
        check(chain, fixedOnly(), null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        node.checkServerTrusted(chain, authType);
        check(chain, fixedOnly(), null);
    }

    private PeerId fixedOnly() throws CertificateException {
        if (fixed == null) {
            throw new CertificateException("a shared dial trust manager checks listeners through their engine");
        }
        return fixed;
    }

    private void check(X509Certificate[] chain, PeerId want, SSLEngine engine) throws CertificateException {
        PeerId proved = PeerCertificates.verify(chain);
        if (!proved.equals(want)) {
            if (fixed != null) {
                presentedToFixed = proved;
            } else {
                presented.put(engine, proved);
            }
            throw new CertificateException("the listener's certificate is bound to " + proved
                    + ", not to the dialed peer " + want);
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this trust manager only checks listeners");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return node.getAcceptedIssuers();
    }
}
