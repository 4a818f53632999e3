package io.kizuna.core.internal.protocol;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerId;

/** One message of the control protocol; {@link ControlCodec} writes and reads them. */
public sealed interface ControlMessage {

    /** @return the message's type */
    MessageType type();

    /** Reason codes of {@link OpenRefused} and {@link Error}. */
    final class Codes {
        /** No handler serves the protocol asked for. */
        public static final int UNSUPPORTED_PROTOCOL = 1;
        /** A configured limit was reached; {@link OpenRefused#limit()} names it. */
        public static final int LIMIT = 2;
        /** The request was malformed or not allowed. */
        public static final int BAD_REQUEST = 3;
        /** The node is shutting down or its transport is leaving. */
        public static final int GOING_AWAY = 4;
        /** The peer sent bytes that break the protocol. */
        public static final int PROTOCOL_VIOLATION = 5;
        /** Something failed on the sender's side. */
        public static final int INTERNAL = 6;
        /** The peer took too long. */
        public static final int TIMEOUT = 7;

        private Codes() {
        }
    }

    /**
     * First frame a dialer sends on every new stream.
     *
     * @param protocol the application protocol, e.g. {@code kizuna/control/1}
     */
    record Open(String protocol) implements ControlMessage {
        /** Checks the name. */
        public Open {
            Objects.requireNonNull(protocol, "protocol");
        }

        @Override
        public MessageType type() {
            return MessageType.OPEN;
        }
    }

    /** The acceptor took the stream. */
    record OpenOk() implements ControlMessage {
        @Override
        public MessageType type() {
            return MessageType.OPEN_OK;
        }
    }

    /**
     * The acceptor refused the stream and closes it.
     *
     * @param code       one of {@link Codes}
     * @param reason     what was refused and why, for the dialer's user
     * @param limit      for {@link Codes#LIMIT}: the name of the limit, else empty
     * @param limitValue for {@link Codes#LIMIT}: its configured value, else 0
     */
    record OpenRefused(int code, String reason, String limit, long limitValue) implements ControlMessage {
        /** Checks the parts. */
        public OpenRefused {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(limit, "limit");
        }

        /**
         * @param code   one of {@link Codes}
         * @param reason what was refused and why
         */
        public OpenRefused(int code, String reason) {
            this(code, reason, "", 0);
        }

        @Override
        public MessageType type() {
            return MessageType.OPEN_REFUSED;
        }
    }

    /**
     * First frame of a control session, sent by both sides.
     *
     * @param version    the control protocol version the sender speaks
     * @param peerId     the sender's PeerId; must be the one its transport authenticated
     * @param listen     the endpoints the sender listens on
     * @param transports the transports the sender has available
     * @param observed   the address the sender sees this connection's other side at
     * @param signaled   the transports over which the sender accepts connections signaled over
     *                   this one, with no endpoint of their own (WebRTC behind a NAT); on the
     *                   wire only when not empty
     */
    record Hello(int version, PeerId peerId, List<Endpoint> listen, List<String> transports,
            Optional<Endpoint> observed, List<String> signaled) implements ControlMessage {
        /** Freezes the lists. */
        public Hello {
            Objects.requireNonNull(peerId, "peerId");
            listen = List.copyOf(listen);
            transports = List.copyOf(transports);
            Objects.requireNonNull(observed, "observed");
            signaled = List.copyOf(signaled);
        }

        /**
         * A HELLO that offers no signaled transport.
         *
         * @param version    the control protocol version
         * @param peerId     the sender's PeerId
         * @param listen     the endpoints it listens on
         * @param transports the transports it has
         * @param observed   the address it sees the other side at
         */
        public Hello(int version, PeerId peerId, List<Endpoint> listen, List<String> transports,
                Optional<Endpoint> observed) {
            this(version, peerId, listen, transports, observed, List.of());
        }

        @Override
        public MessageType type() {
            return MessageType.HELLO;
        }
    }

    /** @param nonce 8 random bytes the answer must echo */
    record Ping(long nonce) implements ControlMessage {
        @Override
        public MessageType type() {
            return MessageType.PING;
        }
    }

    /** @param nonce the nonce of the PING answered */
    record Pong(long nonce) implements ControlMessage {
        @Override
        public MessageType type() {
            return MessageType.PONG;
        }
    }

    /** @param reason why the sender closes the session */
    record GoAway(String reason) implements ControlMessage {
        /** Checks the reason. */
        public GoAway {
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public MessageType type() {
            return MessageType.GOAWAY;
        }
    }

    /**
     * @param code   one of {@link Codes}
     * @param reason what went wrong
     */
    record Error(int code, String reason) implements ControlMessage {
        /** Checks the reason. */
        public Error {
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public MessageType type() {
            return MessageType.ERROR;
        }
    }
}
