package io.kizuna.examples.unix.internal;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Stream;

import javax.net.ssl.SSLException;

import io.kizuna.identity.Identities;
import io.kizuna.transport.Connection;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.testing.TransportContractTest;
import io.netty.handler.ssl.SslHandler;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The transport contract over Unix domain sockets, plus how endpoints map to socket files. */
class UnixTransportTest extends TransportContractTest {

    /** In the temporary directory: a short path, so the socket paths stay below the 107-byte limit. */
    private static final Path DIRECTORY;

    static {
        try {
            DIRECTORY = Files.createTempDirectory("kzu");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void removeDirectory() throws IOException {
        try (Stream<Path> files = Files.list(DIRECTORY)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(DIRECTORY);
    }

    @Override
    protected Transport newNode() {
        return node(UnixSettings.defaults(DIRECTORY));
    }

    private static UnixTransport node(UnixSettings settings) {
        try {
            return new UnixTransport(Identities.generate(), settings);
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    protected PeerId peerIdOf(Transport transport) {
        return ((UnixTransport) transport).identity().peerId();
    }

    @Override
    protected void disposeNode(Transport transport) {
        ((UnixTransport) transport).deactivate();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void anEndpointIsASocketFileInTheDirectoryAndClosingTheListenerRemovesIt() throws Exception {
        Transport node = node();
        Listener l = listen(node, c -> { });
        int n = l.endpoint().address().getPort();
        assertThat(l.endpoint().toString()).isEqualTo("unix://127.0.0.1:" + n);
        assertThat(n).isBetween(SocketPaths.FIRST_FREE, SocketPaths.LAST_FREE);
        Path socket = DIRECTORY.resolve(n + ".sock");
        assertThat(socket).exists();
        assertThat(((UnixListener) l).socket()).isEqualTo(socket);

        Connection c = dial(node(), addressOf(node, l));
        assertThat(((UnixConnection) c).channel().pipeline().get(SslHandler.class).engine().getSession()
                .getProtocol()).isEqualTo("TLSv1.3");
        assertThat(node.isAvailable()).isTrue();
        assertThat(node.priority()).isEqualTo(UnixSettings.DEFAULT_PRIORITY);

        await(l.close());
        assertThat(socket).doesNotExist();
        assertThat(c.isConnected()).as("closing the listener keeps its connections").isTrue();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aStaleSocketIsReplacedAndALiveOneIsRefused() throws Exception {
        Transport node = node();
        int n = 40123;
        Path socket = DIRECTORY.resolve(n + ".sock");
        // a socket file nobody accepts on any more: what a node that died leaves behind
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(socket));
        }
        assertThat(socket).exists();
        Listener l = await(node.listen(new InetSocketAddress("127.0.0.1", n), c -> { }));
        assertThat(l.endpoint().address().getPort()).isEqualTo(n);

        Throwable taken = failureOf(() -> node().listen(new InetSocketAddress("127.0.0.1", n), c -> { }));
        assertThat(taken).isInstanceOf(TransportException.Io.class)
                .hasMessageContaining("unix://127.0.0.1:" + n).hasMessageContaining("another process listens");
        await(l.close());
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void onlyLoopbackEndpointsAreAccepted() throws Exception {
        Transport node = node();
        Throwable listen = failureOf(() -> node.listen(new InetSocketAddress("10.0.0.1", 7), c -> { }));
        assertThat(listen).isInstanceOf(TransportException.Io.class)
                .hasMessageContaining("write unix://127.0.0.1:<n>, not 10.0.0.1");

        Throwable dial = failureOf(() -> node.connect(PeerAddress.of(randomPeerId(),
                new Endpoint("unix", new InetSocketAddress("10.0.0.1", 7))), connectTimeout()));
        assertThat(dial).isInstanceOf(TransportException.ConnectionFailed.class).hasMessageContaining("10.0.0.1");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void theDirectoryIsCreatedOwnerOnlyAndAWritableOneIsRefused() throws Exception {
        Path fresh = DIRECTORY.resolve("d");
        UnixTransport node = node(UnixSettings.defaults(fresh));
        try {
            Listener l = await(node.listen(new InetSocketAddress("127.0.0.1", 0), c -> { }));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh))).isEqualTo("rwx------");
            await(l.close());
        } finally {
            node.deactivate();
            Files.delete(fresh);
        }

        Path open = Files.createDirectory(DIRECTORY.resolve("o"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        UnixTransport other = node(UnixSettings.defaults(open));
        try {
            Throwable refused = failureOf(() -> other.listen(new InetSocketAddress("127.0.0.1", 0), c -> { }));
            assertThat(refused).hasMessageContaining("may be written by group or others")
                    .hasMessageContaining(open.toString());
        } finally {
            other.deactivate();
            Files.delete(open);
        }
    }

    @Test
    void aDirectoryTooLongForASocketAddressIsRefused() {
        Path deep = Path.of(System.getProperty("java.io.tmpdir"), "x".repeat(100));
        assertThatThrownBy(() -> UnixSettings.defaults(deep)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("directory=" + deep).hasMessageContaining("at most 107");
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void theAcceptorSeesTheListenersEndpointAsLocal() throws Exception {
        Transport server = node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listen(server, accepted::add);
        Connection c = dial(node(), addressOf(server, l));
        Connection in = accepted.poll(20, SECONDS);
        assertThat(in).isNotNull();
        assertThat(in.info().localAddress()).isEqualTo(l.localAddress());
        assertThat(c.info().remoteAddress()).isEqualTo(l.localAddress());
        assertThat(in.info().protocol()).isEqualTo("unix");
    }
}
