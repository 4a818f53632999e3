package io.kizuna.tcp.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.identity.TlsEngine;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.support.tls.NativeTls;
import io.kizuna.transport.support.tls.NettyTls;
import io.netty.handler.ssl.SslHandler;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Which TLS engine the TCP transport runs on: OpenSSL when the identity allows
 * it and the native library loads, else the JDK's with the reason said; and the
 * two engines speaking to each other with the same PeerId checks.
 */
@Timeout(value = 60, unit = SECONDS)
class TcpTlsEngineTest {

    private final List<TcpTransport> nodes = new ArrayList<>();

    @AfterEach
    void stop() {
        nodes.forEach(TcpTransport::deactivate);
    }

    private TcpTransport node(NodeIdentity identity, NettyTls tls) throws SSLException {
        TcpTransport node = tls == null ? new TcpTransport(identity, TcpSettings.defaults())
                : new TcpTransport(identity, TcpSettings.defaults(), tls);
        nodes.add(node);
        return node;
    }

    private record Pair(TcpConnection dialer, TcpConnection accepted) {
    }

    private static Pair connect(TcpTransport dialer, TcpTransport listener, PeerId expected) throws Exception {
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listener.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        Connection c = dialer.connect(PeerAddress.of(expected, l.endpoint()), Duration.ofSeconds(10))
                .toCompletableFuture().get(10, SECONDS);
        return new Pair((TcpConnection) c, (TcpConnection) accepted.poll(10, SECONDS));
    }

    private static boolean openSsl(TcpConnection c) {
        return NettyTls.isOpenSsl(c.channel().pipeline().get(SslHandler.class).engine());
    }

    @Test
    void withTheDefaultConfigurationTcpStaysOnTheJdkAsOpenSslCannotHalfClose() throws Exception {
        NodeIdentity a = Identities.generate();
        NodeIdentity b = Identities.generate();
        TcpTransport dialer = node(a, null);
        TcpTransport listener = node(b, null);
        assertThat(dialer.tlsEngine()).contains("jdk (OpenSSL cannot half-close, which this transport needs)");

        Pair p = connect(dialer, listener, b.peerId());
        assertThat(openSsl(p.dialer())).isFalse();
        assertThat(openSsl(p.accepted())).isFalse();
    }

    @Test
    void anIdentityConfiguredForOpenSslRunsTcpOnOpenSslAndSaysItCannotHalfClose() throws Exception {
        NodeIdentity a = withEngine(Identities.generate(), TlsEngine.OPENSSL);
        NodeIdentity b = withEngine(Identities.generate(), TlsEngine.OPENSSL);
        TcpTransport dialer = node(a, null);
        TcpTransport listener = node(b, null);
        assertThat(dialer.tlsEngine()).hasValueSatisfying(v -> assertThat(v).startsWith("openssl (BoringSSL")
                .endsWith(", no half-close)"));

        Pair p = connect(dialer, listener, b.peerId());
        assertThat(openSsl(p.dialer())).isTrue();
        assertThat(openSsl(p.accepted())).isTrue();
        assertThat(p.dialer().info().peerId()).isEqualTo(b.peerId());
        assertThat(p.accepted().info().peerId()).isEqualTo(a.peerId());
    }

    @Test
    void anIdentityConfiguredForTheJdkGetsTheJdk() throws Exception {
        TcpTransport node = node(withEngine(Identities.generate(), TlsEngine.JDK), null);
        assertThat(node.tlsEngine()).contains("jdk (tlsEngine = jdk)");
        assertThat(node.nettyTls().isOpenSsl()).isFalse();
    }

