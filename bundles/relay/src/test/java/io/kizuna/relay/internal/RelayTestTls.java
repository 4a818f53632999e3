package io.kizuna.relay.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.TlsEngine;
import io.kizuna.transport.support.tls.NativeTls;
import io.kizuna.transport.support.tls.NettyTls;

/** The TLS engines the relay's tests run circuits on. */
final class RelayTestTls {

    private RelayTestTls() {
    }

    /** @return OpenSSL, as circuits use it; fails, rather than skips, when the native library does not load */
    static NettyTls openssl() {
        try {
            return NettyTls.choose(TlsEngine.OPENSSL, NativeTls::probe).releasedByGc();
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
