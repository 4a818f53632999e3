package io.kizuna.transport;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One way to reach a peer: a transport protocol name and a socket address,
 * written {@code tcp://127.0.0.1:7400} or {@code quic://[::1]:7401}.
 *
 * <p>Host names are not resolved here: an endpoint holds a literal IP address,
 * so parsing never blocks on DNS.
 *
 * <p>An endpoint reached through another node names that node as its {@link #via()}
 * hop, written {@code relay://<relay-id>@tcp://198.51.100.7:7400}: the
 * {@code relay} transport dials the relay with PeerId {@code <relay-id>} at
 * {@code tcp://198.51.100.7:7400} and asks it for a circuit. {@link #address()}
 * is then the relay's address.
 *
 * @param protocol the transport protocol name, as {@link Transport#protocolName()}
 * @param address  the literal socket address (the hop's, when there is one)
 * @param via      the node in between, or empty for a direct endpoint
 */
public record Endpoint(String protocol, InetSocketAddress address, Optional<Hop> via) {

    private static final Pattern PROTOCOL = Pattern.compile("[a-z][a-z0-9-]{0,31}");

    /**
     * A node that an endpoint is reached through, such as a relay.
     *
     * @param peer      the node's PeerId, which it must prove
     * @param transport the transport that reaches it at the endpoint's address, e.g. {@code tcp}
     */
    public record Hop(PeerId peer, String transport) {

        /** Checks the parts. */
        public Hop {
            Objects.requireNonNull(peer, "peer");
            Objects.requireNonNull(transport, "transport");
            if (!PROTOCOL.matcher(transport).matches()) {
                throw new IllegalArgumentException("transport name '" + transport
                        + "' must be 1-32 lowercase letters, digits or '-', starting with a letter");
            }
        }
    }

    /** Checks the parts. */
    public Endpoint {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(via, "via");
        if (!PROTOCOL.matcher(protocol).matches()) {
            throw new IllegalArgumentException("transport name '" + protocol
                    + "' must be 1-32 lowercase letters, digits or '-', starting with a letter");
        }
        if (address.isUnresolved()) {
            throw new IllegalArgumentException("endpoint " + protocol + "://" + address.getHostString()
                    + " must use an IP address, not a host name");
        }
    }

    /**
     * A direct endpoint.
     *
     * @param protocol the transport protocol name
     * @param address  the literal socket address
     */
    public Endpoint(String protocol, InetSocketAddress address) {
        this(protocol, address, Optional.empty());
    }

    /**
     * An endpoint reached through a node, e.g. a relay.
     *
     * @param protocol the transport that goes through the node, e.g. {@code relay}
     * @param hop      the node's address: its PeerId and one direct endpoint
     * @return the endpoint, written {@code protocol://<hop-id>@<hop-endpoint>}
     * @throws IllegalArgumentException when {@code hop} has not exactly one direct endpoint
     */
    public static Endpoint via(String protocol, PeerAddress hop) {
        if (hop.endpoints().size() != 1 || hop.endpoints().get(0).via().isPresent()) {
            throw new IllegalArgumentException("the hop of a " + protocol
                    + " endpoint needs exactly one direct endpoint, not " + hop);
        }
        Endpoint e = hop.endpoints().get(0);
        return new Endpoint(protocol, e.address(), Optional.of(new Hop(hop.peerId(), e.protocol())));
    }

    /** @return the hop's address ({@link #via()} and {@link #address()}), or empty for a direct endpoint */
    public Optional<PeerAddress> hopAddress() {
        return via.map(h -> PeerAddress.of(h.peer(), new Endpoint(h.transport(), address)));
    }

    /**
     * Parses {@code protocol://ip:port}; an IPv6 address is written in brackets.
     *
     * @param text the endpoint text
     * @return the endpoint
     * @throws IllegalArgumentException naming what is wrong and what is expected
     */
    public static Endpoint parse(String text) {
        String t = text == null ? "" : text.trim();
        int scheme = t.indexOf("://");
        if (scheme <= 0) {
            throw new IllegalArgumentException("endpoint '" + t
                    + "' has no transport: expected e.g. tcp://127.0.0.1:7400");
        }
        String protocol = t.substring(0, scheme).toLowerCase(Locale.ROOT);
        String hostPort = t.substring(scheme + 3);
        int at = hostPort.indexOf('@');
        if (at >= 0) {
            return parseVia(protocol, hostPort, at, t);
        }
        String host;
        String port;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf(']');
            if (close < 0 || close + 1 >= hostPort.length() || hostPort.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("endpoint '" + t
                        + "': an IPv6 address is written [addr]:port, e.g. tcp://[::1]:7400");
            }
            host = hostPort.substring(1, close);
            port = hostPort.substring(close + 2);
        } else {
            int colon = hostPort.lastIndexOf(':');
            if (colon <= 0 || hostPort.indexOf(':') != colon) {
                throw new IllegalArgumentException("endpoint '" + t
                        + "' needs ip:port (IPv6 in brackets), e.g. " + protocol + "://127.0.0.1:7400");
            }
            host = hostPort.substring(0, colon);
            port = hostPort.substring(colon + 1);
        }
        int portNumber;
        try {
            portNumber = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("endpoint '" + t + "': port '" + port + "' is not a number");
        }
        if (portNumber < 0 || portNumber > 65535) {
            throw new IllegalArgumentException("endpoint '" + t + "': port " + portNumber + " is outside 0-65535");
        }
        return new Endpoint(protocol, new InetSocketAddress(literal(host, t), portNumber));
    }

    /** {@code protocol://<hop-id>@<hop-endpoint>}: the hop must be one direct endpoint. */
    private static Endpoint parseVia(String protocol, String rest, int at, String text) {
        PeerId hop;
        try {
            hop = PeerId.parse(rest.substring(0, at));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("endpoint '" + text + "': " + e.getMessage()
                    + "; expected e.g. " + protocol + "://<relay-id>@tcp://198.51.100.7:7400", e);
        }
        String inner = rest.substring(at + 1);
        if (inner.indexOf('@') >= 0) {
            throw new IllegalArgumentException("endpoint '" + text + "' names more than one hop; one is allowed");
        }
        Endpoint direct = parse(inner);
        return new Endpoint(protocol, direct.address(), Optional.of(new Hop(hop, direct.protocol())));
    }

    private static InetAddress literal(String host, String text) {
        boolean ipv4 = host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
        boolean ipv6 = host.contains(":") && host.matches("[0-9a-fA-F:.%a-zA-Z0-9]+");
        if (ipv4) {
            for (String octet : host.split("\\.")) {
                if (Integer.parseInt(octet) > 255) {
                    throw new IllegalArgumentException("endpoint '" + text + "': '" + host
                            + "' is not a valid IPv4 address");
                }
            }
        }
        if (!ipv4 && !ipv6) {
            throw new IllegalArgumentException("endpoint '" + text + "': '" + host
                    + "' is not an IP address (host names are not resolved here)");
        }
        try {
            // A literal address: getByName parses it without a DNS lookup.
            return InetAddress.getByName(host);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException("endpoint '" + text + "': '" + host + "' is not a valid IP address");
        }
    }

    /** @return the text form, e.g. {@code tcp://127.0.0.1:7400} or {@code relay://<relay-id>@tcp://127.0.0.1:7400} */
    @Override
    public String toString() {
        InetAddress ip = address.getAddress();
        String host = ip instanceof java.net.Inet6Address ? "[" + compressed(ip.getAddress()) + "]" : ip.getHostAddress();
        String hostPort = host + ":" + address.getPort();
        return via.map(h -> protocol + "://" + h.peer() + "@" + h.transport() + "://" + hostPort)
                .orElse(protocol + "://" + hostPort);
    }

    /** The RFC 5952 text form of an IPv6 address: the longest run of zero groups as "::". */
    private static String compressed(byte[] ip) {
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((ip[2 * i] & 0xff) << 8) | (ip[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; i++) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLength - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
                sb.append(':');
            }
            sb.append(Integer.toHexString(groups[i]));
        }
        return sb.toString();
    }
}
