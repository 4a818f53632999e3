package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A STUN Binding server (RFC 8489). Given a second address and a second port it
 * listens on all four combinations and supports RFC 5780: OTHER-ADDRESS,
 * RESPONSE-ORIGIN and CHANGE-REQUEST, which NAT behaviour discovery needs.
 * Each socket has its own reader thread; a request gets exactly one response of
 * bounded size, and anything malformed is dropped and counted.
 *
 * <p>A STUN server answers any source, spoofed or not, so it is built not to be
 * worth using as a reflector. Requests are answered at most at a rate per source
 * (an IPv4 address, an IPv6 /64) and in total; the rest are dropped and counted.
 * A response is never larger than its request, except for the attributes RFC 8489
 * and RFC 5780 need: XOR-MAPPED-ADDRESS, and with behaviour discovery
 * RESPONSE-ORIGIN and OTHER-ADDRESS. The optional ones (the legacy MAPPED-ADDRESS,
 * SOFTWARE) are sent only when they fit in the request's size, so a client that
 * wants them pads its request (PADDING, RFC 5780). With the same rule for replies
 * that RESPONSE-PORT or CHANGE-REQUEST send elsewhere, a spoofed 20-byte request
 * draws at most 56 bytes (IPv4) or 92 bytes (IPv6), at the per-source rate.
 */
public final class StunServer implements AutoCloseable {

    private static final byte[] SOFTWARE = "kizuna".getBytes(StandardCharsets.UTF_8);
    private static final System.Logger LOG = System.getLogger(StunServer.class.getName());
    /** Requests answered per source and second; a burst of twice this. A NAT check sends a few dozen. */
    static final int PER_SOURCE_PER_SECOND = 50;
    /** Requests answered per second in total; a burst of this many. */
    static final int TOTAL_PER_SECOND = 5000;
    /** Sources whose rate is tracked; beyond this many the least recently seen is forgotten. */
    static final int MAX_SOURCES = 16_384;

    /**
     * How many requests are answered.
     *
     * @param perSourcePerSecond per source (IPv4 address, IPv6 /64) and second
     * @param totalPerSecond     in total per second
     * @param maxSources         sources tracked at once
     */
    record Limits(int perSourcePerSecond, int totalPerSecond, int maxSources) {
        static final Limits DEFAULT = new Limits(PER_SOURCE_PER_SECOND, TOTAL_PER_SECOND, MAX_SOURCES);
    }

    private final InetAddress[] ips;
    private final int[] ports;
    /** sockets[i][j] listens on ips[i]:ports[j]. */
    private final DatagramChannel[][] sockets;
    private final List<Thread> readers = new ArrayList<>();
    private final AtomicLong answered = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong rateLimited = new AtomicLong();
    private final AtomicLong trimmed = new AtomicLong();
    private final Limits limits;
    // Guarded by this.
    private final LinkedHashMap<ByteBuffer, Bucket> sources = new LinkedHashMap<>(16, 0.75f, true);
    private final Bucket total;
    private volatile boolean closed;

    /** A token bucket: {@code rate} a second, at most {@code burst} saved up. */
    private static final class Bucket {
        private final double rate;
        private final double burst;
        private double tokens;
        private long last;

        Bucket(double rate, double burst, long now) {
            this.rate = rate;
            this.burst = burst;
            this.tokens = burst;
            this.last = now;
        }

        boolean take(long now) {
            tokens = Math.min(burst, tokens + (now - last) * rate / 1e9);
            last = now;
            if (tokens < 1) {
                return false;
            }
            tokens--;
            return true;
        }
    }

    /**
     * Starts the server.
     *
     * @param primary   the primary address and port
     * @param altIp     the alternate IP address, or null for a plain RFC 8489 server
     * @param altPort   the alternate port, or 0 (needed with {@code altIp})
     * @throws IOException when a socket cannot be bound
     */
    public StunServer(InetSocketAddress primary, InetAddress altIp, int altPort) throws IOException {
        this(primary, altIp, altPort, Limits.DEFAULT);
    }

