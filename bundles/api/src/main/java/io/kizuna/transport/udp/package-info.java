/**
 * A transport's UDP socket shared with other bundles: datagrams that are not the
 * transport's own protocol are sent from, and received on, the very socket
 * (address and port) the transport listens on.
 *
 * <p>The QUIC transport registers one {@link io.kizuna.transport.udp.SharedUdpSocket}
 * service per listening socket. STUN (RFC 8489) uses it so that the reflexive
 * address a STUN server reports is the one peers reach over QUIC; hole punching
 * sends its probes through it, so that the NAT mapping it opens is QUIC's.
 * The package lives in the API bundle, not in the QUIC bundle, so that a bundle
 * using the service is not wired to the QUIC bundle: updating or refreshing QUIC
 * makes the service go and come back, and nothing else.
 *
 * <p>Since 1.1.0, {@link io.kizuna.transport.udp.PunchSockets} opens sockets of
 * their own for hole punching: shared as above until the punch got through,
 * then the transport's connection is dialed from the same socket
 * ({@link io.kizuna.transport.udp.PunchSocket#connect}), because a NAT mapping
 * belongs to one socket.
 */
@Export
@Version("1.1.0")
package io.kizuna.transport.udp;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
