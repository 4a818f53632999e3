package io.kizuna.nat.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A STUN Binding server (RFC 8489). Given a second address and a second port it
 * listens on all four combinations and supports RFC 5780: OTHER-ADDRESS,
 * RESPONSE-ORIGIN and CHANGE-REQUEST, which NAT behaviour discovery needs.
 * Each socket has its own reader thread; a request gets exactly one response of
 * bounded size, and anything malformed is dropped and counted.
 */
public final class StunServer implements AutoCloseable {

    private static final byte[] SOFTWARE = "kizuna".getBytes(StandardCharsets.UTF_8);

    private final InetAddress[] ips;
    private final int[] ports;
    /** sockets[i][j] listens on ips[i]:ports[j]. */
    private final DatagramChannel[][] sockets;
    private final List<Thread> readers = new ArrayList<>();
    private final AtomicLong answered = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean closed;

    /**
     * Starts the server.
     *
     * @param primary   the primary address and port
     * @param altIp     the alternate IP address, or null for a plain RFC 8489 server
     * @param altPort   the alternate port, or 0 (needed with {@code altIp})
     * @throws IOException when a socket cannot be bound
     */
    public StunServer(InetSocketAddress primary, InetAddress altIp, int altPort) throws IOException {
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
        List<Integer> unknown = new ArrayList<>(request.unknownRequired());
        int change = request.attribute(StunMessage.CHANGE_REQUEST)
                .filter(a -> a.value().length == 4).map(a -> a.value()[3] & 0xFF).orElse(0);
        if (change != 0 && !behaviourDiscovery()) {
            unknown.add(StunMessage.CHANGE_REQUEST);
        }
        List<StunMessage.Attribute> attributes = new ArrayList<>();
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
            attributes.add(new StunMessage.Attribute(StunMessage.MAPPED_ADDRESS, StunMessage.encodeAddress(from, false, id)));
            attributes.add(new StunMessage.Attribute(StunMessage.RESPONSE_ORIGIN,
                    StunMessage.encodeAddress(new InetSocketAddress(ips[si], ports[sj]), false, id)));
            if (behaviourDiscovery()) {
                InetSocketAddress other = new InetSocketAddress(ips[1 - i], ports[1 - j]);
                attributes.add(new StunMessage.Attribute(StunMessage.OTHER_ADDRESS, StunMessage.encodeAddress(other, false, id)));
            }
        }
        attributes.add(new StunMessage.Attribute(StunMessage.SOFTWARE, SOFTWARE));
        StunMessage response = new StunMessage(type, request.transactionId(), attributes, request.fingerprinted());
        // RESPONSE-PORT (RFC 5780 section 7.5): answer to the same address, another port
        InetSocketAddress to = request.attribute(StunMessage.RESPONSE_PORT).filter(a -> a.value().length == 4)
                .map(a -> new InetSocketAddress(from.getAddress(), (a.value()[0] & 0xFF) << 8 | (a.value()[1] & 0xFF)))
                .filter(a -> a.getPort() != 0).orElse(from);
        out.send(ByteBuffer.wrap(response.encode()), to);
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
