package io.kizuna.transport;

/** The behaviour of the NAT in front of a node, as NAT behaviour discovery (RFC 5780) reports it. */
public enum NatType {
    /** No NAT: the node's own address is public. */
    OPEN,
    /** Endpoint-independent mapping and filtering: anyone can reach the mapped port. */
    FULL_CONE,
    /** Endpoint-independent mapping, address-dependent filtering. */
    RESTRICTED_CONE,
    /** Endpoint-independent mapping, address-and-port-dependent filtering. */
    PORT_RESTRICTED_CONE,
    /** A new mapping per destination: hole punching needs port prediction or a relay. */
    SYMMETRIC,
    /** UDP does not get through at all. */
    BLOCKED,
    /** Discovery could not tell (no STUN server, too few answers). */
    UNKNOWN
}
