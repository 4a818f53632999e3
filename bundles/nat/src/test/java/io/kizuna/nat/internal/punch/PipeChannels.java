package io.kizuna.nat.internal.punch;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import io.kizuna.transport.PeerId;

/** Two {@link PunchChannel}s joined in memory; each message passes through the codec, and is recorded. */
final class PipeChannels {

    final End a;
    final End b;
    /** Every message, in the order sent, with its sender's end ("a" or "b"). */
    final List<String> log = new ArrayList<>();

    /**
     * @param aSeesPeer the PeerId end a believes it talks to
     * @param bSeesPeer the PeerId end b believes it talks to
     */
    PipeChannels(PeerId aSeesPeer, PeerId bSeesPeer) {
        a = new End("a", aSeesPeer);
        b = new End("b", bSeesPeer);
        a.other = b;
        b.other = a;
    }

    final class End implements PunchChannel {
        final String name;
        final PeerId peer;
        End other;
        private final Queue<PunchMessage> inbox = new ArrayDeque<>();
        private CompletableFuture<PunchMessage> waiting;
        private boolean closed;

        End(String name, PeerId peer) {
            this.name = name;
            this.peer = peer;
        }

        @Override
        public PeerId peer() {
            return peer;
        }

        @Override
        public CompletionStage<Void> send(PunchMessage message) {
            PunchMessage copy;
            try {
                copy = PunchCodec.decode(PunchCodec.encode(message));
            } catch (io.kizuna.transport.TransportException.ProtocolViolation e) {
                return CompletableFuture.failedFuture(e);
            }
            synchronized (PipeChannels.this) {
                log.add(name + " " + message);
            }
            other.deliver(copy);
            return CompletableFuture.completedFuture(null);
        }

        void deliver(PunchMessage m) {
            CompletableFuture<PunchMessage> w;
            synchronized (this) {
                if (waiting == null) {
                    inbox.add(m);
                    return;
                }
                w = waiting;
                waiting = null;
            }
            w.complete(m);
        }

        @Override
        public synchronized CompletionStage<PunchMessage> receive() {
            if (waiting != null) {
                throw new IllegalStateException("a receive is under way");
            }
            if (!inbox.isEmpty()) {
                return CompletableFuture.completedFuture(inbox.poll());
            }
            if (closed) {
                return CompletableFuture.completedFuture(null);
            }
            waiting = new CompletableFuture<>();
            return waiting;
        }

        @Override
        public void close() {
            CompletableFuture<PunchMessage> w;
            synchronized (other) {
                other.closed = true;
                w = other.waiting;
                other.waiting = null;
            }
            if (w != null) {
                w.complete(null);
            }
        }
    }

    synchronized List<String> log() {
        return List.copyOf(log);
    }
}
