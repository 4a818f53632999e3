package io.kizuna.transport;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One way to reach a peer: a transport protocol name and a socket address,
 * written {@code tcp://127.0.0.1:7400} or {@code quic://[::1]:7401}.
 *
 * <p>Host names are not resolved here: an endpoint holds a literal IP address,
 * so parsing never blocks on DNS.
 *
 * @param protocol the transport protocol name, as {@link Transport#protocolName()}
 * @param address  the literal socket address
 */
public record Endpoint(String protocol, InetSocketAddress address) {

    private static final Pattern PROTOCOL = Pattern.compile("[a-z][a-z0-9-]{0,31}");

    /** Checks the parts. */
    public Endpoint {
        Objects.requireNonNull(protocol, "protocol");
        Objects.requireNonNull(address, "address");
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

    /** @return the text form, e.g. {@code tcp://127.0.0.1:7400} */
    @Override
    public String toString() {
        InetAddress ip = address.getAddress();
        String host = ip instanceof java.net.Inet6Address ? "[" + compressed(ip.getAddress()) + "]" : ip.getHostAddress();
        return protocol + "://" + host + ":" + address.getPort();
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
