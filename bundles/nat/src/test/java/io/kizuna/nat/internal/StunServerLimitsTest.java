package io.kizuna.nat.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The STUN server is no reflector: rates per source and in total, and no reply larger than needed. */
@Timeout(30)
class StunServerLimitsTest {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final InetAddress A = loopback("127.0.0.1");
    private static final InetAddress B = loopback("127.0.0.2");

    private static InetAddress loopback(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] request(List<StunMessage.Attribute> attributes) {
        byte[] id = new byte[12];
        RANDOM.nextBytes(id);
        return new StunMessage(StunMessage.BINDING_REQUEST, id, attributes, false).encode();
    }

    /** Sends {@code n} requests at once from {@code client}, then counts the answers that come within 1 s. */
    private static int answered(DatagramSocket client, InetSocketAddress server, int n) throws Exception {
        for (int i = 0; i < n; i++) {
            byte[] r = request(List.of());
            client.send(new DatagramPacket(r, r.length, server));
        }
        client.setSoTimeout(1000);
        int got = 0;
        byte[] buf = new byte[StunMessage.MAX_SIZE];
        try {
            while (true) {
                client.receive(new DatagramPacket(buf, buf.length));
                got++;
            }
        } catch (SocketTimeoutException done) {
            return got;
        }
    }

    @Test
    void aFloodFromOneSourceIsCutToItsRateAndAnotherSourceIsStillAnswered() throws Exception {
        try (StunServer server = new StunServer(new InetSocketAddress(A, 0), null, 0,
                new StunServer.Limits(10, 10_000, 1024));
             DatagramSocket flood = new DatagramSocket(new InetSocketAddress(A, 0));
             DatagramSocket other = new DatagramSocket(new InetSocketAddress(B, 0))) {
            int got = answered(flood, server.primary(), 200);
            // a burst of 20, then 10 a second
            assertThat(got).as("answers to 200 requests from one source").isBetween(20, 40);
            assertThat(server.rateLimited()).isGreaterThanOrEqualTo(160);
            assertThat(answered(other, server.primary(), 5)).as("another source").isEqualTo(5);
        }
    }

    @Test
    void allSourcesTogetherAreCutToTheTotalRate() throws Exception {
        try (StunServer server = new StunServer(new InetSocketAddress(A, 0), null, 0,
                new StunServer.Limits(1000, 5, 1024))) {
            int got = 0;
            for (int s = 2; s < 12; s++) {
                try (DatagramSocket client = new DatagramSocket(new InetSocketAddress(loopback("127.0.1." + s), 0))) {
                    got += answered(client, server.primary(), 20);
                }
            }
            // 10 sources, each well under its own rate: a burst of 5 and 5 a second for about 10 s
            assertThat(got).as("answers to 200 requests from 10 sources").isLessThan(100);
            assertThat(server.rateLimited()).isPositive();
        }
    }

    private static StunMessage exchange(DatagramSocket client, InetSocketAddress server, byte[] request,
            DatagramSocket receiver) throws Exception {
        client.send(new DatagramPacket(request, request.length, server));
        receiver.setSoTimeout(5000);
        byte[] buf = new byte[StunMessage.MAX_SIZE];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        receiver.receive(p);
        return StunMessage.parse(buf, 0, p.getLength());
    }

    private static int size(StunMessage m) {
        return m.encode().length;
    }

    @Test
    void noReplyIsLargerThanItsRequestBeyondTheAttributesRfc5780Needs() throws Exception {
        try (StunServer server = new StunServer(new InetSocketAddress(A, 0), B, StunClientServerTest.freePort(B));
             DatagramSocket client = new DatagramSocket(new InetSocketAddress(A, 0));
             DatagramSocket redirected = new DatagramSocket(new InetSocketAddress(A, 0))) {
            // a bare 20-byte request: XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS only
            StunMessage bare = exchange(client, server.primary(), request(List.of()), client);
            assertThat(bare.attribute(StunMessage.XOR_MAPPED_ADDRESS)).isPresent();
            assertThat(bare.attribute(StunMessage.RESPONSE_ORIGIN)).isPresent();
            assertThat(bare.attribute(StunMessage.OTHER_ADDRESS)).isPresent();
            assertThat(bare.attribute(StunMessage.MAPPED_ADDRESS)).isEmpty();
            assertThat(bare.attribute(StunMessage.SOFTWARE)).isEmpty();
            assertThat(size(bare)).isEqualTo(20 + 3 * 12);

            // RESPONSE-PORT and CHANGE-REQUEST send elsewhere: the same bound
            byte[] port = ByteBuffer.allocate(4).putShort((short) redirected.getLocalPort()).array();
            byte[] toPort = request(List.of(new StunMessage.Attribute(StunMessage.RESPONSE_PORT, port),
                    NatDiscovery.change(StunMessage.CHANGE_IP | StunMessage.CHANGE_PORT)));
            StunMessage moved = exchange(client, server.primary(), toPort, redirected);
            assertThat(size(moved)).isLessThanOrEqualTo(20 + 3 * 12);
            assertThat(moved.attribute(StunMessage.SOFTWARE)).isEmpty();

            // a padded request gets everything
            List<StunMessage.Attribute> padded = new ArrayList<>();
            padded.add(new StunMessage.Attribute(StunMessage.PADDING, new byte[64]));
            StunMessage full = exchange(client, server.primary(), request(padded), client);
            assertThat(full.attribute(StunMessage.MAPPED_ADDRESS)).isPresent();
            assertThat(full.attribute(StunMessage.SOFTWARE)).isPresent();
            assertThat(size(full)).isLessThanOrEqualTo(20 + 4 + 64);
            assertThat(server.trimmed()).isEqualTo(2);
        }
    }
}
