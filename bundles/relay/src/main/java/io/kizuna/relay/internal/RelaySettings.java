package io.kizuna.relay.internal;

import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;

import io.kizuna.transport.PeerId;

/**
 * The relay service's settings, checked.
 *
 * @param admission              who may use the relay
 * @param maxReservationsPerPeer reservations one peer may hold
 * @param maxReservations        reservations in total
 * @param maxReservationsPerSource reservations one source address (an IPv6 /64) may hold
 * @param reservationsPerSourcePerMinute new reservations one source address may make per minute, 0 = unlimited
 * @param reservationTtl         lifetime of a reservation unless renewed
 * @param maxCircuitsPerPeer     circuits a peer may be an end of
 * @param maxCircuits            circuits in total
 * @param maxCircuitsPerDialer   circuits one source address (an IPv6 /64) may have to one reserved peer
 * @param maxCircuitsPerSource   circuits one source address may have as the dialer, to any peers
 * @param circuitQuota           limits of each circuit (bytes, lifetime, rate)
 * @param circuitIdle            how long a circuit may carry nothing before it is cut, zero = never
 * @param totalBytesPerSecond    bandwidth of all circuits together, 0 = unlimited
 * @param streamsPerSource       new relay streams per source address and second, 0 = unlimited
 * @param allowPrivateAddresses  whether loopback and private sources are served
 * @param acceptTimeout          time for the reserved peer to take a circuit
 */
