package io.kizuna.webrtc.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.onvoid.webrtc.RTCDataChannel;
import dev.onvoid.webrtc.RTCDataChannelBuffer;
import dev.onvoid.webrtc.RTCDataChannelObserver;
import dev.onvoid.webrtc.RTCDataChannelState;
import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.TransportException;

/**
 * One reliable, ordered DataChannel as a byte stream ({@value #PROTOCOL}).
 *
 * <p>Binary messages carry the bytes. Text messages carry control:
 * {@code credit <n>} lets the peer send {@code n} more bytes, {@code fin} ends
 * this side's bytes (a half-close, which DataChannels lack). Each side grants
 * its receive window when the channel opens and more as its application reads,
 * so a reader that stops holds the writer back (a peer that sends beyond its
 * credit breaks the protocol and the stream closes). A write hands messages to
 * libwebrtc only while the channel's {@code bufferedAmount} is below the
 * high-water mark, and resumes below the low-water mark: memory is bounded on
 * both sides whatever the application does.
 *
 * <p>All state lives on the transport's loop thread; libwebrtc's callbacks copy
 * what they get and hand over to it.
 */
final class DataChannelStream implements Connection, RTCDataChannelObserver {

    /** The DataChannel sub-protocol name (RFC 8832 "protocol"). */
    static final String PROTOCOL = "kizuna-stream/1";

    private static final System.Logger LOG = System.getLogger(DataChannelStream.class.getName());
    private static final String FIN = "fin";
    private static final String CREDIT = "credit ";
    /** Largest text message this protocol uses. */
    private static final int MAX_CONTROL = 32;
    /** How often a write held back by bufferedAmount checks it. */
    private static final long BUFFER_POLL_MICROS = 500;

    private final WebRtcPeer peer;
    private final RTCDataChannel channel;
    private final ScheduledExecutorService loop;
    private final WebRtcSettings settings;
    private final String id;
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private final CompletableFuture<Void> opened = new CompletableFuture<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final AtomicBoolean readBusy = new AtomicBoolean();
    private final AtomicBoolean writeBusy = new AtomicBoolean();
    private volatile boolean waitingForBuffer;
    private volatile Instant establishedAt = Instant.now();

    // loop-thread state
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private int headOffset;
    private long granted;
    private long received;
    private long consumed;
    private boolean finReceived;
    private boolean finSent;
    private boolean closing;
    private boolean ended;
    private String failure;
    private long sendCredit;
    private ByteBuffer readDst;
    private CompletableFuture<Integer> pendingRead;
    private ByteBuffer writeSrc;
    private CompletableFuture<Void> pendingWrite;

    DataChannelStream(WebRtcPeer peer, RTCDataChannel channel, ScheduledExecutorService loop,
            WebRtcSettings settings, String id) {
        this.peer = peer;
        this.channel = channel;
        this.loop = loop;
        this.settings = settings;
        this.id = id;
        channel.registerObserver(this);
        // It may have opened before the observer was registered (an incoming channel).
        loop.execute(this::stateChanged);
    }

    /** @return the DataChannel, for tests that play a misbehaving peer */
    RTCDataChannel channel() {
        return channel;
    }

    /** @return completes when the channel is open and the initial credit was granted */
    CompletableFuture<Void> opened() {
        return opened;
    }

    // ------------------------------------------------------------------ libwebrtc callbacks (its threads)

    @Override
    public void onStateChange() {
        post(this::stateChanged);
    }

    @Override
    public void onMessage(RTCDataChannelBuffer buffer) {
        ByteBuffer data = buffer.data;
        byte[] copy = new byte[data.remaining()];
        data.get(copy);
        boolean binary = buffer.binary;
        post(() -> received(binary, copy));
    }

    @Override
    public void onBufferedAmountChange(long previous) {
        if (waitingForBuffer && channel.getBufferedAmount() <= settings.writeLowWaterMark()) {
            waitingForBuffer = false;
            post(this::pump);
        }
    }

    /** Hands a callback's work to the loop; once the transport stopped there is nothing left to do. */
    private void post(Runnable r) {
        try {
            loop.execute(r);
        } catch (java.util.concurrent.RejectedExecutionException stopped) {
            // the transport stopped: every stream has ended
        }
    }

    // ------------------------------------------------------------------ loop thread

