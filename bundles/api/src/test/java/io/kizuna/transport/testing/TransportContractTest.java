package io.kizuna.transport.testing;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.Listener;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.Transport;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The contract every {@link Transport} meets, written once and run against each
 * transport by subclassing (as Netty's socket test suite runs one test per
 * transport).
 *
 * <p>A subclass supplies nodes: {@link #newNode()} creates a transport with a
 * fresh identity, {@link #peerIdOf(Transport)} names it. Everything else uses the
 * API only: nodes listen on {@link #listenAddress()}, dial each other with
 * {@link PeerAddress}es built from {@link Listener#endpoint()}, and exchange bytes
 * over {@link Connection}s. Every node, listener and connection a test creates is
 * closed after it, and {@link #disposeNode(Transport)} then lets the subclass
 * release the node itself.
 *
 * <p>Tests block only in test threads (never in a transport's callbacks) and wait
 * on futures with a timeout; each test has a {@link Timeout}.
 */
public abstract class TransportContractTest {

    /** One kibibyte. */
    protected static final int KIB = 1024;

    /** One mebibyte. */
    protected static final int MIB = 1024 * KIB;

    /** How long one blocking step of a test may take before the test fails. */
    protected static final Duration STEP = Duration.ofSeconds(20);

    private final List<Transport> nodes = new CopyOnWriteArrayList<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final List<Connection> connections = new CopyOnWriteArrayList<>();
    private ExecutorService workers;

    /**
     * Creates a transport with a fresh identity, ready to dial and listen. Called
     * once or more per test; each node is later passed to {@link #disposeNode}.
     *
     * @return the new node
     */
    protected abstract Transport newNode();

    /**
     * @param transport a node made by {@link #newNode()}
     * @return the PeerId it authenticates as
     */
    protected abstract PeerId peerIdOf(Transport transport);

    /** @return the local address nodes listen on; loopback with a free port by default */
    protected InetSocketAddress listenAddress() {
        return new InetSocketAddress("127.0.0.1", 0);
    }

    /**
     * The endpoint a node listens at. By default {@link #listenAddress()} over the
     * node's protocol; a transport whose endpoints name a hop (a relay) names it here.
     *
     * @param node the node that listens
     * @return the endpoint passed to {@link Transport#listen(Endpoint, Consumer)}
     */
    protected Endpoint listenEndpoint(Transport node) {
        return new Endpoint(node.protocolName(), listenAddress());
    }

    /**
     * An endpoint of the node's protocol at a socket address where nothing listens.
     *
     * @param node    the dialing node
     * @param address a closed local port
     * @return the endpoint to dial
     */
    protected Endpoint endpointAt(Transport node, InetSocketAddress address) {
        return new Endpoint(node.protocolName(), address);
    }

    /**
     * Whether the transport reaches a peer by asking a node in between for that
     * PeerId (a relay) rather than by dialing an address: a dial to a PeerId that
     * is not there then fails with {@link TransportException.ConnectionFailed}
     * naming it, instead of reaching a listener with another key. False by default.
     *
     * @return true for relays
     */
    protected boolean routesByPeerId() {
        return false;
    }

    /**
     * Whether the peer of a connection whose other end called
     * {@link Connection#shutdownOutput()} can still write to it (a half-close).
     * True by default, and for TLS 1.3 as the JDK runs it. False for TLS on
     * Netty's OpenSSL engine, which answers a close_notify with its own and so
     * ends both directions: the contract then asks that the peer reads all that
     * was sent before the end, and that both connections then close in order.
     *
     * @return false when a received end of stream ends the connection
     */
    protected boolean peerWritesAfterHalfClose() {
        return true;
    }

    /**
     * Releases a node after a test, once its connections and listeners are closed
     * (for example: stops its event loops). Does nothing by default.
     *
     * @param transport a node made by {@link #newNode()}
     * @throws Exception when the node cannot be released
     */
    protected void disposeNode(Transport transport) throws Exception {
    }

    /** @return the timeout passed to {@link Transport#connect} */
    protected Duration connectTimeout() {
        return Duration.ofSeconds(10);
    }

    /**
     * @return the most bytes a writer may get accepted while its reader reads
     *         nothing: the transport's own buffers plus what the operating system
     *         buffers on both sides
     */
    protected long writerBufferBound() {
        return 16L * MIB;
    }

    @BeforeEach
    void startWorkers() {
        workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "contract-test-worker");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterEach
    void closeEverything() throws Exception {
        for (Connection c : connections) {
            quietly(c.close());
        }
        for (Listener l : listeners) {
            quietly(l.close());
        }
        List<Exception> failures = new ArrayList<>();
        for (Transport t : nodes) {
            try {
                disposeNode(t);
            } catch (Exception e) {
                failures.add(e);
            }
        }
        workers.shutdownNow();
        connections.clear();
        listeners.clear();
        nodes.clear();
        if (!failures.isEmpty()) {
            throw failures.get(0);
        }
    }

    // ------------------------------------------------------------------ the contract

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void echoesEverySizeAndReportsConnectionInfo() throws Exception {
        Instant before = Instant.now();
        Pair p = connectPair();
        Future<Long> echoed = workers.submit(() -> echo(p.accepted()));

        long total = 0;
        for (int size : new int[] {1, 7, 1000, 16 * KIB + 1, 64 * KIB, 200_003, MIB}) {
            byte[] data = randomBytes(size, size);
            ByteBuffer src = ByteBuffer.wrap(data);
            Future<?> writer = workers.submit(() -> await(p.dialer().write(src)));
            byte[] back = readExactly(p.dialer(), size);
            writer.get(STEP.toSeconds(), SECONDS);
            assertThat(src.remaining()).as("the write advanced the buffer to its limit").isZero();
            assertThat(Arrays.mismatch(back, data)).as("first differing byte of the %d-byte echo", size)
                    .isEqualTo(-1);
            total += size;
        }
        await(p.dialer().flush());

        ConnectionInfo out = p.dialer().info();
        ConnectionInfo in = p.accepted().info();
        String protocol = p.dialerNode().protocolName();
        assertThat(out.peerId()).as("the dialer sees the listener's PeerId").isEqualTo(peerIdOf(p.listenerNode()));
        assertThat(in.peerId()).as("the listener learns the dialer's PeerId").isEqualTo(peerIdOf(p.dialerNode()));
        assertThat(out.protocol()).isEqualTo(protocol);
        assertThat(in.protocol()).isEqualTo(protocol);
        assertThat(out.direction()).isEqualTo(ConnectionInfo.Direction.OUTBOUND);
        assertThat(in.direction()).isEqualTo(ConnectionInfo.Direction.INBOUND);
        assertThat(p.listener().endpoint().protocol()).isEqualTo(protocol);
        assertThat(p.listener().endpoint().address()).isEqualTo(p.listener().localAddress());
        assertThat(p.listener().localAddress().getPort()).as("the real port of a port-0 listener").isPositive();
        assertThat(out.remoteAddress()).isEqualTo(p.listener().localAddress());
        assertThat(in.localAddress()).isEqualTo(p.listener().localAddress());
        if (in.via().isPresent()) {
            // Relayed: the listener names the relay it saw, not the dialer's address, which only the relay claims.
            assertThat(in.remoteAddress()).isEqualTo(out.remoteAddress());
        } else {
            assertThat(in.remoteAddress()).isEqualTo(out.localAddress());
        }
        assertThat(out.id()).isNotBlank().isNotEqualTo(in.id());
        assertThat(out.establishedAt()).isBetween(before, Instant.now());
        assertThat(in.establishedAt()).isBetween(before, Instant.now());
        assertThat(p.dialer().isConnected()).isTrue();
        assertThat(p.accepted().isConnected()).isTrue();

        await(p.dialer().shutdownOutput());
        assertThat(echoed.get(STEP.toSeconds(), SECONDS)).isEqualTo(total);
        assertThat(readToEnd(p.dialer())).as("nothing after the echo").isEmpty();

        ConnectionInfo outAfter = p.dialer().info();
        ConnectionInfo inAfter = p.accepted().info();
        assertThat(outAfter.bytesSent()).isEqualTo(total);
        assertThat(outAfter.bytesReceived()).isEqualTo(total);
        assertThat(inAfter.bytesSent()).isEqualTo(total);
        assertThat(inAfter.bytesReceived()).isEqualTo(total);

        await(p.dialer().close());
        await(p.accepted().close());
        await(p.dialer().closeFuture());
        await(p.accepted().closeFuture());
        assertThat(p.dialer().isConnected()).isFalse();
        assertThat(p.accepted().isConnected()).isFalse();
    }

    @Test
    @Timeout(value = 180, unit = SECONDS)
    void transfers256MiBIntact() throws Exception {
        long size = 256L * MIB;
        Pair p = connectPair();
        Future<Received> received = workers.submit(() -> receiveStream(p.accepted(), 64 * KIB));

        long start = System.nanoTime();
        byte[] sent = sendStream(p.dialer(), size, 0x5eed, 256 * KIB, new AtomicLong());
        await(p.dialer().shutdownOutput());
        Received got = received.get(150, SECONDS);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.printf("%s (tls %s): 256 MiB in %d ms (%.0f MiB/s)%n", p.dialerNode().protocolName(),
                p.dialerNode().tlsEngine().orElse("-"), millis, 256_000.0 / Math.max(1, millis));

        assertThat(got.bytes()).isEqualTo(size);
        assertThat(got.sha256()).as("SHA-256 the listener computed").isEqualTo(sent);
        assertThat(p.dialer().info().bytesSent()).isEqualTo(size);
        assertThat(p.accepted().info().bytesReceived()).isEqualTo(size);
        if (!peerWritesAfterHalfClose()) {
            return; // the end of the stream ended both directions: no digest can travel back
        }

        // The listener sends its digest back; the dialer checks it against its own.
        await(p.accepted().write(ByteBuffer.wrap(got.sha256())));
        await(p.accepted().shutdownOutput());
        assertThat(readToEnd(p.dialer())).as("SHA-256 reported back to the dialer").isEqualTo(sent);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void halfCloseStillLetsThePeerAnswer() throws Exception {
        Pair p = connectPair();
        byte[] request = "request, then end of stream".getBytes(StandardCharsets.UTF_8);
        byte[] reply = "reply written after the end of the request".getBytes(StandardCharsets.UTF_8);

        await(p.dialer().write(ByteBuffer.wrap(request)));
        await(p.dialer().shutdownOutput());
        assertThat(failureOf(() -> p.dialer().write(ByteBuffer.wrap(new byte[] {1}))))
                .as("a write after shutdownOutput fails").isNotNull();
        if (peerWritesAfterHalfClose()) {
            assertThat(p.dialer().isConnected()).as("still open for reading").isTrue();
        }

        assertThat(readToEnd(p.accepted())).isEqualTo(request);
        if (!peerWritesAfterHalfClose()) {
            // The end of the request ended both directions: the answer cannot be written, and both
            // sides close by themselves.
            assertThat(failureOf(() -> p.accepted().write(ByteBuffer.wrap(reply))))
                    .as("a write after both directions ended fails").isNotNull();
            awaitDone(p.dialer().closeFuture(), STEP);
            awaitDone(p.accepted().closeFuture(), STEP);
            assertThat(p.dialer().isConnected()).isFalse();
            assertThat(p.accepted().isConnected()).isFalse();
            return;
        }
        assertThat(p.accepted().isConnected()).as("still open for writing").isTrue();
        await(p.accepted().write(ByteBuffer.wrap(reply)));
        await(p.accepted().shutdownOutput());

        assertThat(readToEnd(p.dialer())).isEqualTo(reply);
        // Both directions ended in order: the connection is closed on both sides.
        await(p.dialer().closeFuture());
        await(p.accepted().closeFuture());
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void writerClosingDuringTransferIsSeenByTheReader() throws Exception {
        Pair p = connectPair();
        AtomicLong written = new AtomicLong();
        Future<Throwable> writer = workers.submit(() -> writeUntilFailure(p.dialer(), written));
        CompletableFuture<Long> gotOneMiB = new CompletableFuture<>();
        Future<Throwable> reader = workers.submit(() -> readUntilEnd(p.accepted(), MIB, gotOneMiB));

        gotOneMiB.get(STEP.toSeconds(), SECONDS);
        CompletionStage<Void> closing = p.dialer().close();

        // The reader sees the end (-1) or a failed read promptly, not a hang.
        Throwable readEnd = reader.get(10, SECONDS);
        assertThat(readEnd == null || readEnd instanceof Exception).isTrue();
        await(closing);
        assertThat(writer.get(10, SECONDS)).as("writes after close fail").isNotNull();
        awaitDone(p.dialer().closeFuture(), Duration.ofSeconds(10));
        assertThat(p.dialer().isConnected()).isFalse();

        await(p.accepted().close());
        awaitDone(p.accepted().closeFuture(), Duration.ofSeconds(10));
        assertThat(p.accepted().isConnected()).isFalse();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void readerClosingDuringTransferIsSeenByTheWriter() throws Exception {
        Pair p = connectPair();
        AtomicLong written = new AtomicLong();
        Future<Throwable> writer = workers.submit(() -> writeUntilFailure(p.dialer(), written));
        readExactly(p.accepted(), MIB);

        await(p.accepted().close());
        awaitDone(p.accepted().closeFuture(), Duration.ofSeconds(10));

        // The writer, which never reads, learns of the close from a failed write
        // and its connection closes by itself.
        Throwable failure = writer.get(10, SECONDS);
        assertThat(failure).as("the writer's writes fail once the reader closed").isNotNull();
        awaitDone(p.dialer().closeFuture(), Duration.ofSeconds(10));
        assertThat(p.dialer().isConnected()).isFalse();
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void closeWithUnreadInputStillDeliversTheTail() throws Exception {
        Pair p = connectPair();
        // The listener writes to the dialer, which never reads it: the dialer closes with unread input,
        // and a close that resets the connection then would cut off the tail of what it wrote.
        AtomicLong pushed = new AtomicLong();
        Future<Throwable> pusher = inBackground(() -> writeUntilFailure(p.accepted(), pushed));
        Future<Received> received = inBackground(() -> receiveStream(p.accepted(), 64 * KIB));
        long deadline = System.nanoTime() + STEP.toNanos();
        while (pushed.get() < 64 * KIB) {
            assertThat(System.nanoTime()).as("the listener's first 64 KiB were taken in time").isLessThan(deadline);
            Thread.sleep(5);
        }

        long size = 4L * MIB;
        byte[] sent = sendStream(p.dialer(), size, 0x7a11, 256 * KIB, new AtomicLong());
        CompletionStage<Void> closing = p.dialer().close(); // close, not shutdownOutput: the input is unread

        Received got = received.get(STEP.toSeconds(), SECONDS);
        assertThat(got.bytes()).as("bytes of the tail that reached the listener before its end of stream")
                .isEqualTo(size);
        assertThat(got.sha256()).as("SHA-256 of what the listener read").isEqualTo(sent);

        await(p.accepted().close());
        assertThat(pusher.get(STEP.toSeconds(), SECONDS)).as("the listener's writes fail once it closed").isNotNull();
        await(closing);
        awaitDone(p.dialer().closeFuture(), STEP);
        assertThat(p.dialer().isConnected()).isFalse();
        // The listener's own writes may have failed against the closed dialer; its reads did not.
        awaitDone(p.accepted().closeFuture(), STEP);
        assertThat(p.accepted().isConnected()).isFalse();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void dialToClosedPortFailsFast() throws Exception {
        Transport node = node();
        Transport closed = node();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, listenAddress().getAddress())) {
            port = s.getLocalPort();
        }
        PeerAddress address = PeerAddress.of(peerIdOf(closed),
                endpointAt(node, new InetSocketAddress(listenAddress().getAddress(), port)));

        long start = System.nanoTime();
        Throwable failure = failureOf(() -> node.connect(address, Duration.ofSeconds(10)));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

        assertThat(failure).isInstanceOf(TransportException.ConnectionFailed.class);
        assertThat(failure.getMessage()).as("the message names the address").contains(Integer.toString(port));
        assertThat(millis).as("milliseconds until the dial failed").isLessThan(1500);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void wrongPeerIdIsRefused() throws Exception {
        Transport server = node();
        Transport client = node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener listener = listen(server, accepted::add);
        PeerId other = randomPeerId();

        Throwable failure = failureOf(() -> client.connect(PeerAddress.of(other, listener.endpoint()),
                connectTimeout()));

        if (routesByPeerId()) {
            assertThat(failure).isInstanceOf(TransportException.ConnectionFailed.class);
            assertThat(failure.getMessage()).contains(other.toString());
        } else {
            assertThat(failure).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
            TransportException.PeerAuthenticationFailed refused = (TransportException.PeerAuthenticationFailed) failure;
            assertThat(refused.expected()).isEqualTo(other);
            assertThat(refused.presented()).isEqualTo(peerIdOf(server));
            assertThat(refused.getMessage()).contains(other.toString()).contains(peerIdOf(server).toString());
        }

        // The listener handed the refused connection to nobody: a correct dial
        // afterwards is the first connection its acceptor sees.
        Connection good = dial(client, addressOf(server, listener));
        Connection first = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(first).isNotNull();
        assertThat(first.info().peerId()).isEqualTo(peerIdOf(client));
        assertThat(first.info().remoteAddress()).isEqualTo(first.info().via().isPresent()
                ? good.info().remoteAddress() : good.info().localAddress());
        assertThat(accepted).isEmpty();
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void slowReaderHoldsTheWriterBack() throws Exception {
        Pair p = connectPair();
        long total = 64L * MIB;
        int chunk = 64 * KIB;
        AtomicLong completed = new AtomicLong();
        // Each second a write stays incomplete, the writer reports how many bytes were accepted so far.
        BlockingQueue<Long> stalls = new LinkedBlockingQueue<>();

        Future<byte[]> writer = workers.submit(() -> {
            MessageDigest sha = sha256();
            SplittableRandom data = new SplittableRandom(42);
            ByteBuffer buf = ByteBuffer.allocate(chunk);
            for (long sent = 0; sent < total; sent += chunk) {
                buf.clear();
                fill(buf, data);
                buf.flip();
                sha.update(buf.duplicate());
                CompletableFuture<Void> w = p.dialer().write(buf).toCompletableFuture();
                while (true) {
                    try {
                        w.get(1, SECONDS);
                        break;
                    } catch (TimeoutException slow) {
                        stalls.add(completed.get());
                    }
                }
                completed.addAndGet(chunk);
            }
            stalls.add(-1L);
            return sha.digest();
        });

        MessageDigest readSha = sha256();
        readSha.update(readExactly(p.accepted(), MIB));

        // The reader now reads nothing. The writer must stall: one write incomplete
        // for two reports in a row with no progress between them (a busy machine
        // may delay a write for a second; it does not stop it).
        long atStall;
        while (true) {
            Long first = stalls.poll(STEP.toSeconds(), SECONDS);
            assertThat(first).as("the writer was held back").isNotNull().isNotEqualTo(-1L);
            Long second = stalls.poll(3, SECONDS);
            if (first.equals(second)) {
                atStall = first;
                break;
            }
        }
        System.out.printf("%s: the writer stalled after %d KiB while the reader waited%n",
                p.dialerNode().protocolName(), atStall / KIB);
        assertThat(atStall).as("bytes the writer got accepted while the reader read nothing more")
                .isLessThan(MIB + writerBufferBound());
        // A second write meanwhile is refused, not queued; and still no progress.
        assertThat(failureOf(() -> p.dialer().write(ByteBuffer.allocate(1))))
                .isInstanceOf(IllegalStateException.class);
        assertThat(completed.get()).as("no progress while the reader waits").isEqualTo(atStall);

        Future<Received> rest = workers.submit(() -> receiveBytes(p.accepted(), total - MIB, readSha));
        byte[] sentSha = writer.get(60, SECONDS);
        Received got = rest.get(60, SECONDS);
        assertThat(got.bytes()).isEqualTo(total - MIB);
        assertThat(got.sha256()).as("all data arrived intact after the stall").isEqualTo(sentSha);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void addressWithoutEndpointOfThisTransportIsNotSupported() throws Exception {
        Transport node = node();
        String otherProtocol = ("x" + node.protocolName()).substring(0, Math.min(32, node.protocolName().length() + 1));
        PeerAddress elsewhere = PeerAddress.of(randomPeerId(),
                new Endpoint(otherProtocol, new InetSocketAddress("127.0.0.1", 9)));
        PeerAddress none = PeerAddress.of(randomPeerId());

        assertThat(failureOf(() -> node.connect(elsewhere, connectTimeout())))
                .isInstanceOf(TransportException.AddressNotSupported.class);
        assertThat(failureOf(() -> node.connect(none, connectTimeout())))
                .isInstanceOf(TransportException.AddressNotSupported.class);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void secondConcurrentReadIsRefused() throws Exception {
        Pair p = connectPair();
        ByteBuffer first = ByteBuffer.allocate(16);
        CompletableFuture<Integer> pending = p.dialer().read(first).toCompletableFuture();

        assertThat(failureOf(() -> p.dialer().read(ByteBuffer.allocate(16))))
                .isInstanceOf(IllegalStateException.class);
        assertThat(pending).isNotDone();

        await(p.accepted().write(ByteBuffer.wrap(new byte[] {42})));
        assertThat(pending.get(STEP.toSeconds(), SECONDS)).isEqualTo(1);
        assertThat(first.get(0)).isEqualTo((byte) 42);
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void readAndWriteAfterCloseFail() throws Exception {
        Pair p = connectPair();
        await(p.dialer().close());
        awaitDone(p.dialer().closeFuture(), STEP);

        Object read = outcomeOf(() -> p.dialer().read(ByteBuffer.allocate(8)));
        assertThat(read).as("a read after close fails or reports end of stream")
                .satisfiesAnyOf(r -> assertThat(r).isInstanceOf(Throwable.class), r -> assertThat(r).isEqualTo(-1));
        assertThat(failureOf(() -> p.dialer().write(ByteBuffer.allocate(8)))).isNotNull();
        assertThat(p.dialer().isConnected()).isFalse();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void closedListenerStopsAcceptingButKeepsItsConnections() throws Exception {
        Pair p = connectPair();
        PeerAddress address = addressOf(p.listenerNode(), p.listener());
        await(p.listener().close());

        assertThat(failureOf(() -> p.dialerNode().connect(address, connectTimeout())))
                .isInstanceOf(TransportException.ConnectionFailed.class);
        await(p.dialer().write(ByteBuffer.wrap(new byte[] {7})));
        assertThat(readExactly(p.accepted(), 1)).containsExactly(7);
    }

    // ------------------------------------------------------------------ helpers for subclasses

    /**
     * Two connected nodes.
     *
     * @param dialerNode   the node that dialed
     * @param listenerNode the node that listened
     * @param listener     its listener
     * @param dialer       the dialer's end
     * @param accepted     the listener's end
     */
    protected record Pair(Transport dialerNode, Transport listenerNode, Listener listener, Connection dialer,
            Connection accepted) {
    }

    /** @return a new node, disposed after the test */
    protected final Transport node() {
        Transport t = newNode();
        nodes.add(t);
        return t;
    }

    /**
     * Listens on {@link #listenAddress()}; connections and listener are closed after the test.
     *
     * @param node     the node
     * @param acceptor receives each connection; must not block
     * @return the listener
     * @throws Exception when listening fails
     */
    protected final Listener listen(Transport node, Consumer<Connection> acceptor) throws Exception {
        Listener l = await(node.listen(listenEndpoint(node), c -> {
            connections.add(c);
            acceptor.accept(c);
        }));
        listeners.add(l);
        return l;
    }

    /**
     * @param node     the listening node
     * @param listener its listener
     * @return the address to dial it at
     */
    protected final PeerAddress addressOf(Transport node, Listener listener) {
        return PeerAddress.of(peerIdOf(node), listener.endpoint());
    }

    /**
     * Dials; the connection is closed after the test.
     *
     * @param from the dialing node
     * @param to   the address
     * @return the connection
     * @throws Exception the dial's failure
     */
    protected final Connection dial(Transport from, PeerAddress to) throws Exception {
        Connection c = await(from.connect(to, connectTimeout()));
        connections.add(c);
        return c;
    }

    /**
     * @return two new nodes, one listening, the other connected to it
     * @throws Exception when that fails
     */
    protected final Pair connectPair() throws Exception {
        Transport server = node();
        Transport client = node();
        BlockingQueue<Connection> accepted = new LinkedBlockingQueue<>();
        Listener l = listen(server, accepted::add);
        Connection c = dial(client, addressOf(server, l));
        Connection s = accepted.poll(STEP.toSeconds(), SECONDS);
        assertThat(s).as("the listener accepted the connection").isNotNull();
        return new Pair(client, server, l, c, s);
    }

    /**
     * Waits for a stage.
     *
     * @param <T>   the value type
     * @param stage the stage
     * @return its value
     * @throws Exception what it failed with (unwrapped), or a timeout after {@link #STEP}
     */
    protected static <T> T await(CompletionStage<T> stage) throws Exception {
        try {
            return stage.toCompletableFuture().get(STEP.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = unwrap(e);
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    /**
     * Waits until a stage is done, normally or exceptionally.
     *
     * @param stage   the stage
     * @param timeout how long to wait
     * @throws Exception a timeout when it is not done in time
     */
    protected static void awaitDone(CompletionStage<?> stage, Duration timeout) throws Exception {
        try {
            stage.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException expectedSometimes) {
            // done, exceptionally
        }
    }

    /**
     * Runs an operation that must fail, synchronously or through its stage.
     *
     * @param op the operation
     * @return what it failed with, unwrapped
     * @throws Exception when it does not finish within {@link #STEP}
     */
    protected static Throwable failureOf(Supplier<? extends CompletionStage<?>> op) throws Exception {
        Object outcome = outcomeOf(op);
        if (!(outcome instanceof Throwable t)) {
            return fail("expected a failure but the operation completed with " + outcome);
        }
        return t;
    }

    /**
     * Runs an operation.
     *
     * @param op the operation
     * @return its value, or what it failed with (unwrapped)
     * @throws Exception when it does not finish within {@link #STEP}
     */
    protected static Object outcomeOf(Supplier<? extends CompletionStage<?>> op) throws Exception {
        CompletionStage<?> stage;
        try {
            stage = op.get();
        } catch (RuntimeException e) {
            return e;
        }
        try {
            return stage.toCompletableFuture().get(STEP.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return unwrap(e);
        }
    }

    private static Throwable unwrap(Throwable t) {
        Throwable c = t;
        while ((c instanceof ExecutionException || c instanceof CompletionException) && c.getCause() != null) {
            c = c.getCause();
        }
        return c;
    }

    /**
     * Reads exactly {@code n} bytes.
     *
     * @param c the connection
     * @param n how many
     * @return the bytes
     * @throws Exception when the stream ends early or a read fails
     */
    protected static byte[] readExactly(Connection c, int n) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            int r = await(c.read(buf));
            if (r < 0) {
                fail("end of stream after " + buf.position() + " of " + n + " bytes");
            }
        }
        return buf.array();
    }

    /**
     * Reads until end of stream.
     *
     * @param c the connection
     * @return every byte read
     * @throws Exception when a read fails
     */
    protected static byte[] readToEnd(Connection c) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer buf = ByteBuffer.allocate(8 * KIB);
        while (true) {
            buf.clear();
            int r = await(c.read(buf));
            if (r < 0) {
                return out.toByteArray();
            }
            out.write(buf.array(), 0, r);
        }
    }

    /**
     * Echoes everything read back, until end of stream; then shuts down output.
     *
     * @param c the connection
     * @return how many bytes were echoed
     * @throws Exception when a read or write fails
     */
    protected static long echo(Connection c) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(64 * KIB);
        long total = 0;
        while (true) {
            buf.clear();
            int r = await(c.read(buf));
            if (r < 0) {
                await(c.shutdownOutput());
                return total;
            }
            buf.flip();
            await(c.write(buf));
            total += r;
        }
    }

    /** How many bytes arrived and their SHA-256. */
    protected record Received(long bytes, byte[] sha256) {
    }

    /**
     * Sends {@code total} deterministic bytes (the same seed gives the same bytes).
     *
     * @param c        the connection
     * @param total    how many bytes
     * @param seed     the seed of the data
     * @param chunk    the size of each write
     * @param progress counts the bytes whose write completed
     * @return the SHA-256 of what was sent
     * @throws Exception when a write fails
     */
    protected static byte[] sendStream(Connection c, long total, long seed, int chunk, AtomicLong progress)
            throws Exception {
        MessageDigest sha = sha256();
        SplittableRandom data = new SplittableRandom(seed);
        ByteBuffer buf = ByteBuffer.allocate(chunk);
        long sent = 0;
        while (sent < total) {
            buf.clear();
            buf.limit((int) Math.min(chunk, total - sent));
            fill(buf, data);
            buf.flip();
            sha.update(buf.duplicate());
            int n = buf.remaining();
            await(c.write(buf));
            sent += n;
            progress.addAndGet(n);
        }
        return sha.digest();
    }

    /**
     * Reads to end of stream, hashing.
     *
     * @param c          the connection
     * @param bufferSize the size of each read
     * @return the count and SHA-256
     * @throws Exception when a read fails
     */
    protected static Received receiveStream(Connection c, int bufferSize) throws Exception {
        MessageDigest sha = sha256();
        ByteBuffer buf = ByteBuffer.allocate(bufferSize);
        long total = 0;
        while (true) {
            buf.clear();
            int r = await(c.read(buf));
            if (r < 0) {
                return new Received(total, sha.digest());
            }
            buf.flip();
            sha.update(buf);
            total += r;
        }
    }

    private static Received receiveBytes(Connection c, long n, MessageDigest sha) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(64 * KIB);
        long total = 0;
        while (total < n) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), n - total));
            int r = await(c.read(buf));
            if (r < 0) {
                break;
            }
            buf.flip();
            sha.update(buf);
            total += r;
        }
        return new Received(total, sha.digest());
    }

    /**
     * Writes 64 KiB chunks until a write fails (at most 4 GiB).
     *
     * @param c       the connection
     * @param written counts bytes whose write completed
     * @return the failure, or null if none happened
     */
    protected static Throwable writeUntilFailure(Connection c, AtomicLong written) {
        ByteBuffer buf = ByteBuffer.allocate(64 * KIB);
        SplittableRandom data = new SplittableRandom(7);
        while (written.get() < 4L * 1024 * MIB) {
            buf.clear();
            fill(buf, data);
            buf.flip();
            try {
                await(c.write(buf));
            } catch (Exception e) {
                return e;
            }
            written.addAndGet(buf.capacity());
        }
        return null;
    }

    /**
     * Reads until end of stream or a failed read.
     *
     * @param c         the connection
     * @param mark      a byte count to report reaching
     * @param reachedIt completed with the count once {@code mark} bytes were read
     * @return null at end of stream, else the read's failure
     */
    protected static Throwable readUntilEnd(Connection c, long mark, CompletableFuture<Long> reachedIt) {
        ByteBuffer buf = ByteBuffer.allocate(64 * KIB);
        long total = 0;
        while (true) {
            buf.clear();
            int r;
            try {
                r = await(c.read(buf));
            } catch (Exception e) {
                reachedIt.complete(total);
                return e;
            }
            if (r < 0) {
                reachedIt.complete(total);
                return null;
            }
            total += r;
            if (total >= mark) {
                reachedIt.complete(total);
            }
        }
    }

    /**
     * Runs a task on a worker thread, stopped after the test.
     *
     * @param <T>  the result type
     * @param task the task
     * @return its future
     */
    protected final <T> Future<T> inBackground(Callable<T> task) {
        return workers.submit(task);
    }

    /** @return a PeerId of a random key nobody holds */
    protected static PeerId randomPeerId() {
        byte[] key = new byte[PeerId.LENGTH];
        new SecureRandom().nextBytes(key);
        return PeerId.of(key);
    }

    /**
     * @param n    how many
     * @param seed the seed
     * @return deterministic bytes
     */
    protected static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void fill(ByteBuffer buf, SplittableRandom data) {
        while (buf.remaining() >= Long.BYTES) {
            buf.putLong(data.nextLong());
        }
        while (buf.hasRemaining()) {
            buf.put((byte) data.nextInt());
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void quietly(CompletionStage<?> stage) {
        try {
            stage.toCompletableFuture().get(5, SECONDS);
        } catch (Exception ignored) {
            // cleanup after a test: a failure to close was already seen by the test, or does not matter
        }
    }
}
