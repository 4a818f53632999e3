package io.kizuna.relay.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

import io.kizuna.relay.internal.protocol.RelayCodec;
import io.kizuna.relay.internal.protocol.RelayMessage;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.RelayNode;

/**
 * find_best_relay: measures the round trip to each known relay (a control ping)
 * and asks it for its free capacity (STATUS); the best relay is the one with the
 * lowest round trip among those with room for a reservation and a circuit. The
 * transport measures again every {@code measureIntervalSeconds}.
 */
final class RelaySelector {

    private static final Duration MEASURE_TIMEOUT = Duration.ofSeconds(5);

    private final RelayTransport transport;
    private final List<PeerAddress> relays;
    private volatile List<RelayNode> last = List.of();

    RelaySelector(RelayTransport transport, List<PeerAddress> relays) {
        this.transport = transport;
        this.relays = List.copyOf(relays);
    }

    /** @return the latest measurement, best first */
    List<RelayNode> last() {
        return last;
    }

    /** @return the best relay of the latest measurement, if any has capacity */
    Optional<RelayNode> best() {
        return last.stream().filter(RelayNode::available).findFirst();
    }

    /** @return measures every known relay, then returns them best first (unreachable ones last) */
    CompletionStage<List<RelayNode>> measure() {
        List<CompletableFuture<RelayNode>> all = new ArrayList<>();
        for (PeerAddress r : relays) {
            all.add(measure(r));
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).thenApply(v -> {
            List<RelayNode> nodes = new ArrayList<>(all.stream().map(CompletableFuture::join).toList());
            nodes.sort(order());
            last = List.copyOf(nodes);
            return last;
        });
    }

    /** Available first, then by round trip; unmeasured last. */
    static Comparator<RelayNode> order() {
        return Comparator.comparing((RelayNode n) -> !n.available())
                .thenComparing(n -> n.latency().orElse(Duration.ofDays(1)));
    }

    private CompletableFuture<RelayNode> measure(PeerAddress relay) {
        CompletableFuture<Duration> rtt = transport.manager().ping(relay).toCompletableFuture()
                .thenApply(p -> p.rtt());
        CompletableFuture<Boolean> room = transport.openHop(relay).thenCompose(s -> RelayCodec
                .write(s, new RelayMessage.Status()).thenCompose(v -> RelayCodec.read(s)).whenComplete((m, e) -> s.close()))
                .thenApply(m -> m instanceof RelayMessage.StatusReply r && r.reservationsFree() > 0
                        && r.circuitsFree() > 0)
                .toCompletableFuture();
        return rtt.thenCombine(room, (t, ok) -> new RelayNode(relay, Optional.of(t), ok))
                .orTimeout(MEASURE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(e -> new RelayNode(relay, Optional.empty(), false));
    }
}
