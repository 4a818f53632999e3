package io.kizuna.webrtc.internal;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Answers plain HTTP requests on the signaling endpoint: {@code GET /} is the
 * small page with which a browser opens a DataChannel to this node (it signals
 * over the WebSocket at {@code signalPath}); anything else is 404. WebSocket
 * upgrade requests pass through.
 */
final class WebPage extends ChannelInboundHandlerAdapter {

    private static final Map<String, String[]> FILES = Map.of(
            "/", new String[] {"web/index.html", "text/html; charset=utf-8"},
            "/kizuna-webrtc.js", new String[] {"web/kizuna-webrtc.js", "text/javascript; charset=utf-8"});

    private final String signalPath;

    WebPage(String signalPath) {
        this.signalPath = signalPath;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!(msg instanceof FullHttpRequest req) || req.uri().equals(signalPath)) {
            super.channelRead(ctx, msg);
            return;
        }
        try {
            String path = req.uri().split("\\?", 2)[0];
            String[] file = FILES.get(path);
            byte[] body = req.method().equals(HttpMethod.GET) && file != null ? read(file[0]) : null;
            FullHttpResponse res;
            if (body == null) {
                res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND,
                        Unpooled.copiedBuffer("not found\n", java.nio.charset.StandardCharsets.UTF_8));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            } else {
                res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                        Unpooled.wrappedBuffer(body));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, file[1]);
                res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
            }
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
            ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
        } finally {
            req.release();
        }
    }

    private static byte[] read(String resource) throws IOException {
        try (InputStream in = WebPage.class.getClassLoader().getResourceAsStream(resource)) {
            return in == null ? null : in.readAllBytes();
        }
    }
}
