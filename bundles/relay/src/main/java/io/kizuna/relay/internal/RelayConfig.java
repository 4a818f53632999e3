package io.kizuna.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of the relay service (PID {@value RelayService#PID}). The
 * framework property {@code kizuna.relay=true} (set by {@code ./kizuna --relay})
 * enables it too.
 */
@ObjectClassDefinition(name = "Kizuna relay service",
        description = "Lets peers that cannot reach each other directly talk through this node: reservations, "
                + "circuits spliced without reading them, admission and limits")
@interface RelayConfig {

    @AttributeDefinition(name = "Enabled", description = "Serve reservations and circuits (public nodes only)")
    boolean enabled() default false;

    @AttributeDefinition(name = "Admission", description = "open, allowlist or token")
    String admission() default "open";

    @AttributeDefinition(name = "Allowlist", description = "PeerIds admitted with allowlist (and without a token)")
    String[] allowlist() default {};

    @AttributeDefinition(name = "Trusted token issuers", description = "PeerIds whose signed tokens admit a peer")
    String[] trustedIssuers() default {};

    @AttributeDefinition(name = "Reservations per peer")
    int maxReservationsPerPeer() default RelaySettings.DEFAULT_RESERVATIONS_PER_PEER;

    @AttributeDefinition(name = "Reservations in total")
    int maxReservations() default RelaySettings.DEFAULT_RESERVATIONS;

    @AttributeDefinition(name = "Reservations per source address",
            description = "Reservations the peers at one source address (an IPv6 /64) may hold together")
    int maxReservationsPerSource() default RelaySettings.DEFAULT_RESERVATIONS_PER_SOURCE;

    @AttributeDefinition(name = "New reservations per source address and minute", description = "0: unlimited")
    int maxNewReservationsPerSourcePerMinute() default RelaySettings.DEFAULT_RESERVATIONS_PER_SOURCE_PER_MINUTE;

    @AttributeDefinition(name = "Reservation lifetime (s)", description = "Clients renew at half of it")
    int reservationTtlSeconds() default RelaySettings.DEFAULT_RESERVATION_TTL_SECONDS;

    @AttributeDefinition(name = "Circuits per peer", description = "Open or pending circuits a peer is an end of")
    int maxCircuitsPerPeer() default RelaySettings.DEFAULT_CIRCUITS_PER_PEER;

    @AttributeDefinition(name = "Circuits in total")
    int maxCircuits() default RelaySettings.DEFAULT_CIRCUITS;

    @AttributeDefinition(name = "Circuits per dialer",
            description = "Open or pending circuits one source address (an IPv6 /64) may have to one reserved peer")
    int maxCircuitsPerDialer() default RelaySettings.DEFAULT_CIRCUITS_PER_DIALER;

    @AttributeDefinition(name = "Circuits per source address",
            description = "Open or pending circuits dialed from one source address (an IPv6 /64), to any peers")
    int maxCircuitsPerSource() default RelaySettings.DEFAULT_CIRCUITS_PER_SOURCE;

    @AttributeDefinition(name = "Circuit idle limit (s)",
            description = "A circuit that carries nothing either way this long is cut; 0: never")
    int circuitIdleSeconds() default RelaySettings.DEFAULT_CIRCUIT_IDLE_SECONDS;

    @AttributeDefinition(name = "Bandwidth per circuit (bytes/s)", description = "Both directions; 0: unlimited")
    long circuitBytesPerSecond() default RelaySettings.DEFAULT_CIRCUIT_BYTES_PER_SECOND;

    @AttributeDefinition(name = "Bandwidth in total (bytes/s)", description = "Shared fairly; 0: unlimited")
    long totalBytesPerSecond() default RelaySettings.DEFAULT_TOTAL_BYTES_PER_SECOND;

    @AttributeDefinition(name = "Bytes per circuit", description = "Both directions together; 0: unlimited")
    long maxCircuitBytes() default RelaySettings.DEFAULT_CIRCUIT_BYTES;

    @AttributeDefinition(name = "Circuit lifetime (s)", description = "0: unlimited")
    long maxCircuitSeconds() default RelaySettings.DEFAULT_CIRCUIT_SECONDS;

    @AttributeDefinition(name = "New streams per source address and second", description = "0: unlimited")
    int maxNewStreamsPerSourcePerSecond() default RelaySettings.DEFAULT_STREAMS_PER_SOURCE;

    @AttributeDefinition(name = "Allow loopback and private sources",
            description = "Serve peers reaching this relay from loopback, private, CGNAT or link-local addresses")
    boolean allowPrivateAddresses() default false;

    @AttributeDefinition(name = "Accept timeout (ms)",
            description = "How long a reserved peer has to take a circuit, and any stream to send its first message")
    int acceptTimeoutMillis() default RelaySettings.DEFAULT_ACCEPT_TIMEOUT_MILLIS;
}
