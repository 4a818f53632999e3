package io.kizuna.nat.internal.punch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.punch.PunchMessage.Abort;
import io.kizuna.nat.internal.punch.PunchMessage.AbortCode;
import io.kizuna.nat.internal.punch.PunchMessage.Candidate;
import io.kizuna.nat.internal.punch.PunchMessage.Candidates;
import io.kizuna.nat.internal.punch.PunchMessage.Kind;
import io.kizuna.nat.internal.punch.PunchMessage.Protocol;
import io.kizuna.nat.internal.punch.PunchMessage.Result;
import io.kizuna.nat.internal.punch.PunchMessage.Sync;
import io.kizuna.transport.NatType;
import io.kizuna.transport.TransportException.ProtocolViolation;

class PunchCodecTest {

    static final NodeIdentity ALICE = Identities.generate();
    static final NodeIdentity MALLORY = Identities.generate();
    static final byte[] SESSION = new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static final long NOW = 1_800_000_000_000L;

    static InetSocketAddress addr(String ip, int port) throws Exception {
        return new InetSocketAddress(InetAddress.getByName(ip), port);
    }

    static Candidates candidates(NodeIdentity id, long issuedAt) throws Exception {
        return PunchCodec.sign(id, SESSION, issuedAt, 1, NatType.PORT_RESTRICTED_CONE, List.of(
                new Candidate(Kind.HOST, Protocol.UDP, addr("192.168.1.7", 7400)),
                new Candidate(Kind.REFLEXIVE, Protocol.UDP, addr("198.51.100.9", 40000)),
                new Candidate(Kind.OBSERVED, Protocol.TCP, addr("2001:db8::1", 7401)),
                new Candidate(Kind.MAPPED, Protocol.UDP, addr("203.0.113.5", 1))));
    }

    static List<PunchMessage> samples() throws Exception {
        return List.of(candidates(ALICE, NOW),
                PunchCodec.sign(ALICE, SESSION, 0, PunchCodec.MAX_ROUND, NatType.UNKNOWN, List.of()),
                new Sync(SESSION, 2),
                new Result(SESSION, 3, Protocol.UDP, addr("198.51.100.9", 40000), addr("2001:db8::2", 65535)),
                new Abort(SESSION, 1, AbortCode.NO_PATH, "no probe answered in 3 rounds (é)"),
                new Abort(SESSION, 1, AbortCode.CANCELLED, ""));
    }

