package io.kizuna.relay.internal.protocol;

import java.net.InetSocketAddress;
import java.util.Objects;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.RelayFailed;

/**
 * The messages of the relay protocol ({@value RelayCodec#PROTOCOL}); see
 * {@link RelayCodec} for their encoding.
 */
public sealed interface RelayMessage {

    /**
     * A peer asks for (or renews) a reservation, on the stream that then carries
     * its {@link Incoming} notices.
     *
     * @param token a signed admission token, or empty
     */
    record Reserve(byte[] token) implements RelayMessage {
        /** Checks the parts. */
        public Reserve {
            Objects.requireNonNull(token, "token");
        }
    }

    /**
     * The reservation is held.
     *
     * @param ttlSeconds        how long it lasts unless renewed
     * @param maxCircuitBytes   bytes a circuit may carry (both directions), 0 = unlimited
     * @param maxCircuitSeconds how long a circuit may last, 0 = unlimited
     * @param circuitRate       bytes per second per circuit and direction, 0 = unlimited
     */
    record Reserved(long ttlSeconds, long maxCircuitBytes, long maxCircuitSeconds, long circuitRate)
            implements RelayMessage {
    }

    /**
     * The relay refuses a reservation, a circuit or a query.
     *
     * @param reason  why
     * @param message what the relay says, for the user
     */
    record Refused(RelayFailed.Reason reason, String message) implements RelayMessage {
        /** Checks the parts. */
        public Refused {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(message, "message");
        }
    }

    /**
     * A dialer asks for a circuit to a reserved peer.
     *
     * @param target the reserved peer
     * @param token  a signed admission token, or empty
     */
    record Connect(PeerId target, byte[] token) implements RelayMessage {
        /** Checks the parts. */
        public Connect {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(token, "token");
        }
    }

    /** The circuit is spliced: from here on the stream carries the peers' bytes. */
    record Connected() implements RelayMessage {
    }

    /**
     * Sent on a reservation stream: a dialer waits for a circuit.
     *
     * @param circuit the circuit's random id, to name in {@link Accept}
     * @param dialer  the dialer's PeerId (authenticated by the relay)
     * @param source  the dialer's address as the relay sees it
     */
    record Incoming(byte[] circuit, PeerId dialer, InetSocketAddress source) implements RelayMessage {
        /** Checks the parts. */
        public Incoming {
            if (circuit.length != RelayCodec.CIRCUIT_ID_LENGTH) {
                throw new IllegalArgumentException("a circuit id has " + RelayCodec.CIRCUIT_ID_LENGTH + " bytes");
            }
            Objects.requireNonNull(dialer, "dialer");
            Objects.requireNonNull(source, "source");
        }
    }

    /**
     * The reserved peer takes a circuit, on a new stream to the relay; the relay
     * answers {@link Connected} and splices.
     *
     * @param circuit the id from {@link Incoming}
     */
    record Accept(byte[] circuit) implements RelayMessage {
        /** Checks the parts. */
        public Accept {
            if (circuit.length != RelayCodec.CIRCUIT_ID_LENGTH) {
                throw new IllegalArgumentException("a circuit id has " + RelayCodec.CIRCUIT_ID_LENGTH + " bytes");
            }
        }
    }

    /** Asks the relay how much room it has (for choosing a relay). */
    record Status() implements RelayMessage {
    }

    /**
     * The relay's free capacity.
     *
     * @param reservationsFree reservations it would still grant
     * @param circuitsFree     circuits it would still open
     */
    record StatusReply(long reservationsFree, long circuitsFree) implements RelayMessage {
    }
}
