/**
 * The TLS engine of the transports that run TLS on Netty's {@code SslHandler}
 * (tcp, websocket, relay circuits): OpenSSL (BoringSSL through netty-tcnative)
 * or the JDK's, chosen once when a transport starts from
 * {@link io.kizuna.identity.NodeIdentity#tlsEngine()} and whether the native
 * library loads ({@link io.kizuna.transport.support.tls.NativeTls}).
 *
 * <p>Like its parent package it is not exported: the transports copy it in
 * privately with bnd's {@code -conditionalpackage}. It is a package of its own
 * so that a transport that needs only one of the two (the quic transport copies
 * the parent, the relay only this one) does not import the other.
 */
package io.kizuna.transport.support.tls;