    static byte[] bytes(PunchMessage m) {
        ByteBuffer b = PunchCodec.encode(m);
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    static String refusal(byte[] frame) {
        try {
            PunchCodec.decode(ByteBuffer.wrap(frame));
        } catch (ProtocolViolation v) {
            return v.getMessage();
        }
        throw new AssertionError("accepted");
    }

    @Test
    void everyMessageRoundTripsCanonically() throws Exception {
        for (PunchMessage m : samples()) {
            byte[] frame = bytes(m);
            PunchMessage back = PunchCodec.decode(ByteBuffer.wrap(frame));
            assertThat(back).isEqualTo(m);
            assertThat(bytes(back)).isEqualTo(frame);
            assertThat(frame.length - PunchCodec.HEADER_LENGTH).isLessThanOrEqualTo(PunchCodec.maxPayload(frame[1]));
        }
    }

    @Test
    void everyTruncationIsRefusedWithWhereItEnded() throws Exception {
        for (PunchMessage m : samples()) {
            byte[] frame = bytes(m);
            for (int n = 0; n < frame.length; n++) {
                byte[] cut = java.util.Arrays.copyOf(frame, n);
                assertThat(refusal(cut)).as("%s cut to %d", m, n)
                        .containsAnyOf("ends inside its header", "declares");
                if (n >= PunchCodec.HEADER_LENGTH) {
                    // The same bytes with the length fixed up: the payload ends inside a field.
                    ByteBuffer.wrap(cut).putInt(2, n - PunchCodec.HEADER_LENGTH);
                    assertThat(refusal(cut)).as("%s cut to %d", m, n).contains("ends inside its");
                }
            }
        }
    }

    @Test
    void headerIsCheckedBeforeThePayload() throws Exception {
        byte[] frame = bytes(new Sync(SESSION, 1));
        frame[0] = 2;
        assertThat(refusal(frame)).isEqualTo("punch frame version 2, expected 1");
        frame[0] = 1;
        frame[1] = 9;
        assertThat(refusal(frame)).isEqualTo("unknown punch message type 0x9");
        ByteBuffer header = ByteBuffer.wrap(new byte[] {1, PunchCodec.CANDIDATES, 0x7f, (byte) 0xff, (byte) 0xff,
                (byte) 0xff});
        assertThatThrownBy(() -> PunchCodec.payloadLength(header)).hasMessage(
                "punch message type 0x1 of 2147483647 bytes, at most " + PunchCodec.maxPayload(PunchCodec.CANDIDATES));
        assertThat(PunchCodec.maxPayload(PunchCodec.CANDIDATES)).isLessThan(1024);
    }

    @Test
    void trailingBytesAreRefused() throws Exception {
        byte[] frame = bytes(new Abort(SESSION, 1, AbortCode.NO_PATH, "ab"));
        byte[] longer = java.util.Arrays.copyOf(frame, frame.length + 1);
        ByteBuffer.wrap(longer).putInt(2, frame.length + 1 - PunchCodec.HEADER_LENGTH);
        assertThat(refusal(longer)).isEqualTo("punch message type 0x4 has 1 bytes after its last field");
        byte[] sync = bytes(new Sync(SESSION, 1));
        byte[] longSync = java.util.Arrays.copyOf(sync, sync.length + 1);
        ByteBuffer.wrap(longSync).putInt(2, sync.length + 1 - PunchCodec.HEADER_LENGTH);
        assertThat(refusal(longSync)).isEqualTo("punch message type 0x2 of 18 bytes, at most 17");
    }

    @Test
    void everyBadFieldIsRefusedWithItsReason() throws Exception {
        byte[] sync = bytes(new Sync(SESSION, 1));
        sync[6 + 16] = 0;
        assertThat(refusal(sync)).isEqualTo("punch round 0 is not 1 to 10");
        sync[6 + 16] = 11;
        assertThat(refusal(sync)).isEqualTo("punch round 11 is not 1 to 10");

        int c = 6 + 16 + 32; // issued-at
        byte[] cand = bytes(candidates(ALICE, NOW));
        byte[] bad = cand.clone();
        bad[c] = (byte) 0x80;
        assertThat(refusal(bad)).startsWith("punch CANDIDATES issued-at -");
        bad = cand.clone();
        bad[c + 9] = 0;
        assertThat(refusal(bad)).isEqualTo("punch CANDIDATES NAT type 0 is not 1 to " + NatType.values().length);
        bad = cand.clone();
        bad[c + 10] = 17;
        assertThat(refusal(bad)).isEqualTo("punch CANDIDATES with 17 candidates, at most 16");
        int k = c + 11; // first candidate
        bad = cand.clone();
        bad[k] = 5;
        assertThat(refusal(bad)).isEqualTo("punch candidate kind 5 is not 1 to 4");
        bad = cand.clone();
        bad[k + 1] = 3;
        assertThat(refusal(bad)).isEqualTo("punch protocol 3 is not 1 (udp) or 2 (tcp)");
        bad = cand.clone();
        bad[k + 2] = 5;
        assertThat(refusal(bad)).isEqualTo("punch candidate 1 address family 5 is not 4 or 6");
        bad = cand.clone();
        bad[k + 7] = 0;
        bad[k + 8] = 0;
        assertThat(refusal(bad)).isEqualTo("punch candidate 1 port 0");
        // The second candidate made equal to the first.
        bad = cand.clone();
        System.arraycopy(cand, k, bad, k + 9, 9);
        assertThat(refusal(bad)).startsWith("punch candidate Candidate[kind=HOST").endsWith("listed twice");
        // A point of small order as the peer id.
        bad = cand.clone();
        java.util.Arrays.fill(bad, 6 + 16, 6 + 16 + 32, (byte) 0);
        assertThat(refusal(bad)).startsWith("punch CANDIDATES peer id: ");

        byte[] result = bytes(new Result(SESSION, 1, Protocol.UDP, addr("198.51.100.9", 4),
                addr("2001:db8:1:1::2", 5)));
        int r = 6 + 16 + 1 + 1; // initiator address
        bad = result.clone();
        bad[r - 1] = 0;
        assertThat(refusal(bad)).isEqualTo("punch protocol 0 is not 1 (udp) or 2 (tcp)");
        bad = result.clone();
        bad[r + 7] = 4; // responder family 6 -> 4: the payload no longer adds up
        assertThat(refusal(bad)).isEqualTo("punch message type 0x3 has 12 bytes after its last field");
        // An IPv4-mapped IPv6 address is not canonical.
        Result mapped = new Result(SESSION, 1, Protocol.UDP, addr("198.51.100.9", 4), addr("2001:db8::2", 5));
        bad = bytes(mapped);
        byte[] v4mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 198, 51, 100, 9};
        System.arraycopy(v4mapped, 0, bad, r + 7 + 1, 16);
        assertThat(refusal(bad)).isEqualTo("punch responder address 198.51.100.9 is IPv4-mapped: send it as IPv4");

        byte[] abort = bytes(new Abort(SESSION, 1, AbortCode.NO_PATH, "ab"));
        int a = 6 + 16 + 1;
        bad = abort.clone();
        bad[a + 1] = 7;
        assertThat(refusal(bad)).isEqualTo("punch ABORT code 7 is not 1 to 6");
        bad = abort.clone();
        bad[a + 5] = (byte) 0xff;
        assertThat(refusal(bad)).isEqualTo("punch reason is not valid UTF-8");
        bad = abort.clone();
        ByteBuffer.wrap(bad).putShort(a + 2, (short) 257);
        assertThat(refusal(bad)).isEqualTo("punch ABORT reason of 257 bytes, at most 256");
    }

