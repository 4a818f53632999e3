package io.kizuna.core.internal.mux;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.MultiplexedConnection;
import io.kizuna.transport.TransportException;

/**
 * A yamux session over one single-stream {@link Connection}, which it makes a
 * {@link MultiplexedConnection}: as a {@code Connection} it is its first stream
 * (id 1, opened by the dialer), as QUIC's connections are; {@link #openStream()}
 * opens more without a handshake. Stream ids are odd for the dialer, even for
 * the acceptor, and never reused.
 *
 * <p>Bounds: each stream's receive window caps what the peer can make this side
 * buffer for it, and a DATA frame beyond the window is a violation. A window
 * starts at yamux's 256 KiB and doubles when the reader granted credit twice
 * within two round trips (the window, not the reader, was holding the sender
 * back), up to {@link MuxSettings#windowBytes()}, while the growth of all
 * windows together stays within {@link MuxSettings#connectionWindowBytes()}; {@link MuxSettings#maxStreams()} caps the streams open at
 * once (an incoming stream beyond it is reset and counted, an outgoing one fails
 * with {@code LimitExceeded}); data waiting to be written is capped at
 * {@value #MAX_QUEUED_DATA} bytes for the whole session, control frames at
 * {@value #MAX_QUEUED_CONTROL}. Anything malformed sends GO_AWAY with the
 * protocol-error code, reports the violation and closes the connection.
 *
 * <p>Threads: all state is guarded by one lock; futures are completed and the
 * underlying connection called outside it. Nothing blocks.
 */
public final class MuxSession implements MultiplexedConnection {

    private static final System.Logger LOG = System.getLogger(MuxSession.class.getName());

    /** Largest DATA payload this side sends in one frame. */
    static final int MAX_DATA_FRAME = 64 * 1024;
    /** Frames this large are written on their own, not copied into a batch of small ones. */
    private static final int DIRECT_WRITE = 16 * 1024;
    /** Bytes of DATA frames that may wait to be written, all streams together. */
    static final int MAX_QUEUED_DATA = 1024 * 1024;
    /** Control frames (window updates, pings, resets) that may wait to be written. */
    static final int MAX_QUEUED_CONTROL = 4096;
    private static final int READ_BUFFER = 64 * 1024;
    private static final int WRITE_BATCH = 64 * 1024;

    /** One frame, or a flush marker, waiting to be written. */
    private record Out(ByteBuffer bytes, CompletableFuture<Void> done, int dataBytes, boolean control) {
    }

    final Connection conn;
    final boolean dialer;
    final MuxSettings settings;
    final ScheduledExecutorService timer;
    final Object lock = new Object();
    private final BiConsumer<Connection, TransportException.ProtocolViolation> onViolation;
    private final String peerName;
    private final MuxStream primary;
    private final CompletableFuture<Void> closeFuture = new CompletableFuture<>();

    // Guarded by lock.
    private final Map<Integer, MuxStream> streams = new HashMap<>();
    private final ArrayDeque<MuxStream> waiting = new ArrayDeque<>();
    private final LinkedHashSet<MuxStream> blocked = new LinkedHashSet<>();
    private final ArrayDeque<Out> queue = new ArrayDeque<>();
    private final List<Runnable> deferred = new ArrayList<>();
    private Consumer<Connection> acceptor;
    private long nextLocalId;
    private long lastRemoteId;
    private boolean goAwaySent;
    private boolean goAwayReceived;
    private volatile TransportException ended;
    private boolean orderly;
    private boolean writing;
    private boolean closeWhenDrained;
    private int queuedData;
    private int queuedControl;
    private long refused;
    private long pingValue = -1;
    private volatile long rttNanos = -1;
    private long grown;
    private long pingSentNanos;
    private long pingCounter;
    private ScheduledFuture<?> keepAliveTask;

    // Read side state, touched by the read loop only.
    private final ByteBuffer readBuf = ByteBuffer.allocate(READ_BUFFER);
    private final ByteBuffer header = ByteBuffer.allocate(MuxFrame.HEADER_BYTES);
    private MuxFrame current;
    private long payloadLeft;
    private MuxStream payloadTo;

