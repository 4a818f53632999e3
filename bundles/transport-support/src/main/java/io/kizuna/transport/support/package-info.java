/**
 * Code the stream transports share: the state machine of a connection that is
 * one Netty channel, its read queue, and the bookkeeping of a transport's
 * lifecycle, connections and dials.
 *
 * <p>This package is not exported and belongs to no bundle of its own. Each
 * transport bundle (tcp, quic, websocket) copies it in privately with bnd's
 * {@code -conditionalpackage}, so each keeps its own copy, built against the
 * Netty it imports, and stays hot-swappable on its own: stopping or updating
 * one transport never touches the classes another runs on.
 */
package io.kizuna.transport.support;