    /**
     * Starts the server with other rate limits.
     *
     * @param primary the primary address and port
     * @param altIp   the alternate IP address, or null for a plain RFC 8489 server
     * @param altPort the alternate port, or 0 (needed with {@code altIp})
     * @param limits  how many requests are answered
     * @throws IOException when a socket cannot be bound
     */
    StunServer(InetSocketAddress primary, InetAddress altIp, int altPort, Limits limits) throws IOException {
        this.limits = limits;
        this.total = new Bucket(limits.totalPerSecond(), limits.totalPerSecond(), System.nanoTime());
        if ((altIp == null) != (altPort == 0)) {
            throw new IllegalArgumentException("RFC 5780 needs both an alternate address and an alternate port");
        }
        this.ips = altIp == null ? new InetAddress[] {primary.getAddress()} : new InetAddress[] {primary.getAddress(), altIp};
        this.sockets = new DatagramChannel[ips.length][];
        List<DatagramChannel> opened = new ArrayList<>();
        try {
            int port = primary.getPort();
            DatagramChannel first = open(new InetSocketAddress(ips[0], port));
            opened.add(first);
            port = ((InetSocketAddress) first.getLocalAddress()).getPort();
            this.ports = altIp == null ? new int[] {port} : new int[] {port, altPort};
            for (int i = 0; i < ips.length; i++) {
                sockets[i] = new DatagramChannel[ports.length];
                for (int j = 0; j < ports.length; j++) {
                    if (i == 0 && j == 0) {
                        sockets[i][j] = first;
                    } else {
                        sockets[i][j] = open(new InetSocketAddress(ips[i], ports[j]));
                        opened.add(sockets[i][j]);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            for (DatagramChannel c : opened) {
                c.close();
            }
            throw e;
        }
        for (int i = 0; i < ips.length; i++) {
            for (int j = 0; j < ports.length; j++) {
                int ii = i;
                int jj = j;
                Thread t = new Thread(() -> serve(ii, jj), "kizuna-stun-server-" + ips[i].getHostAddress() + ":" + ports[j]);
                t.setDaemon(true);
                readers.add(t);
                t.start();
            }
        }
    }

    private static DatagramChannel open(InetSocketAddress at) throws IOException {
        DatagramChannel c = DatagramChannel.open(StunMessage.isV6(at) ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        try {
            c.bind(at);
        } catch (IOException e) {
            c.close();
            throw new IOException("STUN server cannot bind " + at + ": " + e.getMessage(), e);
        }
        return c;
    }

    /** @return the primary address, with the actual port */
    public InetSocketAddress primary() {
        return new InetSocketAddress(ips[0], ports[0]);
    }

    /** @return whether RFC 5780 is served */
    public boolean behaviourDiscovery() {
        return ips.length == 2;
    }

    /** @return requests answered */
    public long answered() {
        return answered.get();
    }

    /** @return datagrams dropped as malformed or not Binding requests */
    public long dropped() {
        return dropped.get();
    }

    /** @return requests not answered because their source, or all sources together, were over their rate */
    public long rateLimited() {
        return rateLimited.get();
    }

    /** @return responses sent without their optional attributes, which would have made them larger than the request */
    public long trimmed() {
        return trimmed.get();
    }

    /** @return whether a request from {@code from} may be answered now; counts and logs a refusal */
    private boolean admit(InetSocketAddress from) {
        byte[] ip = from.getAddress().getAddress();
        ByteBuffer source = ByteBuffer.wrap(ip.length == 4 ? ip : Arrays.copyOf(ip, 8));
        long now = System.nanoTime();
        boolean ok;
        synchronized (this) {
            Bucket b = sources.get(source);
            if (b == null) {
                if (sources.size() >= limits.maxSources()) {
                    sources.remove(sources.keySet().iterator().next());
                }
                b = new Bucket(limits.perSourcePerSecond(), 2.0 * limits.perSourcePerSecond(), now);
                sources.put(source, b);
            }
            ok = b.take(now) && total.take(now);
        }
        if (!ok && rateLimited.incrementAndGet() % 1000 == 1) {
            LOG.log(System.Logger.Level.WARNING, "stun server: dropping requests over the rate limit ({0} per "
                    + "source and second, {1} in total), the latest from {2}; {3} dropped so far",
                    limits.perSourcePerSecond(), limits.totalPerSecond(), from.getAddress().getHostAddress(),
                    rateLimited.get());
        }
        return ok;
    }

    private void serve(int i, int j) {
        DatagramChannel socket = sockets[i][j];
        ByteBuffer buffer = ByteBuffer.allocate(StunMessage.MAX_SIZE + 1);
        while (!closed) {
            buffer.clear();
            InetSocketAddress from;
            try {
                from = (InetSocketAddress) socket.receive(buffer);
            } catch (IOException e) {
                return;
            }
            if (from == null) {
                continue;
            }
            buffer.flip();
            try {
                answer(i, j, buffer.array(), buffer.limit(), from);
            } catch (IOException | RuntimeException e) {
                // one failed send (e.g. ICMP unreachable reported late) must not stop the server
                dropped.incrementAndGet();
            }
        }
    }

    private void answer(int i, int j, byte[] data, int length, InetSocketAddress from) throws IOException {
        StunMessage request;
        try {
            request = StunMessage.parse(data, 0, length);
        } catch (StunMessage.MalformedException e) {
            dropped.incrementAndGet();
            return;
        }
        if (request.type() != StunMessage.BINDING_REQUEST) {
            dropped.incrementAndGet();
            return;
        }
        if (!admit(from)) {
            return;
        }
        List<Integer> unknown = new ArrayList<>(request.unknownRequired());
        int change = request.attribute(StunMessage.CHANGE_REQUEST)
                .filter(a -> a.value().length == 4).map(a -> a.value()[3] & 0xFF).orElse(0);
        if (change != 0 && !behaviourDiscovery()) {
            unknown.add(StunMessage.CHANGE_REQUEST);
        }
        List<StunMessage.Attribute> attributes = new ArrayList<>();
        List<StunMessage.Attribute> optional = new ArrayList<>();
        DatagramChannel out = sockets[i][j];
        int type;
        if (!unknown.isEmpty()) {
            type = StunMessage.BINDING_ERROR;
            ByteBuffer codes = ByteBuffer.allocate(2 * Math.min(unknown.size(), 16));
            unknown.stream().limit(16).forEach(u -> codes.putShort((short) (int) u));
            byte[] reason = "Unknown Attribute".getBytes(StandardCharsets.UTF_8);
            attributes.add(new StunMessage.Attribute(StunMessage.ERROR_CODE,
                    ByteBuffer.allocate(4 + reason.length).putShort((short) 0).put((byte) 4).put((byte) 20).put(reason).array()));
            attributes.add(new StunMessage.Attribute(StunMessage.UNKNOWN_ATTRIBUTES, codes.array()));
        } else {
            type = StunMessage.BINDING_SUCCESS;
            int si = (change & StunMessage.CHANGE_IP) != 0 ? 1 - i : i;
            int sj = (change & StunMessage.CHANGE_PORT) != 0 ? 1 - j : j;
            out = sockets[si][sj];
            byte[] id = request.transactionId();
            attributes.add(new StunMessage.Attribute(StunMessage.XOR_MAPPED_ADDRESS, StunMessage.encodeAddress(from, true, id)));
            optional.add(new StunMessage.Attribute(StunMessage.MAPPED_ADDRESS, StunMessage.encodeAddress(from, false, id)));
            if (behaviourDiscovery()) {
                attributes.add(new StunMessage.Attribute(StunMessage.RESPONSE_ORIGIN,
                        StunMessage.encodeAddress(new InetSocketAddress(ips[si], ports[sj]), false, id)));
                InetSocketAddress other = new InetSocketAddress(ips[1 - i], ports[1 - j]);
                attributes.add(new StunMessage.Attribute(StunMessage.OTHER_ADDRESS, StunMessage.encodeAddress(other, false, id)));
            } else {
                optional.add(new StunMessage.Attribute(StunMessage.RESPONSE_ORIGIN,
                        StunMessage.encodeAddress(new InetSocketAddress(ips[si], ports[sj]), false, id)));
            }
        }
        optional.add(new StunMessage.Attribute(StunMessage.SOFTWARE, SOFTWARE));
        byte[] encoded = new StunMessage(type, request.transactionId(), attributes, request.fingerprinted()).encode();
        for (StunMessage.Attribute a : optional) {
            List<StunMessage.Attribute> more = new ArrayList<>(attributes);
            more.add(a);
            byte[] bigger = new StunMessage(type, request.transactionId(), more, request.fingerprinted()).encode();
            if (bigger.length <= length) {
                attributes = more;
                encoded = bigger;
            } else {
                trimmed.incrementAndGet();
                break;
            }
        }
        // RESPONSE-PORT (RFC 5780 section 7.5): answer to the same address, another port
        InetSocketAddress to = request.attribute(StunMessage.RESPONSE_PORT).filter(a -> a.value().length == 4)
                .map(a -> new InetSocketAddress(from.getAddress(), (a.value()[0] & 0xFF) << 8 | (a.value()[1] & 0xFF)))
                .filter(a -> a.getPort() != 0).orElse(from);
        out.send(ByteBuffer.wrap(encoded), to);
        answered.incrementAndGet();
    }

    @Override
    public void close() {
        closed = true;
        for (DatagramChannel[] row : sockets) {
            for (DatagramChannel c : row) {
                try {
                    c.close();
                } catch (IOException e) {
                    // nothing to recover while closing
                }
            }
        }
        for (Thread t : readers) {
            try {
                t.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
