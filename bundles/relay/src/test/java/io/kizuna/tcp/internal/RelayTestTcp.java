package io.kizuna.tcp.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Transport;

/** Builds TCP transports outside the framework for the relay's tests. */
public final class RelayTestTcp {

    private RelayTestTcp() {
    }

    /** @return a TCP transport with default settings for this identity */
    public static Transport start(NodeIdentity identity) {
        try {
            return new TcpTransport(identity, TcpSettings.defaults());
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops it: connections close gracefully, event loops stop. */
    public static void stop(Transport t) {
        ((TcpTransport) t).deactivate();
    }
}
