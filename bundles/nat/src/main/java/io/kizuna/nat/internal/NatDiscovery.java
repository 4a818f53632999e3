package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

import io.kizuna.transport.NatType;
import io.kizuna.transport.udp.SharedUdpSocket;

/**
 * NAT behaviour discovery (RFC 5780 section 4) against one STUN server from one
 * UDP socket: the mapping tests, the filtering tests, hairpinning and, when
 * asked, the binding lifetime, mapped to a {@link NatType}. Blocking: call it
 * off any event loop.
 */
public final class NatDiscovery {

    /** RFC 5780 mapping behaviour. */
    public enum Mapping {
        /** The same mapped address for every destination. */
        ENDPOINT_INDEPENDENT,
        /** A new mapping per destination address. */
        ADDRESS_DEPENDENT,
        /** A new mapping per destination address and port. */
        ADDRESS_AND_PORT_DEPENDENT,
        /** Not determined. */
        UNKNOWN
    }

    /** RFC 5780 filtering behaviour. */
    public enum Filtering {
        /** Anyone may send to the mapped address. */
        ENDPOINT_INDEPENDENT,
        /** Only addresses we have sent to. */
        ADDRESS_DEPENDENT,
        /** Only address-and-port pairs we have sent to. */
        ADDRESS_AND_PORT_DEPENDENT,
        /** Not determined. */
        UNKNOWN
    }

    /**
     * What discovery found.
     *
     * @param server     the STUN server asked
     * @param local      the local socket
     * @param quicSocket whether that is the QUIC listener's socket (else one of discovery's own)
     * @param socket     which socket that is, and why not QUIC's
     * @param reflexive  the reflexive address, if the server answered
     * @param rtt        the round-trip time of the first Binding, if answered
     * @param natPresent whether the reflexive address differs from every local address
     * @param mapping    the mapping behaviour
     * @param filtering  the filtering behaviour
     * @param hairpinning whether a request to our own reflexive address came back, empty if not tested
     * @param lifetime   the longest idle time a mapping was seen to survive, if measured
     * @param type       the classification
     * @param failures   each failed probe with its reason, in order
     */
    public record Report(InetSocketAddress server, InetSocketAddress local, boolean quicSocket, String socket,
            Optional<InetSocketAddress> reflexive,
            Optional<Duration> rtt, boolean natPresent, Mapping mapping, Filtering filtering,
            Optional<Boolean> hairpinning, Optional<Duration> lifetime, NatType type, List<String> failures) {

        /** @return whether the mapping differs by destination, empty when unknown */
        public Optional<Boolean> mappingVariesByDestination() {
            return mapping == Mapping.UNKNOWN ? Optional.empty() : Optional.of(mapping != Mapping.ENDPOINT_INDEPENDENT);
        }
    }

    private final StunClient.Timing timing;

    /**
     * @param timing the retransmission schedule for each probe; filtering probes
     *               that get no answer cost its {@link StunClient.Timing#total()}
     */
    public NatDiscovery(StunClient.Timing timing) {
        this.timing = timing;
    }

    /**
     * Runs discovery from a fresh socket.
     *
     * @param bind     the local address to bind, port 0 for any
     * @param server   the STUN server's primary address
     * @param lifetime the longest binding lifetime to measure, or null not to measure it
     * @return the report; failures are inside it, never thrown
     */
    public Report discover(InetSocketAddress bind, InetSocketAddress server, Duration lifetime) {
        return discover(bind, null, "", server, lifetime);
    }