    private MuxSession(Connection conn, boolean dialer, MuxSettings settings, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation) {
        this.conn = conn;
        this.dialer = dialer;
        this.settings = settings;
        this.timer = timer;
        this.onViolation = onViolation;
        this.peerName = conn.info().peerId().shortForm();
        this.nextLocalId = dialer ? 3 : 2;
        this.primary = new MuxStream(this, 1, dialer, !dialer);
        streams.put(1, primary);
    }

    /**
     * Starts a session on the dialer's side: stream 1 is opened at once.
     *
     * @param conn        the single-stream connection, after both sides agreed to multiplex it
     * @param settings    the limits
     * @param timer       runs keep-alives and close timeouts
     * @param onViolation told of a malformed frame before the connection closes
     * @return the session
     */
    public static MuxSession dialer(Connection conn, MuxSettings settings, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation) {
        return dialer(conn, settings, timer, onViolation, null);
    }

    /**
     * Starts a session on the dialer's side before the peer has agreed: frames are written at once, the
     * connection is read only once {@code agreed} completes (the peer's answer, read by the caller).
     *
     * @param agreed completes once the peer agreed; exceptionally, the session ends with that failure
     * @return the session
     */
    public static MuxSession dialer(Connection conn, MuxSettings settings, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation, CompletionStage<?> agreed) {
        MuxSession s = new MuxSession(conn, true, settings, timer, onViolation);
        synchronized (s.lock) {
            s.sendWindowFrame(s.primary, MuxFrame.SYN);
        }
        s.start(agreed);
        return s;
    }

    /**
     * Starts a session on the acceptor's side: stream 1 is the dialer's first.
     *
     * @param conn        the single-stream connection, after both sides agreed to multiplex it
     * @param settings    the limits
     * @param timer       runs keep-alives and close timeouts
     * @param onViolation told of a malformed frame before the connection closes
     * @return the session
     */
    public static MuxSession acceptor(Connection conn, MuxSettings settings, ScheduledExecutorService timer,
            BiConsumer<Connection, TransportException.ProtocolViolation> onViolation) {
        MuxSession s = new MuxSession(conn, false, settings, timer, onViolation);
        s.start(null);
        return s;
    }

    private void start(CompletionStage<?> agreed) {
        conn.closeFuture().whenComplete((v, e) -> underlyingClosed(e));
        synchronized (lock) {
            ping(); // the round-trip time that lets windows grow
        }
        long ka = settings.keepAlive().toNanos();
        if (ka > 0) {
            try {
                keepAliveTask = timer.scheduleAtFixedRate(this::keepAlive, ka, ka, TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException stopped) {
                // the timer's owner is stopping and closes this connection
            }
        }
        writeNext();
        if (agreed == null) {
            readLoop();
        } else {
            agreed.whenComplete((v, e) -> {
                if (e == null) {
                    readLoop();
                } else {
                    Throwable why = unwrap(e);
                    fail(new TransportException.ConnectionFailed("the peer did not take the stream multiplexer: "
                            + why.getMessage(), why));
                }
            });
        }
    }

    // ------------------------------------------------------------------ Connection: the first stream

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        return primary.read(dst);
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        return primary.write(src);
    }

    @Override
    public CompletionStage<Void> flush() {
        return primary.flush();
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        return primary.shutdownOutput();
    }