    private void stateChanged() {
        if (ended) {
            return;
        }
        RTCDataChannelState state = channel.getState();
        if (state == RTCDataChannelState.OPEN && !opened.isDone()) {
            establishedAt = Instant.now();
            granted = settings.receiveWindow();
            sendText(CREDIT + granted);
            opened.complete(null);
        } else if (state == RTCDataChannelState.CLOSING || state == RTCDataChannelState.CLOSED) {
            if (state == RTCDataChannelState.CLOSED || !closing) {
                end(finReceived ? null : "the peer closed the DataChannel without ending the stream");
            }
        }
    }

    private void received(boolean binary, byte[] data) {
        if (ended) {
            return;
        }
        if (!binary) {
            control(new String(data, StandardCharsets.UTF_8), data.length);
            return;
        }
        if (finReceived) {
            violation("data after the peer's fin");
            return;
        }
        if (data.length > settings.maxMessageSize()) {
            violation("a " + data.length + "-byte message, above maxMessageSize " + settings.maxMessageSize());
            return;
        }
        if (received + data.length > granted) {
            violation((received + data.length - granted) + " bytes beyond the credit granted");
            return;
        }
        received += data.length;
        if (data.length > 0) {
            queue.add(data);
        }
        serveRead();
    }

    private void control(String text, int length) {
        if (length > MAX_CONTROL) {
            violation("a " + length + "-byte control message");
        } else if (text.equals(FIN)) {
            finReceived = true;
            serveRead();
            if (finSent) {
                closeWhenDrained(); // the peer's fin came second: its receiver closes (see leaveCloseToPeer)
            }
        } else if (text.startsWith(CREDIT)) {
            long n;
            try {
                n = Long.parseLong(text.substring(CREDIT.length()));
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n <= 0 || sendCredit + n > (1L << 40)) {
                violation("a malformed credit '" + text + "'");
                return;
            }
            sendCredit += n;
            pump();
        } else {
            violation("an unknown control message '" + text.replaceAll("\\p{Cntrl}", "?") + "'");
        }
    }

    private void violation(String what) {
        LOG.log(System.Logger.Level.WARNING, "closing WebRTC stream {0} with {1}: it sent {2}", id,
                peer.remote().shortForm(), what);
        abort("protocol violation by the peer: " + what);
    }

    private void serveRead() {
        if (pendingRead == null) {
            return;
        }
        if (!queue.isEmpty()) {
            int n = 0;
            while (!queue.isEmpty() && readDst.hasRemaining()) {
                byte[] head = queue.peek();
                int take = Math.min(head.length - headOffset, readDst.remaining());
                readDst.put(head, headOffset, take);
                headOffset += take;
                n += take;
                if (headOffset == head.length) {
                    queue.poll();
                    headOffset = 0;
                }
            }
            consumed += n;
            bytesReceived.addAndGet(n);
            grantMore();
            complete(n);
        } else if (finReceived) {
            complete(-1);
        } else if (ended) {
            CompletableFuture<Integer> r = pendingRead;
            clearRead();
            r.completeExceptionally(io("read"));
        }
    }

    private void complete(int n) {
        CompletableFuture<Integer> r = pendingRead;
        clearRead();
        r.complete(n);
    }

    private void clearRead() {
        pendingRead = null;
        readDst = null;
        readBusy.set(false); // before the caller sees the result, so it may read again at once
    }

    /** Grants more credit once the application has read half the window. */
    private void grantMore() {
        long outstanding = granted - consumed;
        if (!finReceived && !ended && outstanding <= settings.receiveWindow() / 2) {
            long more = consumed + settings.receiveWindow() - granted;
            granted += more;
            sendText(CREDIT + more);
        }
    }

    private void pump() {
        if (pendingWrite == null) {
            return;
        }
        if (ended || finSent) {
            failWrite(io("write"));
            return;
        }
        int limit = peer.sendLimit();
        while (writeSrc.hasRemaining()) {
            if (sendCredit == 0) {
                return; // resumed by the peer's next credit
            }
            if (channel.getBufferedAmount() > settings.writeHighWaterMark()) {
                waitingForBuffer = true;
                if (channel.getBufferedAmount() > settings.writeLowWaterMark()) {
                    // libwebrtc reports a change only when its own queue moves, not as SCTP drains
                    // (browsers' bufferedamountlow has the same gap): poll until the callback or the poll wins.
                    loop.schedule(this::pollBuffer, BUFFER_POLL_MICROS, TimeUnit.MICROSECONDS);
                    return;
                }
                waitingForBuffer = false;
            }
            int n = (int) Math.min(Math.min(writeSrc.remaining(), limit), sendCredit);
            byte[] chunk = new byte[n];
            writeSrc.get(chunk);
            try {
                channel.send(new RTCDataChannelBuffer(ByteBuffer.wrap(chunk), true));
            } catch (Exception e) {
                abort("libwebrtc refused to send on the DataChannel: " + e.getMessage());
                return;
            }
            sendCredit -= n;
            bytesSent.addAndGet(n);
        }
        CompletableFuture<Void> w = pendingWrite;
        pendingWrite = null;
        writeSrc = null;
        writeBusy.set(false);
        w.complete(null);
    }

