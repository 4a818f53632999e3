package io.kizuna.webrtc.internal;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * What a signaling server lets through before a WebSocket upgrade. A connection
 * that has not upgraded is cheap to open and costs a socket and buffers, so at
 * most {@code maxPending} wait at once (more are closed on accept), and each
 * must upgrade within {@code timeoutMillis} of its accept, whatever it sends
 * meanwhile (a slow or partial request, or nothing). A page request is answered
 * and closed within the same bound.
 *
 * <p>Origins: a browser names the page that opens a WebSocket in its
 * {@code Origin} header, and any web site a user visits can open one to a
 * loopback or LAN address. The upgrade is served when the request has no
 * {@code Origin} (a node's own dialer, Node, command-line tools: not a browser
 * acting for a page), when the origin is this endpoint's own page reached by its
 * IP address ({@code http://<ip>:<port>} equal to the request's {@code Host}; a
 * DNS name is not taken as the endpoint's own, since DNS rebinding lets any site
 * bring its name to this address), or when it is listed in the
 * {@code allowedOrigins} configuration ({@code *} serves every origin). Anything
 * else gets 403.
 */
final class SignalingGate {

    private static final System.Logger LOG = System.getLogger(SignalingGate.class.getName());
    private static final Pattern IP_HOST = Pattern.compile("[0-9.]+|\\[[0-9a-fA-F:.]+\\]");
    /** Everything, in {@code allowedOrigins}. */
    static final String ANY_ORIGIN = "*";

    private final int maxPending;
    private final long timeoutMillis;
    private final List<String> allowedOrigins;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicLong refusedPending = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private final AtomicLong refusedOrigin = new AtomicLong();

    /**
     * @param maxPending     connections waiting for their upgrade at once
     * @param timeoutMillis  how long a connection may take to upgrade
     * @param allowedOrigins origins served besides the endpoint's own; {@code *} for all
     */
    SignalingGate(int maxPending, long timeoutMillis, List<String> allowedOrigins) {
        this.maxPending = maxPending;
        this.timeoutMillis = timeoutMillis;
        this.allowedOrigins = allowedOrigins.stream().map(SignalingGate::normalize).toList();
    }

    /**
     * Takes a pending slot for a new connection and arms its timer, or closes it.
     *
     * @param ch the accepted connection
     * @return the handler that checks its Origin, to put before the WebSocket handler; null when closed
     */
    Pending admit(SocketChannel ch) {
        int n;
        do {
            n = pending.get();
            if (n >= maxPending) {
                if (refusedPending.incrementAndGet() % 100 == 1) {
                    LOG.log(System.Logger.Level.WARNING, "webrtc: closing a signaling connection from {0}: "
                            + "maxPendingSignaling={1} connections wait for their WebSocket upgrade "
                            + "({2} closed so far)", ch.remoteAddress(), maxPending, refusedPending.get());
                }
                ch.close();
                return null;
            }
        } while (!pending.compareAndSet(n, n + 1));
        return new Pending(ch);
    }

    /** @return connections closed on accept because maxPendingSignaling were waiting */
    long refusedPending() {
        return refusedPending.get();
    }

    /** @return connections closed because they had not upgraded in time */
    long timedOut() {
        return timedOut.get();
    }

    /** @return upgrades refused for their Origin */
    long refusedOrigin() {
        return refusedOrigin.get();
    }

    /** @return connections waiting for their upgrade now */
    int pending() {
        return pending.get();
    }

    /**
     * @param origin the request's Origin header, or null
     * @param host   the request's Host header, or null
     * @return whether a browser page of that origin may signal here
     */
    boolean originAllowed(String origin, String host) {
        if (origin == null) {
            return true;
        }
        String o = normalize(origin);
        if (allowedOrigins.contains(ANY_ORIGIN) || allowedOrigins.contains(o)) {
            return true;
        }
        try {
            URI u = URI.create(o);
            String h = u.getRawAuthority();
            return "http".equals(u.getScheme()) && h != null && host != null && u.getPort() > 0
                    && h.equalsIgnoreCase(host.trim()) && IP_HOST.matcher(h.substring(0, h.lastIndexOf(':')))
                    .matches();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static String normalize(String origin) {
        String o = origin.trim().toLowerCase(Locale.ROOT);
        return o.endsWith("/") ? o.substring(0, o.length() - 1) : o;
    }

    /** One connection until it upgrades or closes: its slot, its timer and its Origin check. */
    final class Pending extends ChannelInboundHandlerAdapter {
        private final ScheduledFuture<?> timer;
        private boolean done;

        Pending(SocketChannel ch) {
            timer = ch.eventLoop().schedule(() -> {
                if (!done) {
                    timedOut.incrementAndGet();
                    LOG.log(System.Logger.Level.DEBUG, "webrtc: closing signaling connection from {0}: no "
                            + "WebSocket upgrade within {1} ms", ch.remoteAddress(), timeoutMillis);
                    ch.close();
                }
            }, timeoutMillis, TimeUnit.MILLISECONDS);
            ch.closeFuture().addListener(f -> release());
        }

        /** The WebSocket handshake completed: the connection is a signaling session now. */
        void upgraded() {
            release();
        }

        private void release() {
            if (!done) {
                done = true;
                timer.cancel(false);
                pending.decrementAndGet();
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof FullHttpRequest req && !originAllowed(req.headers().get(HttpHeaderNames.ORIGIN),
                    req.headers().get(HttpHeaderNames.HOST))) {
                refusedOrigin.incrementAndGet();
                LOG.log(System.Logger.Level.DEBUG, "webrtc: refusing signaling from {0}: origin {1} is not "
                        + "allowed (allowedOrigins)", ctx.channel().remoteAddress(),
                        req.headers().get(HttpHeaderNames.ORIGIN));
                ReferenceCountUtil.release(msg);
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FORBIDDEN,
                        Unpooled.copiedBuffer("origin not allowed\n", java.nio.charset.StandardCharsets.UTF_8));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            ctx.fireChannelRead(msg);
        }
    }
}
