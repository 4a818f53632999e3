package io.kizuna.nat.internal.punch;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

import io.kizuna.transport.NatType;
import io.kizuna.transport.PeerId;

/**
 * The messages of {@code kizuna/punch/1} (see {@link PunchCodec} for the wire
 * format). Every message names the session it belongs to, so a message of an
 * earlier session on a reused stream is told apart.
 */
sealed interface PunchMessage {

    /** @return the session id, {@link PunchCodec#SESSION_ID_LENGTH} bytes (a copy) */
    byte[] sessionId();

    /** @return the round the message belongs to, 1 to {@link PunchCodec#MAX_ROUND} */
    int round();

    /** How a candidate was learned, as in ICE (RFC 8445 5.1.1), plus the address a relay or peer observed. */
    enum Kind {
        /** An address of a local interface. */
        HOST,
        /** What a STUN server reported. */
        REFLEXIVE,
        /** What a peer saw as this node's address (HELLO's observed endpoint). */
        OBSERVED,
        /** A port mapped on a gateway (UPnP, NAT-PMP, PCP). */
        MAPPED
    }

    /** The transport protocol a candidate is for. */
    enum Protocol {
        /** UDP: probes, then QUIC. */
        UDP,
        /** TCP: simultaneous open. */
        TCP
    }

    /**
     * One address the sender may be reached at.
     *
     * @param kind     how it was learned
     * @param protocol UDP or TCP
     * @param address  an IPv4 or IPv6 address (not unresolved) and a port of 1-65535
     */
    record Candidate(Kind kind, Protocol protocol, InetSocketAddress address) {
        public Candidate {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(protocol, "protocol");
            if (address == null || address.isUnresolved() || address.getPort() == 0) {
                throw new IllegalArgumentException("a candidate needs an IP address and a port, not " + address);
            }
        }
    }

    /**
     * The sender's candidates for one round, signed with its node key.
     *
     * @param sessionId    16 random bytes chosen by the initiator
     * @param sender       the sender's PeerId, which must be the connection's authenticated peer
     * @param issuedAt     when it was signed, milliseconds since the epoch
     * @param round        the round
     * @param natType      the sender's NAT type as it knows it
     * @param candidates   at most {@link PunchCodec#MAX_CANDIDATES}
     * @param signature    Ed25519 over {@link PunchCodec#signedBytes}
     */
    record Candidates(byte[] sessionId, PeerId sender, long issuedAt, int round, NatType natType,
            List<Candidate> candidates, byte[] signature) implements PunchMessage {
        public Candidates {
            sessionId = sessionId.clone();
            Objects.requireNonNull(sender, "sender");
            Objects.requireNonNull(natType, "natType");
            candidates = List.copyOf(candidates);
            signature = signature.clone();
        }

        @Override
        public byte[] sessionId() {
            return sessionId.clone();
        }

        @Override
        public byte[] signature() {
            return signature.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Candidates c && Arrays.equals(sessionId, c.sessionId) && sender.equals(c.sender)
                    && issuedAt == c.issuedAt && round == c.round && natType == c.natType
                    && candidates.equals(c.candidates) && Arrays.equals(signature, c.signature);
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(sessionId), sender, issuedAt, round, candidates);
        }

        @Override
        public String toString() {
            return "CANDIDATES[" + HexFormat.of().formatHex(sessionId) + " round " + round + " from " + sender
                    + " " + natType + " " + candidates + "]";
        }
    }

    /**
     * Initiator to responder: start probing this round now.
     *
     * @param sessionId the session
     * @param round     the round
     */
    record Sync(byte[] sessionId, int round) implements PunchMessage {
        public Sync {
            sessionId = sessionId.clone();
        }

        @Override
        public byte[] sessionId() {
            return sessionId.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Sync s && Arrays.equals(sessionId, s.sessionId) && round == s.round;
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(sessionId) * 31 + round;
        }

        @Override
        public String toString() {
            return "SYNC[" + HexFormat.of().formatHex(sessionId) + " round " + round + "]";
        }
    }

    /**
     * Initiator to responder: the path that worked, which ends the session for both.
     *
     * @param sessionId the session
     * @param round     the round in which the path worked
     * @param protocol  UDP (a probe and its reply went through) or TCP
     * @param initiator the initiator's address as the responder saw it
     * @param responder the responder's address the initiator reached
     */
    record Result(byte[] sessionId, int round, Protocol protocol, InetSocketAddress initiator,
            InetSocketAddress responder) implements PunchMessage {
        public Result {
            sessionId = sessionId.clone();
            Objects.requireNonNull(protocol, "protocol");
            Objects.requireNonNull(initiator, "initiator");
            Objects.requireNonNull(responder, "responder");
        }

        @Override
        public byte[] sessionId() {
            return sessionId.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Result r && Arrays.equals(sessionId, r.sessionId) && round == r.round
                    && protocol == r.protocol && initiator.equals(r.initiator) && responder.equals(r.responder);
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(sessionId), round, protocol, initiator, responder);
        }

        @Override
        public String toString() {
            return "RESULT[" + HexFormat.of().formatHex(sessionId) + " round " + round + " " + protocol + " "
                    + initiator + " <-> " + responder + "]";
        }
    }

    /**
     * Either side: the session ends without a path.
     *
     * @param sessionId the session
     * @param round     the round at which it ended
     * @param code      why, one of {@link AbortCode}
     * @param reason    a text for the log, at most {@link PunchCodec#MAX_REASON} bytes of UTF-8
     */
    record Abort(byte[] sessionId, int round, AbortCode code, String reason) implements PunchMessage {
        public Abort {
            sessionId = sessionId.clone();
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public byte[] sessionId() {
            return sessionId.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Abort a && Arrays.equals(sessionId, a.sessionId) && round == a.round
                    && code == a.code && reason.equals(a.reason);
        }

        @Override
        public int hashCode() {
            return Objects.hash(Arrays.hashCode(sessionId), round, code, reason);
        }

        @Override
        public String toString() {
            return "ABORT[" + HexFormat.of().formatHex(sessionId) + " round " + round + " " + code + ": " + reason
                    + "]";
        }
    }

    /** Why a session ended without a path; the wire value is {@code ordinal() + 1}. */
    enum AbortCode {
        /** Every round ran out without a probe and its reply. */
        NO_PATH,
        /** No candidate of the peer passed the policy. */
        NO_CANDIDATES,
        /** The receiver refused the session for a rate limit. */
        LIMIT,
        /** A message broke the protocol. */
        PROTOCOL_VIOLATION,
        /** The sender timed out waiting. */
        TIMEOUT,
        /** The sender is stopping or was told to stop. */
        CANCELLED
    }
}
