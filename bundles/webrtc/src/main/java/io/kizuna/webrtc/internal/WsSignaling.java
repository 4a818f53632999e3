package io.kizuna.webrtc.internal;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.TransportException;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;

/**
 * WebSocket signaling: the server a {@code webrtc://ip:port} endpoint listens
 * with, and the client a dialer uses. The WebSocket path is {@value #PATH}; plain
 * HTTP requests get the page of {@link WebPage}. Before its upgrade a server's
 * connection passes a {@link SignalingGate}.
 */
final class WsSignaling {

    /** The WebSocket path of the signaling endpoint. */
    static final String PATH = "/kizuna/webrtc/signal";

    private static final int MAX_HTTP_REQUEST = 8 * 1024;

    private WsSignaling() {
    }

    /**
     * Binds a signaling server.
     *
     * @param group     the event loop
     * @param local     where to bind
     * @param maxFrame  the largest message
     * @param gate      what may wait for an upgrade, how long, and from which origins
     * @param sessions  receives each WebSocket once its handshake completed
     * @return the bound server channel
     */
    static CompletableFuture<Channel> serve(EventLoopGroup group, InetSocketAddress local, int maxFrame,
            SignalingGate gate, Consumer<SignalingChannel> sessions) {
        CompletableFuture<Channel> bound = new CompletableFuture<>();
        new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SignalingGate.Pending pending = gate.admit(ch);
                        if (pending == null) {
                            return;
                        }
                        WsChannel ws = new WsChannel(ch);
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_HTTP_REQUEST),
                                pending, new WebPage(PATH),
                                new WebSocketServerProtocolHandler(PATH, null, false, maxFrame),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt)
                                            throws Exception {
                                        if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete) {
                                            pending.upgraded();
                                            sessions.accept(ws);
                                        }
                                        super.userEventTriggered(ctx, evt);
                                    }
                                }, ws);
                    }
                })
                .bind(local).addListener(f -> {
                    if (f.isSuccess()) {
                        bound.complete(((io.netty.channel.ChannelFuture) f).channel());
                    } else {
                        bound.completeExceptionally(new TransportException.Io("cannot listen for WebRTC signaling on "
                                + local + ": " + f.cause().getMessage(), f.cause()));
                    }
                });
        return bound;
    }

    /**
     * Opens a signaling WebSocket to an endpoint.
     *
     * @param group    the event loop
     * @param endpoint the peer's {@code webrtc://} endpoint
     * @param timeout  connect and WebSocket handshake
     * @param maxFrame the largest message
     * @return the channel, once the WebSocket handshake completed
     */
    static CompletableFuture<SignalingChannel> connect(EventLoopGroup group, Endpoint endpoint, Duration timeout,
            int maxFrame) {
        CompletableFuture<SignalingChannel> open = new CompletableFuture<>();
        InetSocketAddress to = endpoint.address();
        URI uri = URI.create("ws://" + endpoint.toString().substring(endpoint.protocol().length() + 3) + PATH);
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, timeout.toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        WsChannel ws = new WsChannel(ch);
                        ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_HTTP_REQUEST),
                                new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory.newHandshaker(
                                        uri, WebSocketVersion.V13, null, false, EmptyHttpHeaders.INSTANCE,
                                        maxFrame)),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt)
                                            throws Exception {
                                        if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent
                                                .HANDSHAKE_COMPLETE) {
                                            open.complete(ws);
                                        } else if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent
                                                .HANDSHAKE_TIMEOUT) {
                                            open.completeExceptionally(new TransportException.ConnectionFailed(
                                                    "WebRTC signaling at " + endpoint + ": no WebSocket handshake",
                                                    null));
                                        }
                                        super.userEventTriggered(ctx, evt);
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
                                        open.completeExceptionally(new TransportException.ConnectionFailed(
                                                "WebRTC signaling at " + endpoint + " closed during the WebSocket "
                                                        + "handshake; is it a Kizuna webrtc endpoint?", null));
                                        super.channelInactive(ctx);
                                    }
                                }, ws);
                    }
                })
                .connect(to).addListener(f -> {
                    if (!f.isSuccess()) {
                        Throwable c = f.cause();
                        String why = c instanceof ConnectException ? "connection refused" : String.valueOf(
                                c.getMessage());
                        open.completeExceptionally(new TransportException.ConnectionFailed("WebRTC signaling to "
                                + endpoint + " failed: " + why + "; check that the peer runs and listens there",
                                c));
                    }
                });
        return open;
    }
}
