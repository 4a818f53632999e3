package io.kizuna.webrtc.internal;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * One signaling message, signed by its sender's node key.
 *
 * <p>On the wire it is a JSON object
 * {@code {"v":1,"type":..,"session":..,"from":..,"to":..,"seq":..,"body":..,"sig":..}}.
 * The signature is Ed25519 over the UTF-8 bytes of
 * {@code "kizuna-webrtc-signal/1\n" + type + "\n" + session + "\n" + from + "\n" + to + "\n" + seq + "\n" + body},
 * so the type, the session, both PeerIds and the position in the session are
 * bound to the content: a message cannot be replayed into another session, to
 * another peer, or out of order.
 *
 * @param type      what it carries
 * @param session   the session id the dialer chose (22 base64url characters)
 * @param from      the sender
 * @param to        the receiver
 * @param seq       the sender's message number in this session, from 0
 * @param body      an SDP, a candidate ({@code mline \n mid \n candidate}), or a reason
 * @param signature the sender's signature
 */
record Signal(Type type, String session, PeerId from, PeerId to, long seq, String body, byte[] signature) {

    /** The domain separation prefix of the signed bytes. */
    static final String CONTEXT = "kizuna-webrtc-signal/1";

    /** What a signal carries. */
    enum Type {
        /** The dialer's SDP offer. */
        OFFER,
        /** The listener's SDP answer. */
        ANSWER,
        /** One trickled ICE candidate. */
        CANDIDATE,
        /** A refusal, with its reason: the receiver knows who refused. */
        REJECT;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Type of(String wire) {
            for (Type t : values()) {
                if (t.wire().equals(wire)) {
                    return t;
                }
            }
            throw new IllegalArgumentException("unknown signal type '" + wire + "'");
        }
    }

    /** Checks the parts. */
    Signal {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(to, "to");
        Objects.requireNonNull(body, "body");
        Objects.requireNonNull(signature, "signature");
    }

    /**
     * Makes and signs a signal.
     *
     * @param identity the sender
     * @param type     what it carries
     * @param session  the session id
     * @param to       the receiver
     * @param seq      the sender's message number
     * @param body     the content
     * @return the signed signal
     */
    static Signal signed(NodeIdentity identity, Type type, String session, PeerId to, long seq, String body) {
        byte[] sig = identity.sign(signedBytes(type, session, identity.peerId(), to, seq, body));
        return new Signal(type, session, identity.peerId(), to, seq, body, sig);
    }

    static byte[] signedBytes(Type type, String session, PeerId from, PeerId to, long seq, String body) {
        return (CONTEXT + "\n" + type.wire() + "\n" + session + "\n" + from + "\n" + to + "\n" + seq + "\n" + body)
                .getBytes(StandardCharsets.UTF_8);
    }

    /** @return whether {@link #signature} is {@link #from}'s signature over this signal */
    boolean verifies() {
        return Identities.verify(from, signedBytes(type, session, from, to, seq, body), signature);
    }

    /** @return the JSON text */
    String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("v", 1L);
        m.put("type", type.wire());
        m.put("session", session);
        m.put("from", from.toString());
        m.put("to", to.toString());
        m.put("seq", seq);
        m.put("body", body);
        m.put("sig", Base64.getEncoder().encodeToString(signature));
        return Json.write(m);
    }

    /**
     * Parses a signal without checking its signature (see {@link #verifies()}).
     *
     * @param json     the JSON text
     * @param maxChars the largest text accepted
     * @return the signal
     * @throws TransportException.ProtocolViolation saying what is malformed
     */
    static Signal parse(String json, int maxChars) throws TransportException.ProtocolViolation {
        if (json.length() > maxChars) {
            throw new TransportException.ProtocolViolation("signaling message of " + json.length()
                    + " characters is larger than maxSignalingMessage " + maxChars);
        }
        try {
            Map<String, Object> m = Json.parseObject(json);
            if (!Long.valueOf(1).equals(m.get("v"))) {
                throw new IllegalArgumentException("unsupported signaling version " + m.get("v") + " (expected 1)");
            }
            Object seq = m.get("seq");
            if (!(seq instanceof Long s) || s < 0) {
                throw new IllegalArgumentException("'seq' must be a non-negative integer");
            }
            byte[] sig = Base64.getDecoder().decode(str(m, "sig"));
            if (sig.length != 64) {
                throw new IllegalArgumentException("'sig' must be 64 bytes, not " + sig.length);
            }
            String session = str(m, "session");
            if (!session.matches("[A-Za-z0-9_-]{16,64}")) {
                throw new IllegalArgumentException("'session' must be 16-64 base64url characters");
            }
            return new Signal(Type.of(str(m, "type")), session, PeerId.parse(str(m, "from")),
                    PeerId.parse(str(m, "to")), s, str(m, "body"), sig);
        } catch (IllegalArgumentException e) {
            throw new TransportException.ProtocolViolation("malformed signaling message: " + e.getMessage());
        }
    }

    private static String str(Map<String, Object> m, String key) {
        if (!(m.get(key) instanceof String s)) {
            throw new IllegalArgumentException("'" + key + "' must be a string");
        }
        return s;
    }

    @Override
    public String toString() {
        return type.wire() + " #" + seq + " of session " + session + " from " + from.shortForm() + " to "
                + to.shortForm();
    }
}