    /**
     * Runs discovery from a transport's shared socket when one is given, else
     * from a fresh socket of its own. The binding lifetime is measured on fresh
     * sockets either way, since it needs sockets that stay idle.
     *
     * @param bind     the local address to bind a fresh socket to, port 0 for any
     * @param shared   the transport's socket, or null
     * @param whyOwn   without {@code shared}: why discovery runs on a socket of its own, or empty
     * @param server   the STUN server's primary address
     * @param lifetime the longest binding lifetime to measure, or null not to measure it
     * @return the report; failures are inside it, never thrown
     */
    public Report discover(InetSocketAddress bind, SharedUdpSocket shared, String whyOwn, InetSocketAddress server,
            Duration lifetime) {
        List<String> failures = new ArrayList<>();
        boolean onQuic = shared != null;
        String why = whyOwn.isEmpty() ? "" : " (" + whyOwn + ")";
        String socket = shared != null ? "the QUIC listener's socket"
                : "its own socket " + text(bind) + why;
        try (StunClient client = shared != null ? new StunClient(shared, timing) : new StunClient(bind, timing)) {
            InetSocketAddress local = client.localAddress();
            socket = shared != null ? socket + " " + text(local) : "its own socket " + text(local) + why;
            Optional<StunClient.Response> first = probe(client, server, List.of(), "binding to " + server, failures);
            if (first.isEmpty()) {
                return new Report(server, local, onQuic, socket, Optional.empty(), Optional.empty(), false,
                        Mapping.UNKNOWN, Filtering.UNKNOWN, Optional.empty(), Optional.empty(), NatType.BLOCKED,
                        failures);
            }
            StunClient.Response r1 = first.get();
            // the first exchange pays for class loading and ARP; a second one measures the path
            Duration rtt = probe(client, server, List.of(), "second binding to " + server, failures)
                    .map(StunClient.Response::rtt).filter(d -> d.compareTo(r1.rtt()) < 0).orElse(r1.rtt());
            InetSocketAddress mapped = r1.mapped();
            boolean nat = !isLocal(mapped, local.getPort());
            Optional<InetSocketAddress> other = r1.otherAddress();
            Filtering filtering = Filtering.UNKNOWN;
            Mapping mapping = Mapping.UNKNOWN;
            if (other.isEmpty()) {
                failures.add(server + " gives no OTHER-ADDRESS: it does not support RFC 5780 behaviour discovery");
            } else {
                // Filtering first: the mapping tests send to the other address, which would open a restricted filter.
                if (probe(client, server, List.of(change(StunMessage.CHANGE_IP | StunMessage.CHANGE_PORT)),
                        "filtering test (answer from the other address and port)", null).isPresent()) {
                    filtering = Filtering.ENDPOINT_INDEPENDENT;
                } else if (probe(client, server, List.of(change(StunMessage.CHANGE_PORT)),
                        "filtering test (answer from the other port)", null).isPresent()) {
                    filtering = Filtering.ADDRESS_DEPENDENT;
                } else {
                    filtering = Filtering.ADDRESS_AND_PORT_DEPENDENT;
                }
                InetSocketAddress altIpSamePort = new InetSocketAddress(other.get().getAddress(), server.getPort());
                Optional<StunClient.Response> r2 = probe(client, altIpSamePort, List.of(),
                        "mapping test II to " + altIpSamePort, failures);
                if (r2.isPresent()) {
                    if (r2.get().mapped().equals(mapped)) {
                        mapping = Mapping.ENDPOINT_INDEPENDENT;
                    } else {
                        Optional<StunClient.Response> r3 = probe(client, other.get(), List.of(),
                                "mapping test III to " + other.get(), failures);
                        if (r3.isPresent()) {
                            mapping = r3.get().mapped().equals(r2.get().mapped())
                                    ? Mapping.ADDRESS_DEPENDENT : Mapping.ADDRESS_AND_PORT_DEPENDENT;
                        }
                    }
                }
            }
            Optional<Boolean> hairpin = Optional.empty();
            if (nat) {
                try {
                    client.hairpin(mapped, timing.total()).get();
                    hairpin = Optional.of(true);
                } catch (ExecutionException e) {
                    hairpin = Optional.of(false);
                }
            }
            Optional<Duration> measured = lifetime == null ? Optional.empty()
                    : measureLifetime(bind, server, lifetime, failures);
            NatType type = classify(nat, mapping, filtering);
            return new Report(server, local, onQuic, socket, Optional.of(mapped), Optional.of(rtt), nat, mapping,
                    filtering, hairpin, measured, type, failures);
        } catch (IOException e) {
            failures.add("cannot open a UDP socket: " + e.getMessage());
            return new Report(server, bind, onQuic, socket, Optional.empty(), Optional.empty(), false,
                    Mapping.UNKNOWN, Filtering.UNKNOWN, Optional.empty(), Optional.empty(), NatType.UNKNOWN, failures);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failures.add("interrupted");
            return new Report(server, bind, onQuic, socket, Optional.empty(), Optional.empty(), false,
                    Mapping.UNKNOWN, Filtering.UNKNOWN, Optional.empty(), Optional.empty(), NatType.UNKNOWN, failures);
        }
    }