    /**
     * Ends every open stream in order (FIN), sends GO_AWAY and waits for the peer's GO_AWAY or end of stream (at most the
     * close timeout) before it closes the connection, so neither side writes to a connection the other has
     * closed; a side that already received GO_AWAY closes once its frames are written. Called again, it
     * closes the connection at once.
     */
    @Override
    public CompletionStage<Void> close() {
        boolean again;
        synchronized (lock) {
            again = ended != null;
            if (!again) {
                orderly = true;
                // Each open stream ends in order, as a connection of its own would when closed: FIN to the peer,
                // which reads its end of stream; here a read under way ends too and the stream closes in order.
                for (MuxStream st : new ArrayList<>(streams.values())) {
                    control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.FIN, st.id, 0), null);
                    st.closedHere(deferred);
                }
                goAway(MuxFrame.GO_AWAY_NORMAL);
                endLocked(new TransportException.ConnectionFailed("the multiplexed " + conn.info().protocol()
                        + " connection to " + peerName + " was closed by this side", null), !goAwayReceived);
            }
        }
        if (again) {
            conn.close(); // a second close does not wait for the peer (its timer may be gone with its owner)
        }
        writeNext();
        return closeFuture.exceptionally(e -> null);
    }

    @Override
    public boolean isConnected() {
        return ended == null && conn.isConnected();
    }

    @Override
    public ConnectionInfo info() {
        return primary.info();
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closeFuture.minimalCompletionStage();
    }

    // ------------------------------------------------------------------ MultiplexedConnection

    @Override
    public CompletionStage<Connection> openStream() {
        MuxStream s;
        synchronized (lock) {
            if (ended != null || goAwaySent) {
                return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot open a stream "
                        + "to " + peerName + ": the multiplexed connection " + conn.info().id() + " is closing",
                        ended));
            }
            if (goAwayReceived) {
                return CompletableFuture.failedFuture(new TransportException.ConnectionFailed("cannot open a stream "
                        + "to " + peerName + ": it sent GO_AWAY on connection " + conn.info().id()
                        + " and takes no new streams there; open one on a new connection", null));
            }
            if (streams.size() >= settings.maxStreams()) {
                return CompletableFuture.failedFuture(new TransportException.LimitExceeded("maxStreamsPerConnection",
                        settings.maxStreams(), "opening a stream to " + peerName + " on connection "
                                + conn.info().id() + ": " + streams.size() + " streams are open on it; close some "
                                + "or raise maxStreamsPerConnection"));
            }
            if (nextLocalId > MuxFrame.MAX_STREAM_ID) {
                return CompletableFuture.failedFuture(new TransportException.LimitExceeded("stream ids",
                        MuxFrame.MAX_STREAM_ID, "opening a stream to " + peerName + " on connection "
                                + conn.info().id() + ": its stream ids are used up; open one on a new connection"));
            }
            s = new MuxStream(this, (int) nextLocalId, true, false);
            nextLocalId += 2;
            streams.put(s.id, s);
            sendWindowFrame(s, MuxFrame.SYN);
        }
        writeNext();
        return CompletableFuture.completedFuture(s);
    }

    @Override
    public void onStream(Consumer<Connection> acceptor) {
        List<MuxStream> handed = new ArrayList<>();
        synchronized (lock) {
            this.acceptor = acceptor;
            handed.addAll(waiting);
            waiting.clear();
        }
        handed.forEach(acceptor);
    }

    /** @return incoming streams reset because {@link MuxSettings#maxStreams()} streams were open */
    public long refusedStreams() {
        synchronized (lock) {
            return refused;
        }
    }

    /** @return streams open now, the first included */
    public int openStreams() {
        synchronized (lock) {
            return streams.size();
        }
    }

    String peerName() {
        return peerName;
    }

    // ------------------------------------------------------------------ for streams (under lock)

    /** Queues an empty WINDOW_UPDATE carrying {@code flags} (SYN, ACK). */
    void sendWindowFrame(MuxStream s, int flags) {
        control(new MuxFrame(MuxFrame.WINDOW_UPDATE, flags, s.id, 0), null);
    }

    /**
     * Takes {@code rtt} as the round-trip time until the next PING is answered (tests of window growth,
     * which need a round trip longer than a memory connection's).
     */
    void assumeRtt(Duration rtt) {
        rttNanos = rtt.toNanos();
    }

    /** @return the latest round-trip time of a PING, or -1 before the first answer */
    long rttNanos() {
        return rttNanos;
    }

    /**
     * Takes growth for a stream's window from the connection's budget; under lock.
     *
     * @param wanted bytes the stream's window would grow by
     * @return the bytes granted, at most {@code wanted}
     */
    long grow(long wanted) {
        long granted = Math.max(0, Math.min(wanted, settings.connectionWindowBytes() - grown));
        grown += granted;
        return granted;
    }

    /** @return how far the windows of the open streams have grown together */
    long grownWindows() {
        synchronized (lock) {
            return grown;
        }
    }

    /** Queues a control frame; too many waiting is the peer's fault (it does not read). */
    void control(MuxFrame f, CompletableFuture<Void> done) {
        if (ended != null && f.type() != MuxFrame.GO_AWAY) {
            if (done != null) {
                TransportException x = ended;
                deferred.add(() -> done.completeExceptionally(x));
            }
            return;
        }
        queue.add(new Out(f.encode(), done, 0, true));
        queuedControl++;
        if (queuedControl > MAX_QUEUED_CONTROL && ended == null) {
            endLocked(new TransportException.LimitExceeded("queued control frames", MAX_QUEUED_CONTROL,
                    "the multiplexed connection to " + peerName + " is closed: the peer sends PINGs, window "
                            + "updates or new streams faster than it reads the answers"), false);
        }
    }

    /** Queues a DATA frame; completes {@code done}, if any, once it is written. */
    void data(ByteBuffer frame, int payload, CompletableFuture<Void> done) {
        queue.add(new Out(frame, done, payload, false));
        queuedData += payload;
    }

    /** Queues a marker that completes once everything queued before it is written. */
    void marker(CompletableFuture<Void> done) {
        queue.add(new Out(ByteBuffer.allocate(0), done, 0, false));
    }

    /** @return how many DATA bytes may be queued now */
    int queueRoom() {
        return Math.max(0, MAX_QUEUED_DATA - queuedData);
    }

    /** The stream waits for room in the write queue. */
    void blocked(MuxStream s) {
        blocked.add(s);
    }

    /** Runs {@code r} outside the lock, before the next write; under lock. */
    void defer(Runnable r) {
        deferred.add(r);
    }

    void remove(MuxStream s) {
        if (streams.remove(s.id, s)) {
            grown -= s.grownBy();
        }
        blocked.remove(s);
    }

    TransportException ended() {
        return ended;
    }

    Connection underlying() {
        return conn;
    }

    // ------------------------------------------------------------------ writing

    /** Writes the queue, one batch at a time; call without the lock. */
    void writeNext() {
        runDeferred();
        while (true) {
            ByteBuffer batch;
            List<CompletableFuture<Void>> done = new ArrayList<>();
            List<Runnable> after = new ArrayList<>();
            boolean closeNow = false;
            synchronized (lock) {
                if (writing) {
                    return;
                }
                if (queue.isEmpty()) {
                    closeNow = closeWhenDrained;
                    closeWhenDrained = false;
                    batch = null;
                } else if (queue.peek().bytes().remaining() >= DIRECT_WRITE) {
                    // A large DATA frame goes out as it is, without a copy into a batch.
                    Out o = queue.poll();
                    batch = o.bytes();
                    queuedData -= o.dataBytes();
                    if (o.control()) {
                        queuedControl--;
                    }
                    if (o.done() != null) {
                        done.add(o.done());
                    }
                    writing = true;
                    pumpBlocked(after);
                } else {
                    int size = 0;
                    for (Out o : queue) {
                        if (o.bytes().remaining() >= DIRECT_WRITE) {
                            break;
                        }
                        if (size > 0 && size + o.bytes().remaining() > WRITE_BATCH) {
                            break;
                        }
                        size += o.bytes().remaining();
                    }
                    batch = ByteBuffer.allocate(size);
                    while (!queue.isEmpty() && queue.peek().bytes().remaining() < DIRECT_WRITE
                            && batch.remaining() >= queue.peek().bytes().remaining()) {
                        Out o = queue.poll();
                        batch.put(o.bytes());
                        queuedData -= o.dataBytes();
                        if (o.control()) {
                            queuedControl--;
                        }
                        if (o.done() != null) {
                            done.add(o.done());
                        }
                    }
                    batch.flip();
                    writing = true;
                    pumpBlocked(after);
                }
            }
            after.forEach(Runnable::run);
            if (batch == null) {
                if (closeNow) {
                    conn.close();
                }
                return;
            }
            CompletableFuture<Void> w;
            try {
                w = conn.write(batch).toCompletableFuture();
            } catch (RuntimeException e) {
                w = CompletableFuture.failedFuture(e);
            }
            if (!w.isDone()) {
                w.whenComplete((v, e) -> {
                    if (written(done, e)) {
                        writeNext();
                    }
                });
                return;
            }
            Throwable e = null;
            try {
                w.join();
            } catch (CompletionException | java.util.concurrent.CancellationException x) {
                e = x;
            }
            if (!written(done, e)) {
                return;
            }
        }
    }

    /** @return whether to write on */
    private boolean written(List<CompletableFuture<Void>> done, Throwable failure) {
        synchronized (lock) {
            writing = false;
        }
        if (failure != null) {
            TransportException x = new TransportException.Io("writing to " + peerName + " over the multiplexed "
                    + "connection failed: " + unwrap(failure).getMessage(), unwrap(failure));
            done.forEach(d -> d.completeExceptionally(x));
            fail(x);
            return false;
        }
        done.forEach(d -> d.complete(null));
        return true;
    }

    /** Lets streams that waited for room in the queue write on; under lock. */
    private void pumpBlocked(List<Runnable> after) {
        while (!blocked.isEmpty() && queueRoom() > 0) {
            MuxStream s = blocked.iterator().next();
            blocked.remove(s);
            s.pump(after);
        }
    }

    // ------------------------------------------------------------------ reading

    private void readLoop() {
        while (true) {
            synchronized (lock) {
                if (ended != null && !orderly && closeFuture.isDone()) {
                    return;
                }
            }
            readBuf.clear();
            CompletableFuture<Integer> f;
            try {
                f = conn.read(readBuf).toCompletableFuture();
            } catch (RuntimeException e) {
                f = CompletableFuture.failedFuture(e);
            }
            if (!f.isDone()) {
                f.whenComplete((n, e) -> {
                    if (received(n, e)) {
                        readLoop();
                    }
                });
                return;
            }
            Integer n = null;
            Throwable e = null;
            try {
                n = f.join();
            } catch (CompletionException | java.util.concurrent.CancellationException x) {
                e = x;
            }
            if (!received(n, e)) {
                return;
            }
        }
    }

    /** @return whether to read on */
    private boolean received(Integer n, Throwable failure) {
        if (failure != null) {
            fail(new TransportException.Io("reading from " + peerName + " over the multiplexed connection "
                    + "failed: " + unwrap(failure).getMessage(), unwrap(failure)));
            return false;
        }
        if (n < 0) {
            // The peer closed: nothing more can be written; what waits is dropped with the connection.
            synchronized (lock) {
                if (ended == null) {
                    orderly = goAwayReceived;
                    endLocked(closedByPeer(), false);
                }
            }
            runDeferred();
            conn.close();
            return false;
        }
        readBuf.flip();
        List<Runnable> after = new ArrayList<>();
        TransportException.ProtocolViolation violation = null;
        synchronized (lock) {
            try {
                parse(after);
            } catch (TransportException.ProtocolViolation v) {
                violation = v;
            }
        }
        after.forEach(Runnable::run);
        if (violation != null) {
            violation(violation);
            return false;
        }
        writeNext();
        return true;
    }

    private void parse(List<Runnable> after) throws TransportException.ProtocolViolation {
        while (readBuf.hasRemaining()) {
            if (current == null) {
                int n = Math.min(header.remaining(), readBuf.remaining());
                header.put(readBuf.slice(readBuf.position(), n));
                readBuf.position(readBuf.position() + n);
                if (header.hasRemaining()) {
                    return;
                }
                header.flip();
                MuxFrame f = MuxFrame.decode(header);
                header.clear();
                frame(f, after);
            } else {
                int n = (int) Math.min(payloadLeft, readBuf.remaining());
                if (payloadTo != null) {
                    byte[] copy = new byte[n];
                    readBuf.get(copy);
                    payloadTo.received(ByteBuffer.wrap(copy), after);
                } else {
                    readBuf.position(readBuf.position() + n);
                }
                payloadLeft -= n;
                if (payloadLeft == 0) {
                    MuxFrame f = current;
                    MuxStream s = payloadTo;
                    current = null;
                    payloadTo = null;
                    if (s != null) {
                        s.flags(f, after);
                    }
                }
            }
        }
    }

    private void frame(MuxFrame f, List<Runnable> after) throws TransportException.ProtocolViolation {
        if (ended != null && !orderly) {
            return;
        }
        switch (f.type()) {
            case MuxFrame.PING -> {
                if (f.has(MuxFrame.SYN)) {
                    control(new MuxFrame(MuxFrame.PING, MuxFrame.ACK, 0, f.length()), null);
                } else if (f.length() == pingValue) {
                    pingValue = -1;
                    rttNanos = Math.max(1, System.nanoTime() - pingSentNanos);
                }
            }
            case MuxFrame.GO_AWAY -> {
                // The peer closes the connection (it has reset its streams): so does this side, once its
                // frames are out; the peer waits for that end of stream before it closes.
                goAwayReceived = true;
                LOG.log(f.length() == MuxFrame.GO_AWAY_NORMAL ? System.Logger.Level.DEBUG
                        : System.Logger.Level.INFO, peerName + " sent GO_AWAY (code " + f.length() + ") on "
                                + "multiplexed connection " + conn.info().id());
                if (ended == null) {
                    orderly = f.length() == MuxFrame.GO_AWAY_NORMAL;
                    endLocked(new TransportException.ConnectionFailed(peerName + " closed the multiplexed "
                            + conn.info().protocol() + " connection " + conn.info().id() + " (GO_AWAY, code "
                            + f.length() + ")", null), false);
                } else {
                    closeWhenDrained = true;
                }
            }
            default -> {
                MuxStream s = stream(f, after);
                if (f.type() == MuxFrame.WINDOW_UPDATE) {
                    if (s != null) {
                        s.windowUpdate(f.length(), after);
                        s.flags(f, after);
                    }
                    return;
                }
                if (s != null) {
                    s.checkData(f.length());
                }
                if (f.length() == 0) {
                    if (s != null) {
                        s.flags(f, after);
                    }
                    return;
                }
                current = f;
                payloadLeft = f.length();
                payloadTo = s != null && s.takesData(after) ? s : null;
                if (payloadTo == null && s != null) {
                    s.flags(f, after);
                }
            }
        }
    }

    /** The stream a DATA or WINDOW_UPDATE frame is for, opened if it carries SYN; null when it ended here. */
    private MuxStream stream(MuxFrame f, List<Runnable> after) throws TransportException.ProtocolViolation {
        int id = f.streamId();
        String name = MuxFrame.name(f.type());
        boolean peers = dialer ? id % 2 == 0 : id % 2 == 1;
        MuxStream s = streams.get(id);
        if (f.has(MuxFrame.SYN)) {
            if (!peers) {
                throw violation(name + " with SYN for stream " + id + ", an id of this side's");
            }
            if (s != null && s.awaitingSyn) {
                s.awaitingSyn = false;
                lastRemoteId = id;
                sendWindowFrame(s, MuxFrame.ACK);
                return s;
            }
            if (id <= lastRemoteId) {
                throw violation(name + " with SYN for stream " + id + ", not above the last stream the peer "
                        + "opened (" + lastRemoteId + ")");
            }
            lastRemoteId = id;
            if (ended != null || goAwaySent) {
                control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.RST, id, 0), null);
                return null;
            }
            if (streams.size() >= settings.maxStreams()) {
                refused++;
                control(new MuxFrame(MuxFrame.WINDOW_UPDATE, MuxFrame.RST, id, 0), null);
                LOG.log(System.Logger.Level.WARNING, "reset stream " + id + " from " + peerName + " on multiplexed "
                        + "connection " + conn.info().id() + ": limit maxStreamsPerConnection="
                        + settings.maxStreams() + " reached (" + refused + " refused so far)");
                return null;
            }
            s = new MuxStream(this, id, false, false);
            streams.put(id, s);
            sendWindowFrame(s, MuxFrame.ACK);
            if (acceptor != null) {
                Consumer<Connection> a = acceptor;
                MuxStream handed = s;
                after.add(() -> a.accept(handed));
            } else {
                waiting.add(s);
            }
            return s;
        }
        if (s == null) {
            boolean used = peers ? id <= lastRemoteId : id < nextLocalId;
            if (!used) {
                throw violation(name + " for stream " + id + ", which was never opened");
            }
            return null; // the stream ended here; late frames are dropped
        }
        if (s.awaitingSyn) {
            throw violation(name + " for stream " + id + " before its SYN");
        }
        if (f.has(MuxFrame.ACK)) {
            if (peers) {
                throw violation(name + " with ACK for stream " + id + ", which the peer opened");
            }
            s.acked = true;
        }
        return s;
    }

    static TransportException.ProtocolViolation violation(String what) {
        return new TransportException.ProtocolViolation("stream multiplexer: " + what);
    }

    // ------------------------------------------------------------------ keep-alive, ending

    private void keepAlive() {
        TransportException timedOut = null;
        synchronized (lock) {
            if (ended != null) {
                return;
            }
            long now = System.nanoTime();
            if (pingValue >= 0) {
                if (now - pingSentNanos >= settings.keepAlive().toNanos()) {
                    timedOut = new TransportException.ConnectionTimeout("keep-alive PING to " + peerName
                            + " on multiplexed connection " + conn.info().id() + " (no answer)", settings.keepAlive());
                }
            } else {
                ping();
            }
        }
        if (timedOut != null) {
            LOG.log(System.Logger.Level.INFO, "closing multiplexed connection " + conn.info().id() + ": "
                    + timedOut.getMessage());
            fail(timedOut);
            conn.close();
            return;
        }
        writeNext();
    }

    /** Sends a PING and waits for its answer; under lock. */
    private void ping() {
        pingValue = ++pingCounter & 0xFFFF_FFFFL;
        pingSentNanos = System.nanoTime();
        control(new MuxFrame(MuxFrame.PING, MuxFrame.SYN, 0, pingValue), null);
    }

    private void violation(TransportException.ProtocolViolation v) {
        onViolation.accept(this, v);
        synchronized (lock) {
            if (ended == null) {
                goAway(MuxFrame.GO_AWAY_PROTOCOL_ERROR);
                endLocked(v, false);
            }
        }
        writeNext();
    }

    /** Ends the session at once (streams fail) and closes the connection after what is queued. */
    private void fail(TransportException why) {
        synchronized (lock) {
            if (ended == null) {
                endLocked(why, false);
            }
        }
        writeNext();
    }

    private void goAway(int code) {
        if (!goAwaySent) {
            goAwaySent = true;
            control(new MuxFrame(MuxFrame.GO_AWAY, 0, 0, code), null);
        }
    }

    /**
     * Under lock: every stream ends with {@code why}; the connection closes once the queue is written, or,
     * with {@code waitForPeer}, once the peer's GO_AWAY or end of stream arrives; after the close timeout
     * in any case.
     */
    private void endLocked(TransportException why, boolean waitForPeer) {
        ended = why;
        if (keepAliveTask != null) {
            keepAliveTask.cancel(false);
        }
        List<MuxStream> all = new ArrayList<>(streams.values());
        streams.clear();
        grown = 0;
        blocked.clear();
        for (MuxStream s : all) {
            s.sessionEnded(why, deferred);
        }
        waiting.clear();
        closeWhenDrained = !waitForPeer;
        try {
            timer.schedule(conn::close, settings.closeTimeout().toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException stopped) {
            // the timer's owner is stopping; the connection closes once the queue is written
        }
    }

    /** Runs, outside the lock, what was left to run when the lock was held without a list at hand. */
    private void runDeferred() {
        List<Runnable> run;
        synchronized (lock) {
            if (deferred.isEmpty()) {
                return;
            }
            run = new ArrayList<>(deferred);
            deferred.clear();
        }
        run.forEach(Runnable::run);
    }

    private void underlyingClosed(Throwable failure) {
        List<Out> dropped;
        TransportException why;
        boolean failed;
        synchronized (lock) {
            if (ended == null) {
                orderly = failure == null && goAwayReceived;
                endLocked(failure == null ? closedByPeer() : new TransportException.Io("the multiplexed "
                        + conn.info().protocol() + " connection to " + peerName + " failed: "
                        + unwrap(failure).getMessage(), unwrap(failure)), false);
            }
            why = ended;
            failed = !orderly;
            dropped = new ArrayList<>(queue);
            queue.clear();
            queuedData = 0;
            queuedControl = 0;
        }
        runDeferred();
        for (Out o : dropped) {
            if (o.done() != null) {
                o.done().completeExceptionally(why);
            }
        }
        if (failed && failure != null) {
            closeFuture.completeExceptionally(why);
        } else if (failed && !(why instanceof TransportException.ConnectionFailed)) {
            closeFuture.completeExceptionally(why);
        } else {
            closeFuture.complete(null);
        }
    }

    private TransportException closedByPeer() {
        return new TransportException.ConnectionFailed(peerName + " closed the multiplexed " + conn.info().protocol()
                + " connection " + conn.info().id() + (goAwayReceived ? " after GO_AWAY" : " without GO_AWAY"), null);
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** @return the keep-alive interval */
    Duration keepAliveInterval() {
        return settings.keepAlive();
    }

    @Override
    public String toString() {
        return "multiplexed connection " + conn.info().id() + " to " + peerName;
    }
}
