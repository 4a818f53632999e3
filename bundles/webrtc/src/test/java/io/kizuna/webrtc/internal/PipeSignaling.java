package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Two signaling channels joined in memory, with a function on each direction
 * that may rewrite or drop (return null) messages: the man in the middle of the
 * tamper tests.
 */
final class PipeSignaling implements SignalingChannel {

    private final ExecutorService delivery = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "pipe-signaling");
        t.setDaemon(true);
        return t;
    });
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final java.util.List<String> early = new java.util.ArrayList<>();
    private Consumer<String> receiver;
    private final InetSocketAddress local;
    private final InetSocketAddress remote;
    private PipeSignaling other;
    private UnaryOperator<String> outgoing;

    private PipeSignaling(int localPort, int remotePort) {
        this.local = new InetSocketAddress("127.0.0.1", localPort);
        this.remote = new InetSocketAddress("127.0.0.1", remotePort);
    }

    /**
     * @param aToB rewrites what a sends to b (null drops it)
     * @param bToA rewrites what b sends to a
     * @return the two ends
     */
    static PipeSignaling[] pair(UnaryOperator<String> aToB, UnaryOperator<String> bToA) {
        PipeSignaling a = new PipeSignaling(1001, 1002);
        PipeSignaling b = new PipeSignaling(1002, 1001);
        a.other = b;
        b.other = a;
        a.outgoing = aToB;
        b.outgoing = bToA;
        return new PipeSignaling[] {a, b};
    }

    @Override
    public void send(String json) {
        String m = outgoing.apply(json);
        if (m != null && !closed.isDone()) {
            other.deliver(m);
        }
    }

    /** Delivers in order, keeping what arrives before the receiver is set. */
    private synchronized void deliver(String m) {
        if (closed.isDone()) {
            return;
        }
        if (receiver == null) {
            early.add(m);
        } else {
            Consumer<String> r = receiver;
            delivery.execute(() -> r.accept(m));
        }
    }

    @Override
    public synchronized void onMessage(Consumer<String> r) {
        receiver = r;
        early.forEach(m -> delivery.execute(() -> r.accept(m)));
        early.clear();
    }

    @Override
    public CompletionStage<Void> closeFuture() {
        return closed;
    }

    @Override
    public void close() {
        closed.complete(null);
        delivery.shutdown();
    }

    @Override
    public InetSocketAddress localAddress() {
        return local;
    }

    @Override
    public InetSocketAddress remoteAddress() {
        return remote;
    }
}
