package io.kizuna.websocket.internal;

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
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLException;

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

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Which TLS engine the WebSocket transport runs on, and the two engines
 * speaking to each other with the same PeerId checks.
 */
@Timeout(value = 60, unit = SECONDS)
class WebSocketTlsEngineTest {

    private final List<WebSocketTransport> nodes = new ArrayList<>();

    @AfterEach
    void stop() {
        nodes.forEach(WebSocketTransport::deactivate);
    }

    private WebSocketTransport node(NodeIdentity identity, NettyTls tls) throws SSLException {
        WebSocketTransport node = tls == null ? new WebSocketTransport(identity, WebSocketSettings.defaults())
                : new WebSocketTransport(identity, WebSocketSettings.defaults(), tls);
        nodes.add(node);
        return node;
    }

    private record Pair(WebSocketConnection dialer, WebSocketConnection accepted) {
    }

    private static Pair connect(WebSocketTransport dialer, WebSocketTransport listener, PeerId expected)
            throws Exception {
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listener.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add).toCompletableFuture()
                .get(10, SECONDS);
        Connection c = dialer.connect(PeerAddress.of(expected, l.endpoint()), Duration.ofSeconds(10))
                .toCompletableFuture().get(10, SECONDS);
        return new Pair((WebSocketConnection) c, (WebSocketConnection) accepted.poll(10, SECONDS));
    }

    @Test
    void aNodeWithTheDefaultConfigurationRunsTlsOnOpenSsl() throws Exception {
        NodeIdentity a = Identities.generate();
        NodeIdentity b = Identities.generate();
        WebSocketTransport dialer = node(a, null);
        assertThat(dialer.tlsEngine()).hasValueSatisfying(v -> assertThat(v).startsWith("openssl (BoringSSL"));
        Pair p = connect(dialer, node(b, null), b.peerId());
        assertThat(NettyTls.isOpenSsl(p.dialer().sslEngine())).isTrue();
        assertThat(NettyTls.isOpenSsl(p.accepted().sslEngine())).isTrue();
        assertThat(p.accepted().info().peerId()).isEqualTo(a.peerId());
    }

    @Test
    void withoutTheNativeLibraryAutoFallsBackToTheJdkAndSpeaksToOpenSsl() throws Exception {
        NettyTls fallback = NettyTls.choose(TlsEngine.AUTO,
                () -> NativeTls.unavailable(new UnsatisfiedLinkError("no netty_tcnative_linux_x86_64 in path")));
        NodeIdentity a = Identities.generate();
        NodeIdentity b = Identities.generate();
        WebSocketTransport dialer = node(a, fallback);
        assertThat(dialer.tlsEngine())
                .contains("jdk (native library not loaded: no netty_tcnative_linux_x86_64 in path)");
        Pair p = connect(dialer, node(b, WsTestTls.openssl()), b.peerId());
        assertThat(NettyTls.isOpenSsl(p.dialer().sslEngine())).isFalse();
        assertThat(NettyTls.isOpenSsl(p.accepted().sslEngine())).isTrue();
        assertThat(p.dialer().info().peerId()).isEqualTo(b.peerId());
        assertThat(p.accepted().info().peerId()).isEqualTo(a.peerId());
    }

    @Test
    void aDialerOnEitherEngineRefusesAListenerWithAnotherKey() throws Exception {
        NodeIdentity expected = Identities.generate();
        for (boolean dialerOnOpenSsl : new boolean[] {true, false}) {
            NodeIdentity impostor = Identities.generate();
            WebSocketTransport dialer = node(Identities.generate(),
                    dialerOnOpenSsl ? WsTestTls.openssl() : WsTestTls.jdk());
            WebSocketTransport listener = node(impostor, dialerOnOpenSsl ? WsTestTls.jdk() : WsTestTls.openssl());
            BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
            Listener l = listener.listen(new InetSocketAddress("127.0.0.1", 0), accepted::add)
                    .toCompletableFuture().get(10, SECONDS);
            assertThatThrownBy(() -> dialer.connect(PeerAddress.of(expected.peerId(), l.endpoint()),
                    Duration.ofSeconds(10)).toCompletableFuture().get(10, SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                    .hasMessageContaining(expected.peerId().toString())
                    .hasMessageContaining(impostor.peerId().toString());
            assertThat(accepted.poll(500, TimeUnit.MILLISECONDS))
                    .as("the impostor never hands the connection to its application").isNull();
        }
    }
}
