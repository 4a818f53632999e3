/**
 * Code the stream transports share: the state machine of a connection that is
 * one Netty channel ({@link io.kizuna.transport.support.ChannelStream}), its read
 * queue, the bookkeeping of a transport's lifecycle, connections and dials
 * ({@link io.kizuna.transport.support.TransportLifecycle}), and the checks of
 * its settings.
 *
 * <p>This package is not exported and belongs to no bundle of its own. Each
 * transport bundle (tcp, quic, websocket) copies it in privately with bnd's
 * {@code -conditionalpackage}, so each keeps its own copy, built against the
 * Netty it imports, and stays hot-swappable on its own: stopping or updating
 * one transport never touches the classes another runs on.
 */
package io.kizuna.transport.support;