    private void pollBuffer() {
        if (waitingForBuffer && !ended) {
            if (channel.getBufferedAmount() <= settings.writeLowWaterMark()) {
                waitingForBuffer = false;
                pump();
            } else {
                loop.schedule(this::pollBuffer, BUFFER_POLL_MICROS, TimeUnit.MICROSECONDS);
            }
        }
    }

    private void failWrite(Throwable t) {
        CompletableFuture<Void> w = pendingWrite;
        pendingWrite = null;
        writeSrc = null;
        if (w != null) {
            writeBusy.set(false);
            w.completeExceptionally(t);
        }
    }

    private void sendText(String text) {
        try {
            channel.send(new RTCDataChannelBuffer(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)), false));
        } catch (Exception e) {
            abort("libwebrtc refused to send on the DataChannel: " + e.getMessage());
        }
    }

    /**
     * After this side's fin ended the exchange (the peer's came first), the peer closes the
     * channel once it has that fin, so it has had every message before it. Closed from here
     * at once, the stream reset could overtake the last messages: a Node peer on @roamhq/wrtc
     * saw its channel close without the last 16-64 KiB and the fin in about one echo in ten
     * on a loaded machine, each time with libwebrtc here CLOSING for 0.4-0.8 s (a
     * retransmission) before CLOSED. A peer that has not closed within
     * {@code closeTimeoutMillis} is closed on.
     */
    private void leaveCloseToPeer() {
        loop.schedule(() -> {
            if (!ended && !closing) {
                closeWhenDrained();
            }
        }, settings.closeTimeoutMillis(), TimeUnit.MILLISECONDS);
    }

    private void closeWhenDrained() {
        if (!closing) {
            closing = true;
            closeChannelWhenDrained(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(settings.closeTimeoutMillis()));
        }
    }

    /** Closes the channel once libwebrtc has sent what it buffered, or at the deadline. */
    private void closeChannelWhenDrained(long deadline) {
        if (ended) {
            return;
        }
        if (channel.getBufferedAmount() > 0 && System.nanoTime() < deadline) {
            loop.schedule(() -> closeChannelWhenDrained(deadline), 5, TimeUnit.MILLISECONDS);
            return;
        }
        channel.close();
        // libwebrtc reports CLOSED once the stream reset completed; do not wait for it forever.
        loop.schedule(() -> end(null), settings.closeTimeoutMillis(), TimeUnit.MILLISECONDS);
    }

    /** Ends the stream now: pending operations fail, the channel closes. */
    void abort(String reason) {
        if (ended) {
            return;
        }
        channel.close();
        end(reason);
    }

    private void end(String reason) {
        if (ended) {
            return;
        }
        ended = true;
        failure = reason;
        waitingForBuffer = false;
        failWrite(io("write"));
        serveRead();
        channel.unregisterObserver();
        channel.dispose();
        if (!opened.isDone()) {
            opened.completeExceptionally(new TransportException.WebRtcFailure("the DataChannel closed before it "
                    + "opened" + (reason == null ? "" : ": " + reason), null));
        }
        peer.streamEnded(this);
        closed.complete(null);
    }

    private TransportException io(String what) {
        return new TransportException.Io("cannot " + what + " on WebRTC stream " + id + " with "
                + peer.remote().shortForm() + ": " + (failure != null ? failure
                        : finSent && "write".equals(what) ? "this side ended its output" : "the stream is closed"),
                null);
    }

    // ------------------------------------------------------------------ Connection

    /** Runs on the loop; when the transport has stopped, fails {@code f} instead. */
    private boolean onLoop(Runnable r, CompletableFuture<?> f) {
        try {
            loop.execute(r);
            return true;
        } catch (java.util.concurrent.RejectedExecutionException e) {
            f.completeExceptionally(new TransportException.Io("WebRTC stream " + id
                    + ": the webrtc transport has stopped", e));
            return false;
        }
    }

    @Override
    public CompletionStage<Integer> read(ByteBuffer dst) {
        if (!dst.hasRemaining()) {
            throw new IllegalArgumentException("read into a full buffer");
        }
        if (!readBusy.compareAndSet(false, true)) {
            throw new IllegalStateException("a read is already pending on WebRTC stream " + id);
        }
        CompletableFuture<Integer> f = new CompletableFuture<>();
        if (!onLoop(() -> {
            pendingRead = f;
            readDst = dst;
            serveRead();
        }, f)) {
            readBusy.set(false);
        }
        return f;
    }

    @Override
    public CompletionStage<Void> write(ByteBuffer src) {
        if (!writeBusy.compareAndSet(false, true)) {
            throw new IllegalStateException("a write is already pending on WebRTC stream " + id);
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        if (!onLoop(() -> {
            pendingWrite = f;
            writeSrc = src;
            pump();
        }, f)) {
            writeBusy.set(false);
        }
        return f;
    }

    @Override
    public CompletionStage<Void> flush() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        onLoop(() -> flushWhenDrained(f, System.nanoTime()
                + TimeUnit.MILLISECONDS.toNanos(settings.handshakeTimeoutMillis())), f);
        return f;
    }

    private void flushWhenDrained(CompletableFuture<Void> f, long deadline) {
        if (ended || channel.getBufferedAmount() == 0) {
            f.complete(null);
        } else if (System.nanoTime() > deadline) {
            f.completeExceptionally(new TransportException.Io("WebRTC stream " + id + ": "
                    + channel.getBufferedAmount() + " bytes still buffered after waiting", null));
        } else {
            loop.schedule(() -> flushWhenDrained(f, deadline), 5, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public CompletionStage<Void> shutdownOutput() {
        CompletableFuture<Void> f = new CompletableFuture<>();
        onLoop(() -> {
            if (ended) {
                f.completeExceptionally(io("shut down output"));
                return;
            }
            if (!finSent) {
                finSent = true;
                failWrite(io("write"));
                sendText(FIN);
                if (finReceived) {
                    leaveCloseToPeer();
                }
            }
            f.complete(null);
        }, f);
        return f;
    }

    @Override
    public CompletionStage<Void> close() {
        onLoop(() -> {
            if (ended || closing) {
                return;
            }
            if (!finSent) {
                finSent = true;
                failWrite(io("write"));
                if (channel.getState() == RTCDataChannelState.OPEN) {
                    sendText(FIN);
                }
            }
            closing = true;
            closeChannelWhenDrained(System.nanoTime()
                    + TimeUnit.MILLISECONDS.toNanos(settings.closeTimeoutMillis()));
        }, new CompletableFuture<>());
        return closed;
    }

    /**
     * Asks libwebrtc which candidate pair carries the connection now; ICE may switch pairs, so each call reads it
     * afresh (and {@link #info()}'s path follows).
     *
     * @return the selected pair, or empty when none is (closed, or the path lost)
     */
    CompletionStage<Optional<CandidatePair>> selectedCandidatePair() {
        return peer.selectedCandidatePair();
    }

    @Override
    public boolean isConnected() {
        return !closed.isDone();
    }

    @Override
    public ConnectionInfo info() {
        return new ConnectionInfo(id, peer.remote(), WebRtcTransport.PROTOCOL_NAME, peer.direction(),
                peer.localAddress(), peer.remoteAddress(), establishedAt, bytesSent.get(), bytesReceived.get(),
                peer.rtt(), Optional.empty()).withPath(peer.path());
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }

    /** @return the flow-control state, for diagnostics */
    CompletableFuture<String> state() {
        return CompletableFuture.supplyAsync(() -> "credit " + sendCredit + ", buffered "
                + (ended ? "-" : channel.getBufferedAmount()) + ", granted " + granted + ", received " + received
                + ", consumed " + consumed + ", queued " + queue.size() + ", waitingForBuffer " + waitingForBuffer
                + ", pendingWrite " + (pendingWrite != null) + ", pendingRead " + (pendingRead != null)
                + ", fin " + finSent + "/" + finReceived + ", ended " + ended, loop);
    }

    @Override
    public String toString() {
        return "WebRTC stream " + id + " with " + peer.remote().shortForm();
    }
}
