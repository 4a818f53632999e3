package io.kizuna.shell.internal.command;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import java.util.function.Function;

import io.kizuna.transport.Connection;
import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionManager;
import io.kizuna.transport.ConnectionMetrics;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.ProtocolNegotiation;

/** A scripted connection manager: tests set what each call answers and read what was asked. */
final class FakeConnectionManager implements ConnectionManager {

    PeerAddress local;
    final List<ConnectionInfo> connections = new ArrayList<>();
    final List<PeerAddress> dialed = new ArrayList<>();
    final List<PeerAddress> pinged = new ArrayList<>();
    final List<PeerAddress> perfed = new ArrayList<>();
    final List<PeerId> disconnected = new ArrayList<>();
    Function<PeerAddress, CompletionStage<ConnectionInfo>> onConnect;
    final Deque<CompletionStage<PingResult>> pings = new ArrayDeque<>();
    PerfScript onPerf;
    ConnectionMetrics overall = metrics(0, 0, 0, 0, 0, null, Map.of());
    final Map<String, ConnectionMetrics> byProtocol = new HashMap<>();
    final Map<PeerId, ConnectionMetrics> byPeer = new HashMap<>();

    interface PerfScript {
        CompletionStage<PerfResult> run(PeerAddress peer, long up, long down, Consumer<PerfResult.Progress> progress);
    }

    static ConnectionMetrics metrics(long established, long failed, long active, long sent, long received,
            Duration latency, Map<String, Long> usage) {
        return new ConnectionMetrics(established, failed, active, sent, received, Optional.ofNullable(latency), usage);
    }

    @Override
    public PeerId localPeerId() {
        return local.peerId();
    }

    @Override
    public PeerAddress localAddress() {
        return local;
    }

    @Override
    public CompletionStage<List<Endpoint>> startListening() {
        return CompletableFuture.completedFuture(local.endpoints());
    }

    @Override
    public CompletionStage<ConnectionInfo> connectToPeer(PeerAddress peer) {
        dialed.add(peer);
        return onConnect.apply(peer);
    }

    @Override
    public CompletionStage<Connection> openStream(PeerAddress peer, String applicationProtocol) {
        throw new UnsupportedOperationException("not used by the shell");
    }

    @Override
    public ProtocolNegotiation negotiateProtocol(PeerAddress peer) {
        throw new UnsupportedOperationException("not used by the shell");
    }

    @Override
    public List<ConnectionInfo> connections() {
        return List.copyOf(connections);
    }

    @Override
    public List<ConnectionInfo> connections(PeerId peer) {
        return connections.stream().filter(c -> c.peerId().equals(peer)).toList();
    }

    @Override
    public CompletionStage<PingResult> ping(PeerAddress peer) {
        pinged.add(peer);
        CompletionStage<PingResult> next = pings.poll();
        if (next == null) {
            throw new AssertionError("more pings than scripted");
        }
        return next;
    }

    @Override
    public CompletionStage<PerfResult> perf(PeerAddress peer, long uploadBytes, long downloadBytes,
            Consumer<PerfResult.Progress> progress) {
        perfed.add(peer);
        return onPerf.run(peer, uploadBytes, downloadBytes, progress);
    }

    @Override
    public CompletionStage<Void> disconnect(PeerId peer) {
        disconnected.add(peer);
        connections.removeIf(c -> c.peerId().equals(peer));
        return CompletableFuture.completedFuture(null);
    }

    @Override
    public ConnectionMetrics metrics() {
        return overall;
    }

    @Override
    public ConnectionMetrics metrics(PeerId peer) {
        return byPeer.getOrDefault(peer, metrics(0, 0, 0, 0, 0, null, Map.of()));
    }

    @Override
    public Map<String, ConnectionMetrics> metricsByProtocol() {
        return Map.copyOf(byProtocol);
    }
}
