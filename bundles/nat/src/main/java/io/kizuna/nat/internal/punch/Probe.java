package io.kizuna.nat.internal.punch;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.kizuna.nat.internal.StunMessage;
import io.kizuna.transport.PeerId;

/**
 * The probes of one punch session: STUN Binding requests and responses (RFC
 * 8489), so they share QUIC's socket by the first byte (0-3, RFC 9443) and a
 * response tells the prober its address as the peer saw it
 * (XOR-MAPPED-ADDRESS), as Tailscale's disco pings double as STUN.
 *
 * <p>Only the two peers can make a probe of the session: each carries
 * {@link #PUNCH_MAC}, the first 16 bytes of HMAC-SHA256 under a key derived
 * from the session id (which travelled only inside the encrypted connection)
 * and both PeerIds, over the message type, the transaction id and the
 * XOR-MAPPED-ADDRESS value of a response. Transaction ids are derived from the
 * key too (prober's role, round, sequence number), so two sessions never share
 * one.
 */
final class Probe {

    /** A comprehension-optional attribute type (0x8000-0xFFFF) of this protocol: a server ignores it. */
    static final int PUNCH_MAC = 0xC05A;

    /** Bytes of the MAC kept. */
    static final int MAC_LENGTH = 16;

    private static final String KEY_CONTEXT = "kizuna punch probe v1";

    private final SecretKeySpec key;

    /**
     * @param sessionId the session id
     * @param initiator the initiator's PeerId
     * @param responder the responder's PeerId
     */
    Probe(byte[] sessionId, PeerId initiator, PeerId responder) {
        ByteBuffer info = ByteBuffer.allocate(KEY_CONTEXT.length() + 2 * PeerId.LENGTH)
                .put(KEY_CONTEXT.getBytes(StandardCharsets.US_ASCII)).put(initiator.bytes()).put(responder.bytes());
        this.key = new SecretKeySpec(hmac(new SecretKeySpec(sessionId, "HmacSHA256"), info.array()), "HmacSHA256");
    }

    /**
     * @param initiator whether the prober is the initiator
     * @param round     the round
     * @param seq       the probe's number within the round
     * @return the transaction id of that probe
     */
    byte[] transactionId(boolean initiator, int round, int seq) {
        byte[] in = ByteBuffer.allocate(10).put("txid".getBytes(StandardCharsets.US_ASCII))
                .put((byte) (initiator ? 1 : 2)).put((byte) round).putInt(seq).array();
        return Arrays.copyOf(hmac(key, in), 12);
    }

    /** @return a Binding request with this transaction id */
    byte[] request(byte[] transactionId) {
        return encode(StunMessage.BINDING_REQUEST, transactionId, null);
    }

    /** @return the Binding response to a request from {@code from} */
    byte[] response(byte[] transactionId, InetSocketAddress from) {
        return encode(StunMessage.BINDING_SUCCESS, transactionId, from);
    }

    private byte[] encode(int type, byte[] transactionId, InetSocketAddress mapped) {
        List<StunMessage.Attribute> attributes = new ArrayList<>();
        byte[] xor = mapped == null ? new byte[0] : StunMessage.encodeAddress(mapped, true, transactionId);
        if (mapped != null) {
            attributes.add(new StunMessage.Attribute(StunMessage.XOR_MAPPED_ADDRESS, xor));
        }
        attributes.add(new StunMessage.Attribute(PUNCH_MAC, mac(type, transactionId, xor)));
        return new StunMessage(type, transactionId, attributes, true).encode();
    }

    /**
     * A datagram read back as a probe of this session.
     *
     * @param request       a Binding request, else a success response
     * @param transactionId its transaction id
     * @param mapped        in a response, the prober's address as the peer saw it
     */
    record Received(boolean request, byte[] transactionId, Optional<InetSocketAddress> mapped) {
    }

    /**
     * @param datagram a datagram from the socket
     * @return the probe, or empty when it is not a probe of this session (another protocol, malformed,
     *         or a wrong MAC: made without the key)
     */
    Optional<Received> read(byte[] datagram) {
        StunMessage m;
        try {
            m = StunMessage.parse(datagram, 0, datagram.length);
        } catch (StunMessage.MalformedException e) {
            return Optional.empty();
        }
        if (m.type() != StunMessage.BINDING_REQUEST && m.type() != StunMessage.BINDING_SUCCESS) {
            return Optional.empty();
        }
        Optional<StunMessage.Attribute> mac = m.attribute(PUNCH_MAC);
        Optional<StunMessage.Attribute> xor = m.attribute(StunMessage.XOR_MAPPED_ADDRESS);
        boolean request = m.type() == StunMessage.BINDING_REQUEST;
        if (mac.isEmpty() || request == xor.isPresent()) {
            return Optional.empty();
        }
        byte[] expected = mac(m.type(), m.transactionId(), xor.map(StunMessage.Attribute::value).orElse(new byte[0]));
        if (!MessageDigest.isEqual(expected, mac.get().value())) {
            return Optional.empty();
        }
        Optional<InetSocketAddress> mapped = xor.flatMap(a -> StunMessage.decodeAddress(a.value(), true,
                m.transactionId()));
        if (!request && mapped.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Received(request, m.transactionId(), mapped));
    }

    private byte[] mac(int type, byte[] transactionId, byte[] xorMapped) {
        byte[] in = ByteBuffer.allocate(2 + 12 + xorMapped.length).putShort((short) type).put(transactionId)
                .put(xorMapped).array();
        return Arrays.copyOf(hmac(key, in), MAC_LENGTH);
    }

    private static byte[] hmac(SecretKeySpec key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every Java 17 runtime", e);
        }
    }
}
