package io.kizuna.relay.internal;

import io.kizuna.transport.support.tls.NettyTls;

/** The end-to-end TLS of a circuit on the JDK's engine. */
class CircuitConnectionJdkTest extends CircuitConnectionTest {

    @Override
    NettyTls engine() {
        return RelayTestTls.jdk();
    }
}
