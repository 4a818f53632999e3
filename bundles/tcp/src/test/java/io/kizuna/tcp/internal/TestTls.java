package io.kizuna.tcp.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.TlsEngine;
import io.kizuna.transport.support.tls.NativeTls;
import io.kizuna.transport.support.tls.NettyTls;

/** The TLS engines the tests run the transport on. */
final class TestTls {

    private TestTls() {
    }

    /** @return OpenSSL; fails, rather than skips, when the native library (a test dependency) does not load */
    static NettyTls openssl() {
        try {
            return NettyTls.chooseForHalfClose(TlsEngine.OPENSSL, NativeTls::probe);
        } catch (SSLException e) {
            throw new IllegalStateException("these tests run on OpenSSL: " + e.getMessage(), e);
        }
    }

    /** @return the JDK's engine */
    static NettyTls jdk() {
        try {
            return NettyTls.choose(TlsEngine.JDK, () -> {
                throw new AssertionError("tlsEngine = jdk never asks for OpenSSL");
            });
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }
}
