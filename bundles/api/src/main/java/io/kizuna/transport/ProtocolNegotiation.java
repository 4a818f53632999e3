package io.kizuna.transport;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The outcome of choosing transports for a peer: which were possible, in which
 * order they will be tried.
 *
 * @param offered  the transports the peer's address names, in the peer's order
 * @param selected the transport that will be tried first, if any
 * @param fallback the transports tried after it, in order
 * @param timeout  the time allowed for the first attempt; later attempts get less
 */
public record ProtocolNegotiation(List<String> offered, Optional<String> selected, List<String> fallback,
        Duration timeout) {

    /** Freezes the lists. */
    public ProtocolNegotiation {
        offered = List.copyOf(offered);
        fallback = List.copyOf(fallback);
    }

    /** @return the best transport to try first, if any transport can reach the peer */
    public Optional<String> selectBestProtocol() {
        return selected;
    }

    /** @return every transport to try, best first */
    public List<String> candidates() {
        return selected.map(s -> {
            var all = new java.util.ArrayList<String>();
            all.add(s);
            all.addAll(fallback);
            return List.copyOf(all);
        }).orElse(List.of());
    }
}
