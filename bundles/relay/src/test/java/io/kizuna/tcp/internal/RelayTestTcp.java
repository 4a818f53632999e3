package io.kizuna.tcp.internal;

import javax.net.ssl.SSLException;

import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.Transport;
import io.kizuna.transport.support.tls.NettyTls;

/** Builds TCP transports outside the framework for the relay's tests. */
public final class RelayTestTcp {

    private RelayTestTcp() {
    }

    /**
     * A TCP transport with default settings for this identity, TLS on the JDK's engine: the relay's tests
     * splice these connections themselves and half-close them, which a node never does to a hop (its hops
     * carry multiplexed streams) and which OpenSSL cannot do (it answers a close_notify with its own).
     *
     * @param identity the node's identity
     * @return the transport
     */
    public static Transport start(NodeIdentity identity) {
        try {
            return new TcpTransport(identity, TcpSettings.defaults(), NettyTls.jdk("relay test hops"));
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stops it: connections close gracefully, event loops stop. */
    public static void stop(Transport t) {
        ((TcpTransport) t).deactivate();
    }
}
