package io.kizuna.nat.internal;

import java.net.InetSocketAddress;
import java.util.List;

/** Test access to the package-private constructor. */
public final class NatServices {
    private NatServices() {
    }

    /**
     * @param servers the configured servers
     * @param timing  the probe schedule
     * @return a service without a STUN server and without lifetime measurement
     */
    public static NatService create(List<InetSocketAddress> servers, StunClient.Timing timing) {
        return new NatService(servers, timing, null, null);
    }
}