record RelaySettings(Admission admission, int maxReservationsPerPeer, int maxReservations,
        int maxReservationsPerSource, int reservationsPerSourcePerMinute, Duration reservationTtl,
        int maxCircuitsPerPeer, int maxCircuits, int maxCircuitsPerDialer, int maxCircuitsPerSource,
        Quota circuitQuota, Duration circuitIdle, long totalBytesPerSecond,
        int streamsPerSource, boolean allowPrivateAddresses, Duration acceptTimeout) {

    static final int DEFAULT_RESERVATIONS_PER_PEER = 2;
    static final int DEFAULT_RESERVATIONS = 128;
    /** A few peers behind one NAT; 64 free keys from one address no longer take every reservation. */
    static final int DEFAULT_RESERVATIONS_PER_SOURCE = 8;
    static final int DEFAULT_RESERVATIONS_PER_SOURCE_PER_MINUTE = 10;
    static final int DEFAULT_RESERVATION_TTL_SECONDS = 3600;
    static final int DEFAULT_CIRCUITS_PER_PEER = 16;
    static final int DEFAULT_CIRCUITS = 256;
    /** Half a peer's circuits: one dialer cannot take them all. */
    static final int DEFAULT_CIRCUITS_PER_DIALER = 8;
    static final int DEFAULT_CIRCUITS_PER_SOURCE = 32;
    static final int DEFAULT_CIRCUIT_IDLE_SECONDS = 300;
    /** 32 Mbit/s per circuit and 256 Mbit/s in all: a public relay carries fallback traffic, not bulk. */
    static final long DEFAULT_CIRCUIT_BYTES_PER_SECOND = 4L * 1024 * 1024;
    static final long DEFAULT_TOTAL_BYTES_PER_SECOND = 32L * 1024 * 1024;
    static final long DEFAULT_CIRCUIT_BYTES = 16L * 1024 * 1024 * 1024;
    static final long DEFAULT_CIRCUIT_SECONDS = 24 * 3600;
    static final int DEFAULT_STREAMS_PER_SOURCE = 20;
    static final int DEFAULT_ACCEPT_TIMEOUT_MILLIS = 10_000;

    RelaySettings {
        positive("maxReservationsPerPeer", maxReservationsPerPeer);
        positive("maxReservations", maxReservations);
        positive("maxReservationsPerSource", maxReservationsPerSource);
        positive("maxCircuitsPerSource", maxCircuitsPerSource);
        positive("maxCircuitsPerPeer", maxCircuitsPerPeer);
        positive("maxCircuits", maxCircuits);
        positive("maxCircuitsPerDialer", maxCircuitsPerDialer);
        if (circuitIdle.isNegative()) {
            throw new IllegalArgumentException("circuitIdleSeconds must be >= 0 (0 = never), not "
                    + circuitIdle.toSeconds());
        }
        if (reservationTtl.toSeconds() < 2) {
            throw new IllegalArgumentException("reservationTtlSeconds must be at least 2, not "
                    + reservationTtl.toSeconds());
        }
        if (circuitQuota.maxBytes() < 0 || circuitQuota.maxSeconds() < 0 || circuitQuota.rate() < 0
                || totalBytesPerSecond < 0 || streamsPerSource < 0 || reservationsPerSourcePerMinute < 0) {
            throw new IllegalArgumentException("relay limits must be >= 0 (0 = unlimited)");
        }
        if (acceptTimeout.toMillis() < 100) {
            throw new IllegalArgumentException("acceptTimeoutMillis must be at least 100");
        }
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be at least 1, not " + v);
        }
    }

    static RelaySettings from(RelayConfig c) {
        return new RelaySettings(
                new Admission(Admission.Policy.parse(c.admission()), peers("allowlist", c.allowlist()),
                        peers("trustedIssuers", c.trustedIssuers())),
                c.maxReservationsPerPeer(), c.maxReservations(), c.maxReservationsPerSource(),
                c.maxNewReservationsPerSourcePerMinute(), Duration.ofSeconds(c.reservationTtlSeconds()),
                c.maxCircuitsPerPeer(), c.maxCircuits(), c.maxCircuitsPerDialer(), c.maxCircuitsPerSource(),
                new Quota(c.maxCircuitBytes(), c.maxCircuitSeconds(), c.circuitBytesPerSecond()),
                Duration.ofSeconds(c.circuitIdleSeconds()),
                c.totalBytesPerSecond(), c.maxNewStreamsPerSourcePerSecond(), c.allowPrivateAddresses(),
                Duration.ofMillis(c.acceptTimeoutMillis()));
    }

    private static Set<PeerId> peers(String key, String[] texts) {
        Set<PeerId> out = new LinkedHashSet<>();
        for (String t : texts == null ? new String[0] : texts) {
            for (String part : t.split(",")) {
                if (!part.isBlank()) {
                    try {
                        out.add(PeerId.parse(part.trim()));
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
                    }
                }
            }
        }
        return out;
    }

    /** @return settings for tests and defaults: open, loopback allowed when asked */
    static Builder builder() {
        return new Builder();
    }

    /** Builds settings field by field, from the defaults. */
    static final class Builder {
        Admission admission = new Admission(Admission.Policy.OPEN, Set.of(), Set.of());
        int maxReservationsPerPeer = DEFAULT_RESERVATIONS_PER_PEER;
        int maxReservations = DEFAULT_RESERVATIONS;
        int maxReservationsPerSource = DEFAULT_RESERVATIONS_PER_SOURCE;
        int reservationsPerSourcePerMinute = DEFAULT_RESERVATIONS_PER_SOURCE_PER_MINUTE;
        Duration reservationTtl = Duration.ofSeconds(DEFAULT_RESERVATION_TTL_SECONDS);
        int maxCircuitsPerPeer = DEFAULT_CIRCUITS_PER_PEER;
        int maxCircuits = DEFAULT_CIRCUITS;
        int maxCircuitsPerDialer = DEFAULT_CIRCUITS_PER_DIALER;
        int maxCircuitsPerSource = DEFAULT_CIRCUITS_PER_SOURCE;
        Quota circuitQuota = new Quota(DEFAULT_CIRCUIT_BYTES, DEFAULT_CIRCUIT_SECONDS,
                DEFAULT_CIRCUIT_BYTES_PER_SECOND);
        Duration circuitIdle = Duration.ofSeconds(DEFAULT_CIRCUIT_IDLE_SECONDS);
        long totalBytesPerSecond = DEFAULT_TOTAL_BYTES_PER_SECOND;
        int streamsPerSource = DEFAULT_STREAMS_PER_SOURCE;
        boolean allowPrivateAddresses;
        Duration acceptTimeout = Duration.ofMillis(DEFAULT_ACCEPT_TIMEOUT_MILLIS);

        RelaySettings build() {
            return new RelaySettings(admission, maxReservationsPerPeer, maxReservations, maxReservationsPerSource,
                    reservationsPerSourcePerMinute, reservationTtl, maxCircuitsPerPeer, maxCircuits,
                    maxCircuitsPerDialer, maxCircuitsPerSource, circuitQuota, circuitIdle,
                    totalBytesPerSecond, streamsPerSource,
                    allowPrivateAddresses, acceptTimeout);
        }
    }
}
