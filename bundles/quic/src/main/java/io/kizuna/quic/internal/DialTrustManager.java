package io.kizuna.quic.internal;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.PeerCertificates;
import io.kizuna.transport.PeerId;

/**
 * The dialer's trust manager, shared by every dial so that one client TLS
 * context (and its session cache, for resumption and 0-RTT) serves them all.
 * Each dial registers the engine it created with the PeerId it expects; the
 * listener's certificate is accepted only when it is bound to that PeerId.
 *
 * <p>Checking inside the handshake means a listener with the wrong key never
 * gets the dialer's Finished; the PeerId it did present is kept for the error
 * the dialer reports.
 */
final class DialTrustManager extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager node;
    private final Map<SSLEngine, PeerId> expected = new ConcurrentHashMap<>();
    private final Map<SSLEngine, PeerId> presented = new ConcurrentHashMap<>();

    DialTrustManager(X509ExtendedTrustManager node) {
        this.node = node;
    }

    /** The dial that created {@code engine} expects {@code peer}. */
    void expect(SSLEngine engine, PeerId peer) {
        expected.put(engine, peer);
    }

    /** @return the PeerId the listener proved on {@code engine} when it was not the expected one, else null */
    PeerId mismatch(SSLEngine engine) {
        return engine == null ? null : presented.get(engine);
    }

    /** The dial that used {@code engine} is over. */
    void forget(SSLEngine engine) {
        if (engine != null) {
            expected.remove(engine);
            presented.remove(engine);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        node.checkServerTrusted(chain, authType, engine);
        PeerId want = expected.get(engine);
        if (want == null) {
            throw new CertificateException("no dial of this node expects a listener on this connection");
        }
        PeerId proved = PeerCertificates.verify(chain);
        if (!proved.equals(want)) {
            presented.put(engine, proved);
            throw new CertificateException("the listener's certificate is bound to " + proved
                    + ", not to the dialed peer " + want);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        throw new CertificateException("QUIC dials check listeners through their engine");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("QUIC dials check listeners through their engine");
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
