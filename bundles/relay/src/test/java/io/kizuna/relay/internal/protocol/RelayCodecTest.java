package io.kizuna.relay.internal.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;

import io.kizuna.identity.Identities;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;
import io.kizuna.transport.TransportException.RelayFailed.Reason;

import org.junit.jupiter.api.Test;

class RelayCodecTest {

    private static RelayMessage roundTrip(RelayMessage m) throws Exception {
        ByteBuffer frame = RelayCodec.encode(m);
        int type = frame.get() & 0xff;
        int length = frame.getShort() & 0xffff;
        assertThat(frame.remaining()).isEqualTo(length);
        return RelayCodec.decode(type, frame);
    }

    @Test
    void everyMessageRoundTrips() throws Exception {
        PeerId peer = Identities.generate().peerId();
        byte[] circuit = new byte[16];
        new Random(1).nextBytes(circuit);
        assertThat(((RelayMessage.Reserve) roundTrip(new RelayMessage.Reserve(new byte[] {1, 2, 3}))).token())
                .containsExactly(1, 2, 3);
        assertThat(roundTrip(new RelayMessage.Reserved(3600, 1L << 34, 86400, 12_500_000)))
                .isEqualTo(new RelayMessage.Reserved(3600, 1L << 34, 86400, 12_500_000));
        for (Reason r : Reason.values()) {
            assertThat(roundTrip(new RelayMessage.Refused(r, "why ü"))).isEqualTo(new RelayMessage.Refused(r, "why ü"));
        }
        RelayMessage.Connect c = (RelayMessage.Connect) roundTrip(new RelayMessage.Connect(peer, new byte[0]));
        assertThat(c.target()).isEqualTo(peer);
        assertThat(roundTrip(new RelayMessage.Connected())).isInstanceOf(RelayMessage.Connected.class);
        for (InetSocketAddress a : List.of(new InetSocketAddress("198.51.100.7", 7400),
                new InetSocketAddress("2001:db8::1", 65535))) {
            RelayMessage.Incoming in = (RelayMessage.Incoming) roundTrip(new RelayMessage.Incoming(circuit, peer, a));
            assertThat(in.circuit()).isEqualTo(circuit);
            assertThat(in.dialer()).isEqualTo(peer);
            assertThat(in.source()).isEqualTo(a);
        }
        assertThat(((RelayMessage.Accept) roundTrip(new RelayMessage.Accept(circuit))).circuit()).isEqualTo(circuit);
        assertThat(roundTrip(new RelayMessage.Status())).isInstanceOf(RelayMessage.Status.class);
        assertThat(roundTrip(new RelayMessage.StatusReply(5, 7))).isEqualTo(new RelayMessage.StatusReply(5, 7));
    }

    @Test
    void aLongRefusalIsCutToTheFrameLimit() throws Exception {
        RelayMessage m = roundTrip(new RelayMessage.Refused(Reason.OTHER, "x".repeat(5000)));
        assertThat(((RelayMessage.Refused) m).message()).hasSizeLessThanOrEqualTo(RelayCodec.MAX_PAYLOAD);
    }

    @Test
    void malformedPayloadsAreViolations() {
        assertThatThrownBy(() -> RelayCodec.decode(42, ByteBuffer.allocate(0)))
                .isInstanceOf(TransportException.ProtocolViolation.class).hasMessageContaining("unknown");
        assertThatThrownBy(() -> RelayCodec.decode(5, ByteBuffer.allocate(1))).hasMessageContaining("left over");
        assertThatThrownBy(() -> RelayCodec.decode(4, ByteBuffer.allocate(10))).hasMessageContaining("target");
        assertThatThrownBy(() -> RelayCodec.decode(4, ByteBuffer.allocate(32 + 2)))
                .isInstanceOf(TransportException.ProtocolViolation.class).hasMessageContaining("target")
                .hasMessageContaining("small order");
        assertThatThrownBy(() -> RelayCodec.decode(1, ByteBuffer.allocate(2).putShort(0, (short) 600)))
                .hasMessageContaining("at most");
        ByteBuffer badAddress = ByteBuffer.allocate(16 + 32 + 1 + 2);
        badAddress.put(16, (byte) 7); // a dialer key that is no point of small order
        badAddress.put(48, (byte) 5);
        assertThatThrownBy(() -> RelayCodec.decode(6, badAddress)).hasMessageContaining("4 or 16");
        ByteBuffer badUtf8 = ByteBuffer.allocate(1 + 2 + 1).put((byte) 0).putShort((short) 1).put((byte) 0xff).flip();
        assertThatThrownBy(() -> RelayCodec.decode(3, badUtf8)).hasMessageContaining("UTF-8");
    }

    @Test
    void randomBytesNeverEscapeAsAnythingButViolations() {
        Random random = new Random(7);
        for (int i = 0; i < 20_000; i++) {
            byte[] p = new byte[random.nextInt(80)];
            random.nextBytes(p);
            int type = 1 + random.nextInt(9);
            try {
                RelayCodec.decode(type, ByteBuffer.wrap(p));
            } catch (TransportException.ProtocolViolation expected) {
                // the one failure allowed
            } catch (RuntimeException e) {
                throw new AssertionError("type " + type + " payload of " + p.length + " bytes: " + e, e);
            }
        }
    }
}