    @Test
    void withoutTheNativeLibraryAutoFallsBackToTheJdkAndLogsWhy() throws Exception {
        List<LogRecord> logged = new ArrayList<>();
        Logger log = Logger.getLogger(TcpTransport.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                synchronized (logged) {
                    logged.add(r);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(capture);
        try {
            NettyTls fallback = NettyTls.choose(TlsEngine.AUTO,
                    () -> NativeTls.unavailable(new UnsatisfiedLinkError("no netty_tcnative_linux_x86_64 in path")));
            NodeIdentity a = Identities.generate();
            NodeIdentity b = Identities.generate();
            TcpTransport dialer = node(a, fallback);
            TcpTransport listener = node(b, TestTls.openssl());
            assertThat(dialer.tlsEngine())
                    .contains("jdk (native library not loaded: no netty_tcnative_linux_x86_64 in path)");

            // The JDK dialer and the OpenSSL listener authenticate each other as ever.
            Pair p = connect(dialer, listener, b.peerId());
            assertThat(openSsl(p.dialer())).isFalse();
            assertThat(openSsl(p.accepted())).isTrue();
            assertThat(p.accepted().info().peerId()).isEqualTo(a.peerId());
        } finally {
            log.removeHandler(capture);
        }
        synchronized (logged) {
            assertThat(logged).anySatisfy(r -> {
                assertThat(r.getLevel()).isEqualTo(Level.WARNING);
                assertThat(java.text.MessageFormat.format(r.getMessage(), r.getParameters()))
                        .contains("tcp: TLS 1.3 on the JDK's engine, as OpenSSL cannot be used: "
                                + "native library not loaded: no netty_tcnative_linux_x86_64 in path");
            });
        }
    }

    @Test
    void withoutTheTcnativeClassesTheReasonSaysSo() throws Exception {
        NettyTls fallback = NettyTls.choose(TlsEngine.AUTO,
                () -> NativeTls.unavailable(new ClassNotFoundException("io.netty.internal.tcnative.SSLContext")));
        assertThat(fallback.describe())
                .isEqualTo("jdk (netty-tcnative is not installed (io.netty.internal.tcnative.SSLContext))");
    }

    @Test
    void openSslAskedForButNotLoadableStopsTheTransportFromStarting() {
        assertThatThrownBy(() -> NettyTls.chooseForHalfClose(TlsEngine.OPENSSL,
                () -> NativeTls.unavailable("native library not loaded: simulated")))
                .isInstanceOf(SSLException.class)
                .hasMessageContaining("tlsEngine = openssl (PID io.kizuna.identity)")
                .hasMessageContaining("native library not loaded: simulated")
                .hasMessageContaining("set tlsEngine = auto");
        assertThatThrownBy(() -> NettyTls.choose(TlsEngine.OPENSSL,
                () -> NativeTls.unavailable("native library not loaded: simulated")))
                .isInstanceOf(SSLException.class);
    }

    @Test
    void anOpenSslDialerRefusesAJdkListenerWithAnotherKeyAndTheOtherWayRound() throws Exception {
        NodeIdentity expected = Identities.generate();
        for (boolean dialerOnOpenSsl : new boolean[] {true, false}) {
            NodeIdentity impostor = Identities.generate();
            TcpTransport dialer = node(Identities.generate(), dialerOnOpenSsl ? TestTls.openssl() : TestTls.jdk());
            TcpTransport listener = node(impostor, dialerOnOpenSsl ? TestTls.jdk() : TestTls.openssl());
            BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            Listener l = listener.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add)
                    .toCompletableFuture().get(10, SECONDS);
            assertThatThrownBy(() -> dialer.connect(PeerAddress.of(expected.peerId(), l.endpoint()),
                    Duration.ofSeconds(10)).toCompletableFuture().get(10, SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                    .hasMessageContaining(expected.peerId().toString())
                    .hasMessageContaining(impostor.peerId().toString());
            assertThat(accepted.poll(500, java.util.concurrent.TimeUnit.MILLISECONDS))
                    .as("the impostor never hands the connection to its application").isNull();
        }
    }

    /** The identity with another configured engine. */
    private static NodeIdentity withEngine(NodeIdentity id, TlsEngine engine) {
        return new NodeIdentity() {
            @Override
            public PeerId peerId() {
                return id.peerId();
            }

            @Override
            public byte[] sign(byte[] data) {
                return id.sign(data);
            }

            @Override
            public X509ExtendedKeyManager keyManager() {
                return id.keyManager();
            }

            @Override
            public X509ExtendedTrustManager trustManager() {
                return id.trustManager();
            }

            @Override
            public SSLContext sslContext() {
                return id.sslContext();
            }

            @Override
            public TlsEngine tlsEngine() {
                return engine;
            }
        };
    }
}
