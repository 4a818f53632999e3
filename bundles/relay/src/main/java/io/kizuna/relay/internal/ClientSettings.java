package io.kizuna.relay.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.kizuna.transport.PeerAddress;

/**
 * The relay transport's settings, checked.
 *
 * @param priority        the transport's priority
 * @param token           the admission token (wire form), possibly empty
 * @param relays          relays known for find_best_relay
 * @param measureInterval how often they are measured again
 * @param maxRetryDelay   the longest wait between re-reserve attempts
 * @param handshakeTimeout how long the relay has to answer, and a dialer to finish the end-to-end TLS of an
 *                        incoming circuit
 */
record ClientSettings(int priority, byte[] token, List<PeerAddress> relays, Duration measureInterval,
        Duration maxRetryDelay, Duration handshakeTimeout) {

    static final int DEFAULT_PRIORITY = 10;
    static final int DEFAULT_MEASURE_INTERVAL_SECONDS = 60;
    static final int DEFAULT_MAX_RETRY_DELAY_MILLIS = 30_000;
    static final int DEFAULT_HANDSHAKE_TIMEOUT_MILLIS = 10_000;

    ClientSettings {
        relays = List.copyOf(relays);
        for (PeerAddress r : relays) {
            if (r.endpoints().isEmpty() || r.endpoints().stream().anyMatch(e -> e.via().isPresent())) {
                throw new IllegalArgumentException("relay " + r + " needs direct endpoints, e.g. <relay-id>@tcp://ip:port");
            }
        }
        if (measureInterval.toSeconds() < 1 || maxRetryDelay.toMillis() < 500) {
            throw new IllegalArgumentException("measureIntervalSeconds must be >= 1 and maxRetryDelayMillis >= 500");
        }
        if (handshakeTimeout.toMillis() < 100) {
            throw new IllegalArgumentException("handshakeTimeoutMillis must be at least 100, not "
                    + handshakeTimeout.toMillis());
        }
    }

    static ClientSettings defaults() {
        return new ClientSettings(DEFAULT_PRIORITY, new byte[0], List.of(),
                Duration.ofSeconds(DEFAULT_MEASURE_INTERVAL_SECONDS),
                Duration.ofMillis(DEFAULT_MAX_RETRY_DELAY_MILLIS), Duration.ofMillis(DEFAULT_HANDSHAKE_TIMEOUT_MILLIS));
    }

    ClientSettings withToken(byte[] t) {
        return new ClientSettings(priority, t, relays, measureInterval, maxRetryDelay, handshakeTimeout);
    }

    ClientSettings withRelays(List<PeerAddress> r, Duration interval) {
        return new ClientSettings(priority, token, r, interval, maxRetryDelay, handshakeTimeout);
    }

    ClientSettings withMaxRetryDelay(Duration d) {
        return new ClientSettings(priority, token, relays, measureInterval, d, handshakeTimeout);
    }

    ClientSettings withHandshakeTimeout(Duration d) {
        return new ClientSettings(priority, token, relays, measureInterval, maxRetryDelay, d);
    }

    static ClientSettings from(RelayTransportConfig c) {
        byte[] token = new byte[0];
        if (!c.token().isBlank()) {
            try {
                token = RelayToken.parse(c.token()).encode();
            } catch (RelayToken.Invalid e) {
                throw new IllegalArgumentException("token: " + e.getMessage(), e);
            }
        }
        List<PeerAddress> relays = new ArrayList<>();
        for (String r : c.relays()) {
            if (!r.isBlank()) {
                relays.add(PeerAddress.parse(r));
            }
        }
        return new ClientSettings(c.kizuna_transport_priority(), token, relays,
                Duration.ofSeconds(c.measureIntervalSeconds()),
                Duration.ofMillis(c.maxRetryDelayMillis()), Duration.ofMillis(c.handshakeTimeoutMillis()));
    }
}
