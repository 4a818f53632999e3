package io.kizuna.transport;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Where and how to reach a peer: its {@link PeerId} and the endpoints it listens
 * on, in the peer's order of preference.
 *
 * <p>The text form users type is {@code <peer-id>@<endpoint>[,<endpoint>...]},
 * for example
 * {@code k5...q@tcp://127.0.0.1:7400,quic://127.0.0.1:7401}. Each endpoint after
 * a comma may repeat the {@code <peer-id>@} prefix, which must then name the same
 * peer. A bare {@code <peer-id>} (no endpoints) names a peer the manager already
 * knows, for example one that is connected. An endpoint reached through a relay
 * names the relay inside it:
 * {@code <peer-id>@relay://<relay-id>@tcp://198.51.100.7:7400} (see {@link Endpoint}). This class is the one place that
 * parses and prints that form.
 *
 * @param peerId    the peer
 * @param endpoints the endpoints, possibly empty; never null
 */
public record PeerAddress(PeerId peerId, List<Endpoint> endpoints) {

    /** Checks the parts and freezes the endpoint list. */
    public PeerAddress {
        Objects.requireNonNull(peerId, "peerId");
        endpoints = List.copyOf(endpoints);
    }

    /**
     * @param peerId    the peer
     * @param endpoints its endpoints
     * @return the address
     */
    public static PeerAddress of(PeerId peerId, Endpoint... endpoints) {
        return new PeerAddress(peerId, List.of(endpoints));
    }

    /**
     * Parses the text form.
     *
     * @param text e.g. {@code <peer-id>@tcp://127.0.0.1:7400}
     * @return the address
     * @throws IllegalArgumentException naming the part that is wrong and the expected form
     */
    public static PeerAddress parse(String text) {
        String t = text == null ? "" : text.trim();
        if (t.isEmpty()) {
            throw new IllegalArgumentException("empty peer address: expected <peer-id>@tcp://ip:port");
        }
        PeerId peer = null;
        List<Endpoint> endpoints = new ArrayList<>();
        for (String part : t.split(",", -1)) {
            String p = part.trim();
            if (p.isEmpty()) {
                throw new IllegalArgumentException("peer address '" + t + "' has an empty entry between commas");
            }
            // The peer prefix is an '@' before the first "://"; a later '@' belongs to a hop inside the endpoint.
            int scheme = p.indexOf("://");
            int at = p.indexOf('@');
            if (scheme >= 0 && at > scheme) {
                at = -1;
            }
            String endpoint = p;
            if (at >= 0) {
                PeerId named = parsePeer(p.substring(0, at), t);
                if (peer != null && !peer.equals(named)) {
                    throw new IllegalArgumentException("peer address '" + t + "' names two different peers: "
                            + peer + " and " + named);
                }
                peer = named;
                endpoint = p.substring(at + 1);
            } else if (peer == null && !p.contains("://")) {
                peer = parsePeer(p, t);
                continue;
            }
            if (peer == null) {
                throw new IllegalArgumentException("peer address '" + t
                        + "' must start with the peer id: <peer-id>@" + p);
            }
            endpoints.add(Endpoint.parse(endpoint));
        }
        return new PeerAddress(peer, endpoints);
    }

    private static PeerId parsePeer(String s, String whole) {
        try {
            return PeerId.parse(s.trim());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("peer address '" + whole + "': " + e.getMessage(), e);
        }
    }

    /** @return the transport protocol names of the endpoints, in order, without repeats */
    public Set<String> transportHints() {
        Set<String> hints = new LinkedHashSet<>();
        endpoints.forEach(e -> hints.add(e.protocol()));
        return hints;
    }

    /**
     * @param protocol a transport protocol name
     * @return the endpoints of that transport, in order
     */
    public List<Endpoint> endpoints(String protocol) {
        return endpoints.stream().filter(e -> e.protocol().equals(protocol)).toList();
    }

    /**
     * @param protocol a transport protocol name
     * @return this address restricted to that transport's endpoints
     */
    public PeerAddress only(String protocol) {
        return new PeerAddress(peerId, endpoints(protocol));
    }

    /** @return the text form, {@code <peer-id>@<endpoint>,<endpoint>...} */
    @Override
    public String toString() {
        if (endpoints.isEmpty()) {
            return peerId.toString();
        }
        StringBuilder sb = new StringBuilder(peerId.toString()).append('@');
        for (int i = 0; i < endpoints.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(endpoints.get(i));
        }
        return sb.toString();
    }
}
