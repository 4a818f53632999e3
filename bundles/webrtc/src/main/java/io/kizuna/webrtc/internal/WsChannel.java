package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * A signaling path over one WebSocket: each text frame is one message. Binary
 * frames are refused (the connection closes), and at most a few messages wait
 * for a receiver before the channel closes.
 */
final class WsChannel extends SimpleChannelInboundHandler<WebSocketFrame> implements SignalingChannel {

    private static final System.Logger LOG = System.getLogger(WsChannel.class.getName());
    /** Messages kept until {@link #onMessage} is called: an offer and its first candidates. */
    private static final int MAX_EARLY = 64;

    private final Channel channel;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final Queue<String> early = new ArrayDeque<>();
    private Consumer<String> receiver;

    WsChannel(Channel channel) {
        this.channel = channel;
        channel.closeFuture().addListener(f -> closed.complete(null));
    }

    @Override
    public void send(String json) {
        channel.writeAndFlush(new TextWebSocketFrame(json))
                .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    }

    @Override
    public void onMessage(Consumer<String> r) {
        channel.eventLoop().execute(() -> {
            receiver = r;
            String m;
            while ((m = early.poll()) != null) {
                r.accept(m);
            }
        });
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
        if (!(frame instanceof TextWebSocketFrame text)) {
            LOG.log(System.Logger.Level.DEBUG, "closing signaling WebSocket from {0}: a {1} frame, expected text",
                    channel.remoteAddress(), frame.getClass().getSimpleName());
            ctx.close();
            return;
        }
        String m = text.text();
        if (receiver != null) {
            receiver.accept(m);
        } else if (early.size() < MAX_EARLY) {
            early.add(m);
        } else {
            LOG.log(System.Logger.Level.WARNING, "closing signaling WebSocket from {0}: more than {1} messages "
                    + "before the session started", channel.remoteAddress(), MAX_EARLY);
            ctx.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(System.Logger.Level.DEBUG, "signaling WebSocket with " + channel.remoteAddress() + " failed", cause);
        ctx.close();
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }

    @Override
    public void close() {
        channel.close();
    }

    @Override
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return (InetSocketAddress) channel.remoteAddress();
    }
}
