package io.kizuna.webrtc.internal;

import java.util.Locale;
import java.util.Objects;

/**
 * The two ends of an ICE candidate pair.
 *
 * @param localType     the local candidate's type
 * @param localAddress  its {@code ip:port}
 * @param remoteType    the remote candidate's type
 * @param remoteAddress its {@code ip:port}; libwebrtc hides the address of a
 *                      remote peer-reflexive candidate, written {@code ?:port}
 */
public record CandidatePair(Type localType, String localAddress, Type remoteType, String remoteAddress) {

    /** The candidate types of RFC 8445 §5.1.1. */
    public enum Type {
        /** An address of a local interface. */
        HOST,
        /** The address a NAT mapped the candidate to, learnt from a STUN server. */
        SRFLX,
        /** The address a NAT mapped the candidate to, learnt from the peer's checks. */
        PRFLX,
        /** An address on a TURN relay. */
        RELAY;

        /**
         * @param name {@code host}, {@code srflx}, {@code prflx} or {@code relay}
         * @return the type
         * @throws IllegalArgumentException for another name
         */
        public static Type of(String name) {
            return valueOf(Objects.requireNonNull(name, "candidate type").toUpperCase(Locale.ROOT));
        }

        @Override
        public String toString() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Checks the parts. */
    public CandidatePair {
        Objects.requireNonNull(localType, "localType");
        Objects.requireNonNull(localAddress, "localAddress");
        Objects.requireNonNull(remoteType, "remoteType");
        Objects.requireNonNull(remoteAddress, "remoteAddress");
    }

    /** @return e.g. {@code srflx 203.0.113.101:54663 -> srflx 203.0.113.102:53367} */
    @Override
    public String toString() {
        return localType + " " + localAddress + " -> " + remoteType + " " + remoteAddress;
    }
}
