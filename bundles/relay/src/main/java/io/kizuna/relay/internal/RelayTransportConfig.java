package io.kizuna.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the relay transport (PID {@value RelayTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna relay transport",
        description = "Reaches peers through relays (dial) and keeps reservations on relays (listen)")
@interface RelayTransportConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports; relays come after every direct transport")
    int kizuna_transport_priority() default ClientSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Admission token",
            description = "A token (base64url) from an issuer the relays trust; empty for open relays")
    String token() default "";

    @AttributeDefinition(name = "Known relays",
            description = "Relay addresses <relay-id>@tcp://ip:port that find_best_relay measures")
    String[] relays() default {};

    @AttributeDefinition(name = "Measure interval (s)",
            description = "How often the known relays' round trip and capacity are measured again")
    int measureIntervalSeconds() default ClientSettings.DEFAULT_MEASURE_INTERVAL_SECONDS;

    @AttributeDefinition(name = "Longest re-reserve delay (ms)",
            description = "After a relay is lost, reservations are retried after 0.5 s, doubling up to this")
    int maxRetryDelayMillis() default ClientSettings.DEFAULT_MAX_RETRY_DELAY_MILLIS;

    @AttributeDefinition(name = "Handshake timeout (ms)",
            description = "How long a relay has to answer a reservation or circuit, and a dialer to finish the "
                    + "end-to-end TLS of a circuit to this node")
    int handshakeTimeoutMillis() default ClientSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;
}
