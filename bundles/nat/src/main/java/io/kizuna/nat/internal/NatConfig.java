package io.kizuna.nat.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of PID {@code io.kizuna.nat}. With none, the node sends no STUN traffic anywhere. */
@ObjectClassDefinition(name = "Kizuna NAT traversal", description = "STUN servers to ask, and the optional STUN server")
@interface NatConfig {

    /** The PID. */
    String PID = "io.kizuna.nat";

    @AttributeDefinition(description = "STUN servers as host:port or [ipv6]:port; none by default, so no traffic is sent")
    String[] stunServers() default {};

    @AttributeDefinition(description = "Initial retransmission timeout of a probe in ms (RFC 8489 RTO)")
    int probeRtoMillis() default 200;

    @AttributeDefinition(description = "Sends per probe (RFC 8489 Rc)")
    int probeSends() default 3;

    @AttributeDefinition(description = "Final wait after the last send, in RTOs (RFC 8489 Rm)")
    int probeFinalWait() default 4;

    @AttributeDefinition(description = "Longest binding lifetime to measure, in seconds; 0 does not measure it")
    int lifetimeMaxSeconds() default 0;

    @AttributeDefinition(description = "Run a STUN server (on public nodes)")
    boolean serverEnabled() default false;

    @AttributeDefinition(description = "The STUN server's primary address, ip:port")
    String serverAddress() default "0.0.0.0:3478";

    @AttributeDefinition(description = "A second IP address for RFC 5780 behaviour discovery; empty for none")
    String serverAlternateIp() default "";

    @AttributeDefinition(description = "The second port for RFC 5780, used with serverAlternateIp")
    int serverAlternatePort() default 3479;
}
