package io.kizuna.quic.internal;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A UDP relay on loopback between one QUIC client and one server, for tests: it
 * counts bytes each way, can stop passing the client's datagrams, can keep copies
 * of the client's first datagrams, and can move its server-facing socket to a new
 * port, which the server sees as the client's address changing (a NAT rebinding).
 */
final class UdpProxy implements AutoCloseable {

    private static final int MAX_DATAGRAM = 65_535;
    private static final int POLL_MILLIS = 50;

    private final InetSocketAddress server;
    private final DatagramSocket front;
    private final Thread toServer;
    private final Thread toClient;
    private final AtomicLong clientBytes = new AtomicLong();
    private final AtomicLong serverBytes = new AtomicLong();
    private final AtomicLong rebinds = new AtomicLong();
    private final List<byte[]> captured = new ArrayList<>();
    private volatile int captureCount;
    private volatile DatagramSocket back;
    private volatile InetSocketAddress client;
    private volatile long passLimit = Long.MAX_VALUE;
    private long passed;
    private volatile boolean running = true;

    /**
     * @param server       where the server listens
     * @param captureCount how many of the client's first datagrams to keep
     */
    UdpProxy(InetSocketAddress server, int captureCount) throws SocketException {
        this.server = server;
        this.captureCount = captureCount;
        this.front = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.back = newBack();
        front.setSoTimeout(POLL_MILLIS);
        toServer = new Thread(this::clientToServer, "udp-proxy-to-server");
        toClient = new Thread(this::serverToClient, "udp-proxy-to-client");
        toServer.setDaemon(true);
        toClient.setDaemon(true);
        toServer.start();
        toClient.start();
    }

    /** @return where clients send to */
    InetSocketAddress address() {
        return (InetSocketAddress) front.getLocalSocketAddress();
    }

    /** @return the port the server sees the client at now */
    int serverFacingPort() {
        return back.getLocalPort();
    }

    /** From now on the server sees the client at a new port. */
    void rebind() throws SocketException {
        DatagramSocket old = back;
        back = newBack();
        rebinds.incrementAndGet();
        old.close();
    }

    /** Passes only the client's first {@code n} datagrams, counted from the start, and drops the rest. */
    void passOnlyFirst(long n) {
        passLimit = n;
    }

    long clientBytes() {
        return clientBytes.get();
    }

    long serverBytes() {
        return serverBytes.get();
    }

    synchronized List<byte[]> captured() {
        return List.copyOf(captured);
    }

    /** Forgets what was captured and keeps copies of the client's next {@code n} datagrams. */
    synchronized void captureNext(int n) {
        captured.clear();
        captureCount = n;
    }

    /** Sends the captured datagrams to the server again, from the address the server knows the client at. */
    void replayCaptured() throws IOException {
        for (byte[] d : captured()) {
            back.send(new DatagramPacket(d, d.length, server));
        }
    }

    private DatagramSocket newBack() throws SocketException {
        DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        s.setSoTimeout(POLL_MILLIS);
        return s;
    }

    private void clientToServer() {
        byte[] buf = new byte[MAX_DATAGRAM];
        while (running) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                front.receive(p);
            } catch (SocketTimeoutException idle) {
                continue;
            } catch (IOException closed) {
                return;
            }
            client = (InetSocketAddress) p.getSocketAddress();
            synchronized (this) {
                if (captured.size() < captureCount) {
                    captured.add(java.util.Arrays.copyOf(p.getData(), p.getLength()));
                }
            }
            if (passed >= passLimit) {
                continue;
            }
            passed++;
            clientBytes.addAndGet(p.getLength());
            try {
                back.send(new DatagramPacket(p.getData(), p.getLength(), server));
            } catch (IOException rebinding) {
                // the server-facing socket was just replaced: this datagram is lost, as on a real path change
            }
        }
    }

    private void serverToClient() {
        byte[] buf = new byte[MAX_DATAGRAM];
        while (running) {
            DatagramSocket b = back;
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                b.receive(p);
            } catch (SocketTimeoutException idle) {
                continue;
            } catch (IOException closedByRebind) {
                continue;
            }
            serverBytes.addAndGet(p.getLength());
            InetSocketAddress c = client;
            if (c != null) {
                try {
                    front.send(new DatagramPacket(p.getData(), p.getLength(), c));
                } catch (IOException closed) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        front.close();
        back.close();
        toServer.join(1000);
        toClient.join(1000);
    }
}