    /**
     * The classic names for RFC 5780 behaviours.
     *
     * @param nat       whether a NAT translates the address
     * @param mapping   the mapping behaviour
     * @param filtering the filtering behaviour
     * @return the type
     */
    public static NatType classify(boolean nat, Mapping mapping, Filtering filtering) {
        if (!nat && (filtering == Filtering.ENDPOINT_INDEPENDENT || filtering == Filtering.UNKNOWN)) {
            return filtering == Filtering.UNKNOWN ? NatType.UNKNOWN : NatType.OPEN;
        }
        if (mapping == Mapping.ADDRESS_DEPENDENT || mapping == Mapping.ADDRESS_AND_PORT_DEPENDENT) {
            return NatType.SYMMETRIC;
        }
        if (mapping == Mapping.UNKNOWN && nat) {
            return NatType.UNKNOWN;
        }
        return switch (filtering) {
            case ENDPOINT_INDEPENDENT -> NatType.FULL_CONE;
            case ADDRESS_DEPENDENT -> NatType.RESTRICTED_CONE;
            case ADDRESS_AND_PORT_DEPENDENT -> NatType.PORT_RESTRICTED_CONE;
            case UNKNOWN -> NatType.UNKNOWN;
        };
    }

    /**
     * RFC 5780 section 4.6: socket X gets a mapping and stays idle for {@code t};
     * then socket Y asks the server to answer to X's mapped port (RESPONSE-PORT).
     * The answer reaches X only while the binding lives. A binary search over
     * {@code t}, at most six rounds, each on fresh sockets.
     */
    private Optional<Duration> measureLifetime(InetSocketAddress bind, InetSocketAddress server, Duration max,
            List<String> failures) throws InterruptedException {
        long low = 0;
        long high = max.toMillis();
        InetSocketAddress any = new InetSocketAddress(bind.getAddress(), 0);
        for (int round = 0; round < 6 && high - low > 500; round++) {
            long t = round == 0 ? high : (low + high) / 2;
            try (StunClient x = new StunClient(any, timing); StunClient y = new StunClient(any, timing)) {
                Optional<StunClient.Response> a = probe(x, server, List.of(), "lifetime probe", failures);
                if (a.isEmpty()) {
                    return Optional.empty();
                }
                Thread.sleep(t);
                byte[] id = StunClient.newTransactionId();
                var arrived = x.expect(id, timing.total());
                int port = a.get().mapped().getPort();
                y.binding(server, List.of(new StunMessage.Attribute(StunMessage.RESPONSE_PORT,
                        new byte[] {(byte) (port >> 8), (byte) port, 0, 0})), timing, id);
                try {
                    arrived.get();
                    low = t;
                    if (round == 0) {
                        break;
                    }
                } catch (ExecutionException e) {
                    high = t;
                }
            } catch (IOException e) {
                failures.add("lifetime probe: " + e.getMessage());
                return Optional.empty();
            }
        }
        return Optional.of(Duration.ofMillis(low));
    }

    private Optional<StunClient.Response> probe(StunClient client, InetSocketAddress to,
            List<StunMessage.Attribute> attributes, String what, List<String> failures) throws InterruptedException {
        try {
            return Optional.of(client.binding(to, attributes).get());
        } catch (ExecutionException | CompletionException e) {
            if (failures != null) {
                failures.add(what + " failed: " + e.getCause().getMessage());
            }
            return Optional.empty();
        }
    }

    /** @return {@code ip:port}, IPv6 in brackets */
    public static String text(InetSocketAddress a) {
        String host = a.getAddress().getHostAddress();
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    static StunMessage.Attribute change(int flags) {
        return new StunMessage.Attribute(StunMessage.CHANGE_REQUEST, ByteBuffer.allocate(4).putInt(flags).array());
    }

    private static boolean isLocal(InetSocketAddress mapped, int localPort) {
        if (mapped.getPort() != localPort) {
            return false;
        }
        InetAddress a = mapped.getAddress();
        if (a.isLoopbackAddress()) {
            return true;
        }
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress ia : Collections.list(ni.getInetAddresses())) {
                    if (ia.equals(a) || (ia instanceof Inet4Address == a instanceof Inet4Address
                            && java.util.Arrays.equals(ia.getAddress(), a.getAddress()))) {
                        return true;
                    }
                }
            }
        } catch (SocketException e) {
            return false;
        }
        return false;
    }
}