    @Test
    void writingRefusesWhatCannotBeRead() throws Exception {
        List<Candidate> many = new ArrayList<>();
        for (int i = 1; i <= 17; i++) {
            many.add(new Candidate(Kind.HOST, Protocol.UDP, addr("198.51.100.1", i)));
        }
        assertThatThrownBy(() -> PunchCodec.sign(ALICE, SESSION, NOW, 1, NatType.OPEN, many))
                .hasMessage("17 candidates, at most 16");
        assertThatThrownBy(() -> PunchCodec.encode(new Sync(new byte[15], 1)))
                .hasMessage("a session id has 16 bytes, not 15");
        assertThatThrownBy(() -> PunchCodec.encode(new Sync(SESSION, 11))).hasMessage("round 11 is not 1 to 10");
        // A long reason is cut at a character boundary.
        Abort longReason = new Abort(SESSION, 1, AbortCode.NO_PATH, String.join("", Collections.nCopies(200, "é")));
        Abort back = (Abort) PunchCodec.decode(PunchCodec.encode(longReason));
        assertThat(back.reason()).hasSize(128);
    }

    @Test
    void verifyChecksSignerSessionRoundAndTime() throws Exception {
        Candidates good = candidates(ALICE, NOW);
        PunchCodec.verify(good, ALICE.peerId(), SESSION, 1, NOW, 30_000, 5_000);
        PunchCodec.verify(good, ALICE.peerId(), SESSION, 1, NOW + 30_000, 30_000, 5_000);
        PunchCodec.verify(good, ALICE.peerId(), SESSION, 1, NOW - 5_000, 30_000, 5_000);

        assertThatThrownBy(() -> PunchCodec.verify(good, MALLORY.peerId(), SESSION, 1, NOW, 30_000, 5_000))
                .isInstanceOf(ProtocolViolation.class).hasMessageContaining("over a connection authenticated as");
        byte[] other = SESSION.clone();
        other[0] ^= 1;
        assertThatThrownBy(() -> PunchCodec.verify(good, ALICE.peerId(), other, 1, NOW, 30_000, 5_000))
                .hasMessage("punch CANDIDATES for another session");
        assertThatThrownBy(() -> PunchCodec.verify(good, ALICE.peerId(), SESSION, 2, NOW, 30_000, 5_000))
                .hasMessage("punch CANDIDATES for round 1, expected round 2");
        assertThatThrownBy(() -> PunchCodec.verify(good, ALICE.peerId(), SESSION, 1, NOW + 30_001, 30_000, 5_000))
                .hasMessage("punch CANDIDATES issued 30001 ms ago, older than 30000 ms");
        assertThatThrownBy(() -> PunchCodec.verify(good, ALICE.peerId(), SESSION, 1, NOW - 5_001, 30_000, 5_000))
                .hasMessage("punch CANDIDATES issued 5001 ms in the future, beyond the allowed clock skew of 5000 ms");
    }

    @Test
    void aSignatureByAnotherKeyOrOverOtherBytesIsRefused() throws Exception {
        Candidates good = candidates(ALICE, NOW);
        // Mallory signs the message but claims to be Alice.
        Candidates forged = new Candidates(SESSION, ALICE.peerId(), NOW, 1, good.natType(), good.candidates(),
                MALLORY.sign(PunchCodec.signedBytes(good)));
        assertThatThrownBy(() -> PunchCodec.verify(forged, ALICE.peerId(), SESSION, 1, NOW, 30_000, 5_000))
                .hasMessage("punch CANDIDATES with a bad signature for " + ALICE.peerId());
        // Alice's signature moved to a message with another candidate list.
        Candidates moved = new Candidates(SESSION, ALICE.peerId(), NOW, 1, good.natType(),
                good.candidates().subList(0, 1), good.signature());
        assertThatThrownBy(() -> PunchCodec.verify(moved, ALICE.peerId(), SESSION, 1, NOW, 30_000, 5_000))
                .hasMessageContaining("bad signature");
        // A bit flipped in transit.
        byte[] frame = bytes(good);
        frame[frame.length - 3] ^= 1;
        Candidates flipped = (Candidates) PunchCodec.decode(ByteBuffer.wrap(frame));
        assertThatThrownBy(() -> PunchCodec.verify(flipped, ALICE.peerId(), SESSION, 1, NOW, 30_000, 5_000))
                .hasMessageContaining("bad signature");
        // The signature covers the context: Alice's signature over the bare payload does not verify.
        byte[] signed = PunchCodec.signedBytes(good);
        byte[] bare = java.util.Arrays.copyOfRange(signed, PunchCodec.SIGNATURE_CONTEXT.length(), signed.length);
        Candidates noContext = new Candidates(SESSION, ALICE.peerId(), NOW, 1, good.natType(), good.candidates(),
                ALICE.sign(bare));
        assertThatThrownBy(() -> PunchCodec.verify(noContext, ALICE.peerId(), SESSION, 1, NOW, 30_000, 5_000))
                .hasMessageContaining("bad signature");
    }
}
