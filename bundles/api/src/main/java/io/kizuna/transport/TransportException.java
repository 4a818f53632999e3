package io.kizuna.transport;

import java.time.Duration;
import java.util.Objects;

/**
 * The root of every failure the platform reports. The cases are closed: callers
 * can switch over them. Each message says what was tried (peer, address,
 * protocol, limit) and, where there is one, what to do about it.
 *
 * <p>Asynchronous methods complete their stage exceptionally with one of these
 * (wrapped in {@link java.util.concurrent.CompletionException} where the stage
 * API does so).
 */
public abstract sealed class TransportException extends Exception
        permits TransportException.ConnectionFailed,
                TransportException.AddressNotSupported,
                TransportException.UnsupportedProtocol,
                TransportException.PeerAuthenticationFailed,
                TransportException.NatTraversalFailed,
                TransportException.RelayFailed,
                TransportException.NegotiationTimeout,
                TransportException.ConnectionTimeout,
                TransportException.LimitExceeded,
                TransportException.ProtocolViolation,
                TransportException.Io,
                TransportException.QuicFailure,
                TransportException.WebRtcFailure {

    private static final long serialVersionUID = 1L;

    private TransportException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The peer could not be reached over any endpoint that was tried. */
    public static final class ConnectionFailed extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what was tried and why it failed
         * @param cause   the underlying failure, or null
         */
        public ConnectionFailed(String message, Throwable cause) {
            super(message, cause);
        }

        /**
         * The most telling failure after a transport tried every endpoint of a peer:
         * the only failure when there was one, a {@link PeerAuthenticationFailed}
         * when a peer answered with another key, else a {@code ConnectionFailed}
         * listing each endpoint's failure.
         *
         * @param peer      the peer that was dialed
         * @param protocol  the transport that tried
         * @param endpoints how many endpoints were tried
         * @param failures  each attempt's failure, in order; not empty
         * @return the failure to report
         */
        public static TransportException summarize(PeerId peer, String protocol, int endpoints,
                java.util.List<TransportException> failures) {
            if (failures.size() == 1) {
                return failures.get(0);
            }
            for (TransportException f : failures) {
                if (f instanceof PeerAuthenticationFailed) {
                    return f;
                }
            }
            StringBuilder tried = new StringBuilder();
            failures.forEach(f -> tried.append(tried.length() == 0 ? "" : "; ").append(f.getMessage()));
            return new ConnectionFailed("could not reach " + peer + " over " + protocol + " at any of its "
                    + endpoints + " endpoints: " + tried, failures.get(failures.size() - 1));
        }
    }

    /**
     * The transport does not handle this address (no endpoint of its protocol, or
     * an address family it cannot use): try the next transport.
     */
    public static final class AddressNotSupported extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param protocol the transport that declined
         * @param address  the address it was given
         */
        public AddressNotSupported(String protocol, PeerAddress address) {
            super("transport " + protocol + " has no endpoint to try in " + address, null);
        }
    }

    /** No transport both sides support, or a protocol name nobody serves. */
    public static final class UnsupportedProtocol extends TransportException {
        private static final long serialVersionUID = 1L;

        /** @param message which protocols were offered and which are available */
        public UnsupportedProtocol(String message) {
            super(message, null);
        }
    }

    /** The peer did not prove possession of the expected key, or presented no valid identity. */
    public static final class PeerAuthenticationFailed extends TransportException {
        private static final long serialVersionUID = 1L;
        private final PeerId expected;
        private final PeerId presented;

        /**
         * @param expected  the PeerId that was dialed, or null on the accepting side
         * @param presented the PeerId the peer proved, or null when it proved none
         * @param detail    what was checked
         */
        public PeerAuthenticationFailed(PeerId expected, PeerId presented, String detail) {
            super(message(expected, presented, detail), null);
            this.expected = expected;
            this.presented = presented;
        }

        private static String message(PeerId expected, PeerId presented, String detail) {
            if (expected != null && presented != null) {
                return "peer identity mismatch: expected " + expected + " but the peer presented " + presented
                        + " (" + detail + "); check the peer id in the address";
            }
            return "peer authentication failed: " + detail
                    + (expected != null ? " (expected " + expected + ")" : "")
                    + (presented != null ? " (presented " + presented + ")" : "");
        }

        /** @return the PeerId that was dialed, or null */
        public PeerId expected() {
            return expected;
        }

        /** @return the PeerId the peer proved, or null */
        public PeerId presented() {
            return presented;
        }
    }

    /** Hole punching or another NAT traversal technique did not produce a path. */
    public static final class NatTraversalFailed extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what was tried
         * @param cause   the underlying failure, or null
         */
        public NatTraversalFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A relay refused or lost a reservation or circuit. */
    public static final class RelayFailed extends TransportException {
        private static final long serialVersionUID = 1L;
        private final Reason reason;

        /** Why a relay refused or ended a reservation or circuit. */
        public enum Reason {
            /** The relay's admission policy (allowlist, token) does not admit this peer. */
            NOT_ADMITTED,
            /** The token was malformed, expired, for another peer or from an issuer the relay does not trust. */
            BAD_TOKEN,
            /** The peer holds as many reservations as the relay allows one peer. */
            RESERVATIONS_PER_PEER,
            /** The relay holds as many reservations as it allows in total. */
            RESERVATIONS_TOTAL,
            /** The peer has as many circuits open as the relay allows one peer. */
            CIRCUITS_PER_PEER,
            /** The relay has as many circuits open as it allows in total. */
            CIRCUITS_TOTAL,
            /** The source address opened new relay streams faster than the relay allows. */
            RATE_LIMITED,
            /** The source or target address is loopback or private and the relay is not configured to allow it. */
            ADDRESS_NOT_ALLOWED,
            /** The circuit moved as many bytes as allowed. */
            BYTES_LIMIT,
            /** The circuit lasted as long as allowed. */
            DURATION_LIMIT,
            /** The target holds no reservation on this relay (it is not there, or its reservation expired). */
            NO_RESERVATION,
            /** The reserved peer did not take the circuit in time. */
            TARGET_TIMEOUT,
            /** No relay service answers on that node. */
            NO_RELAY,
            /** Anything else (the message says what). */
            OTHER,
            /** The circuit carried no byte either way for as long as allowed (1.4.0). */
            IDLE_LIMIT,
            /** The source address holds as many reservations or circuits as the relay allows one address (1.4.0). */
            SOURCE_LIMIT
        }

        /**
         * @param message which relay, and what it answered
         * @param cause   the underlying failure, or null
         */
        public RelayFailed(String message, Throwable cause) {
            this(Reason.OTHER, message, cause);
        }

        /**
         * @param reason  why, as the relay reported it
         * @param message which relay, and what it answered
         * @param cause   the underlying failure, or null
         */
        public RelayFailed(Reason reason, String message, Throwable cause) {
            super(message, cause);
            this.reason = java.util.Objects.requireNonNull(reason, "reason");
        }

        /** @return why the relay refused */
        public Reason reason() {
            return reason;
        }
    }

    /** The two sides did not agree on a protocol in time. */
    public static final class NegotiationTimeout extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param what    what was being negotiated, with whom
         * @param timeout the time allowed
         */
        public NegotiationTimeout(String what, Duration timeout) {
            super(what + " did not complete within " + timeout.toMillis() + " ms", null);
        }
    }

    /** Connecting (including the handshake) took longer than allowed. */
    public static final class ConnectionTimeout extends TransportException {
        private static final long serialVersionUID = 1L;
        private final Duration timeout;

        /**
         * @param what    what was dialed, over which transport
         * @param timeout the time allowed
         */
        public ConnectionTimeout(String what, Duration timeout) {
            super(what + " timed out after " + Objects.requireNonNull(timeout).toMillis() + " ms", null);
            this.timeout = timeout;
        }

        /** @return the time that was allowed */
        public Duration timeout() {
            return timeout;
        }
    }

    /** A configured bound (connections, streams, queue, frame size, rate) was reached. */
    public static final class LimitExceeded extends TransportException {
        private static final long serialVersionUID = 1L;
        private final String limit;
        private final long value;

        /**
         * @param limit  the name of the limit, as in the configuration
         * @param value  the configured value
         * @param detail what hit it
         */
        public LimitExceeded(String limit, long value, String detail) {
            super(detail + ": limit " + limit + "=" + value + " reached", null);
            this.limit = limit;
            this.value = value;
        }

        /** @return the name of the limit */
        public String limit() {
            return limit;
        }

        /** @return the configured value */
        public long value() {
            return value;
        }
    }

    /** The peer sent bytes that break the protocol (malformed frame, unknown type, bad length). */
    public static final class ProtocolViolation extends TransportException {
        private static final long serialVersionUID = 1L;

        /** @param message what was received and what was expected */
        public ProtocolViolation(String message) {
            super(message, null);
        }
    }

    /** An I/O failure on an established connection. */
    public static final class Io extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what was being done
         * @param cause   the I/O error
         */
        public Io(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A QUIC-level error, with the QUIC error code where there is one. */
    public static final class QuicFailure extends TransportException {
        private static final long serialVersionUID = 1L;
        private final long errorCode;

        /**
         * @param message   what failed
         * @param errorCode the QUIC transport or application error code, or -1
         * @param cause     the underlying failure, or null
         */
        public QuicFailure(String message, long errorCode, Throwable cause) {
            super(message + (errorCode >= 0 ? " (QUIC error 0x" + Long.toHexString(errorCode) + ")" : ""), cause);
            this.errorCode = errorCode;
        }

        /** @return the QUIC error code, or -1 */
        public long errorCode() {
            return errorCode;
        }
    }

    /** A WebRTC-level error (ICE, DTLS, SCTP, DataChannel). */
    public static final class WebRtcFailure extends TransportException {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what failed
         * @param cause   the underlying failure, or null
         */
        public WebRtcFailure(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Finds the {@code TransportException} behind a failure from a stage, unwrapping
     * {@link java.util.concurrent.CompletionException} and
     * {@link java.util.concurrent.ExecutionException}.
     *
     * @param failure what a stage completed with
     * @return the transport exception, or an {@link Io} wrapping anything else
     */
    public static TransportException unwrap(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof java.util.concurrent.CompletionException
                || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof TransportException te) {
            return te;
        }
        return new Io(String.valueOf(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()), t);
    }
}
