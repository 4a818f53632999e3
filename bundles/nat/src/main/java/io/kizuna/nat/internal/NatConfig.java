package io.kizuna.nat.internal;

import io.kizuna.nat.internal.punch.PunchSettings;

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

    @AttributeDefinition(description = "Hole punching: CIDR prefixes a peer's candidates must lie in to be probed; "
            + "none for any public address. A private or loopback prefix listed here is allowed too")
    String[] punchNetworks() default {};

    @AttributeDefinition(description = "Hole punching: also probe loopback, private (RFC 1918, fc00::/7), "
            + "link-local and CGNAT candidates (a LAN or a lab); never multicast, unspecified or broadcast ones")
    boolean punchPrivateAddresses() default false;

    @AttributeDefinition(description = "Hole punching: rounds of probes before giving up (1 to 10)")
    int punchRounds() default PunchSettings.DEFAULT_ROUNDS;

    @AttributeDefinition(description = "Hole punching: each round's budget in ms (500 to 10000); probes leave at "
            + "0, 50, 100, 200 ... ms within it")
    int punchRoundMillis() default PunchSettings.DEFAULT_ROUND_MILLIS;

    @AttributeDefinition(description = "Hole punching: sessions one peer may have per minute (1 to 1000); one at a "
            + "time")
    int punchSessionsPerPeerPerMinute() default PunchSettings.DEFAULT_PER_PEER_PER_MINUTE;

    @AttributeDefinition(description = "Hole punching: sessions at once with all peers (1 to 1000)")
    int maxPunchSessions() default PunchSettings.DEFAULT_MAX_SESSIONS;
}
