package io.kizuna.lab;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

import io.kizuna.identity.DialTrustManager;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.quic.QuicChannel;
import io.netty.handler.codec.quic.QuicClientCodecBuilder;
import io.netty.handler.codec.quic.QuicSslContext;
import io.netty.handler.codec.quic.QuicSslContextBuilder;
import io.netty.handler.codec.quic.QuicSslEngine;
import io.netty.handler.codec.quic.QuicStreamChannel;
import io.netty.handler.codec.quic.QuicStreamType;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;

/**
 * QUIC connections for {@link ConnectionLoad}, each as a Kizuna dialer makes one:
 * its own UDP socket, TLS 1.3 with ALPN {@code kizuna/1} and the identity-bound
 * certificate of its own peer (one client context, whose key manager picks each
 * connection's identity by its engine), the listener's PeerId checked in the
 * handshake, then the preamble byte, OPEN and HELLO on the first stream; while
 * held idle, a 1-byte DATAGRAM keep-alive every {@value #KEEP_ALIVE_SECONDS} s,
 * as a dialer sends.
 * No TLS session is resumed (engines are made without a peer host, so nothing is
 * cached): every handshake is a full one.
 */
final class QuicLoad implements AutoCloseable {

    private static final String ALPN = "kizuna/1";
    /** The first byte each side sends on the first stream (the transport's stream layout version). */
    private static final byte PREAMBLE = 1;
    private static final int KEEP_ALIVE_SECONDS = 10;
    private static final AttributeKey<NodeIdentity> IDENTITY = AttributeKey.valueOf("kizuna.load.identity");

    private final InetSocketAddress node;
    private final boolean keepAlive;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final Keys keys = new Keys();
    private final QuicSslContext context;

    /**
     * @param node      the listener
     * @param expected  its PeerId
     * @param keepAlive whether held connections send keep-alives
     */
    QuicLoad(InetSocketAddress node, PeerId expected, boolean keepAlive) {
        this.node = node;
        this.keepAlive = keepAlive;
        this.context = QuicSslContextBuilder.forClient().keyManager(keys, null)
                .trustManager(DialTrustManager.forPeer(Identities.generate().trustManager(), expected))
                .applicationProtocols(ALPN).build();
    }

    /** Dials, says hello and waits for the node's; the returned handle closes connection and socket. */
    AutoCloseable connect(NodeIdentity self) throws IOException {
        ChannelHandler perSocket = new QuicClientCodecBuilder()
                .sslEngineProvider(q -> {
                    QuicSslEngine e = context.newEngine(q.alloc());
                    keys.bind(e, q.attr(IDENTITY).get());
                    q.closeFuture().addListener(f -> keys.forget(e));
                    return e;
                })
                .maxIdleTimeout(60_000, TimeUnit.MILLISECONDS)
                .initialMaxData(1 << 20)
                .initialMaxStreamDataBidirectionalLocal(256 << 10)
                .initialMaxStreamDataBidirectionalRemote(256 << 10)
                .initialMaxStreamsBidirectional(16)
                .initialMaxStreamsUnidirectional(0)
                .datagram(4, 4)
                .build();
        Channel socket;
        try {
            socket = new Bootstrap().group(group).channel(NioDatagramChannel.class).handler(perSocket)
                    .bind(new InetSocketAddress(0)).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        }
        try {
            QuicChannel quic = QuicChannel.newBootstrap(socket).attr(IDENTITY, self)
                    .handler(new ChannelInboundHandlerAdapter()).streamHandler(new ChannelInboundHandlerAdapter())
                    .remoteAddress(node).connect().get(ConnectionLoad.TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            quic.closeFuture().addListener(f -> socket.close());
            CompletableFuture<Void> hello = new CompletableFuture<>();
            ConnectionLoad.HelloWaiter waiter = new ConnectionLoad.HelloWaiter();
            QuicStreamChannel stream = quic.createStream(QuicStreamType.BIDIRECTIONAL,
                    new ChannelInboundHandlerAdapter() {
                        private boolean preamble;

                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ByteBuf b = (ByteBuf) msg;
                            try {
                                if (!preamble && b.isReadable()) {
                                    // the listener's preamble says it took the connection
                                    if (b.readByte() != PREAMBLE) {
                                        throw new IOException("the node's first stream did not start with "
                                                + "the preamble");
                                    }
                                    preamble = true;
                                }
                                if (waiter.take(b.nioBuffer())) {
                                    hello.complete(null);
                                }
                            } catch (IOException e) {
                                hello.completeExceptionally(e);
                            } finally {
                                b.release();
                            }
                        }

                        @Override
                        public void channelInactive(ChannelHandlerContext ctx) {
                            hello.completeExceptionally(new IOException("the node closed the stream before its "
                                    + "HELLO"));
                        }
                    }).get(ConnectionLoad.TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            stream.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {PREAMBLE}, ConnectionLoad.hello(self, "quic")));
            hello.get(ConnectionLoad.TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            ScheduledFuture<?> beat = keepAlive ? quic.eventLoop().scheduleAtFixedRate(
                    () -> quic.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {0})), KEEP_ALIVE_SECONDS,
                    KEEP_ALIVE_SECONDS, TimeUnit.SECONDS) : null;
            return () -> {
                if (beat != null) {
                    beat.cancel(false);
                }
                quic.close().await(1, TimeUnit.SECONDS);
                socket.close();
            };
        } catch (Exception e) {
            socket.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            Throwable cause = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null
                    ? e.getCause() : e;
            throw new IOException("QUIC connect to " + node + ": " + cause, cause);
        }
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    /** One client context for every connection: each engine presents the identity its connection was given. */
    private static final class Keys extends X509ExtendedKeyManager {
        private final Map<SSLEngine, NodeIdentity> byEngine = new ConcurrentHashMap<>();
        private final Map<String, NodeIdentity> byAlias = new ConcurrentHashMap<>();
        private final Map<SSLEngine, String> aliases = new ConcurrentHashMap<>();

        void bind(SSLEngine engine, NodeIdentity identity) {
            if (identity == null) {
                throw new IllegalStateException("a QUIC connection of the load without an identity");
            }
            byEngine.put(engine, identity);
        }

        void forget(SSLEngine engine) {
            byEngine.remove(engine);
            String alias = aliases.remove(engine);
            if (alias != null) {
                byAlias.remove(alias);
            }
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            NodeIdentity id = byEngine.get(engine);
            String inner = id == null ? null : id.keyManager().chooseEngineClientAlias(keyType, issuers, engine);
            if (inner == null) {
                return null;
            }
            String alias = id.peerId() + "/" + inner;
            byAlias.put(alias, id);
            aliases.put(engine, alias);
            return alias;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            NodeIdentity id = byAlias.get(alias);
            return id == null ? null : id.keyManager().getCertificateChain(inner(alias));
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            NodeIdentity id = byAlias.get(alias);
            return id == null ? null : id.keyManager().getPrivateKey(inner(alias));
        }

        private static String inner(String alias) {
            return alias.substring(alias.indexOf('/') + 1);
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }
    }
}
