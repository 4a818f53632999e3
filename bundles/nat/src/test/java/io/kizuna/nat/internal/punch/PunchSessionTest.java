package io.kizuna.nat.internal.punch;

import static io.kizuna.nat.internal.punch.FakeNet.at;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.nat.internal.punch.PunchMessage.Candidate;
import io.kizuna.nat.internal.punch.PunchMessage.Kind;
import io.kizuna.nat.internal.punch.PunchMessage.Protocol;
import io.kizuna.nat.internal.punch.PunchSession.Outcome;
import io.kizuna.nat.internal.punch.PunchSession.Role;
import io.kizuna.transport.AddressScope;
import io.kizuna.transport.NatType;
import io.kizuna.transport.TransportException;

/**
 * Two sessions over an in-memory channel and a fake UDP network with NATs that
 * map and filter as real ones do, so the probes must open the mappings.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PunchSessionTest {

    static final NodeIdentity ALICE = Identities.generate();
    static final NodeIdentity BOB = Identities.generate();

    final FakeNet net = new FakeNet();
    final ScheduledExecutorService aliceLoop = Executors.newSingleThreadScheduledExecutor();
    final ScheduledExecutorService bobLoop = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stop() {
        net.close();
        aliceLoop.shutdownNow();
        bobLoop.shutdownNow();
    }

    static Candidate udp(Kind kind, InetSocketAddress a) {
        return new Candidate(kind, Protocol.UDP, a);
    }

    PunchSession session(Role role, NodeIdentity me, PunchChannel channel, ProbeSocket socket,
            List<Candidate> candidates, PunchSchedule schedule) {
        return new PunchSession(role, me, channel, socket, () -> candidates, () -> NatType.UNKNOWN,
                CandidatePolicy.PUBLIC_ONLY, schedule, me == ALICE ? aliceLoop : bobLoop, System::currentTimeMillis);
    }

    /** Alice at 10.0.0.2:5000 behind 203.0.113.1 (port 40000), Bob at 10.1.0.2:6000 behind 198.51.100.1 (50000). */
    FakeNet.Host[] behindCones() {
        return new FakeNet.Host[] {net.host("10.0.0.2", 5000, net.nat("203.0.113.1", false, 40000)),
            net.host("10.1.0.2", 6000, net.nat("198.51.100.1", false, 50000))};
    }

    static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(20, TimeUnit.SECONDS);
    }

    static Throwable failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(20, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    void twoPortRestrictedConesPunchInTheFirstRoundAndAgree() throws Exception {
        FakeNet.Host[] hosts = behindCones();
        FakeNet.Host a = hosts[0];
        FakeNet.Host b = hosts[1];
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = session(Role.INITIATOR, ALICE, pipe.a, a, List.of(
                udp(Kind.HOST, at("10.0.0.2", 5000)), udp(Kind.REFLEXIVE, at("203.0.113.1", 40000))),
                PunchSchedule.DEFAULT);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b, List.of(
                udp(Kind.HOST, at("10.1.0.2", 6000)), udp(Kind.REFLEXIVE, at("198.51.100.1", 50000)),
                new Candidate(Kind.OBSERVED, Protocol.TCP, at("198.51.100.1", 7400))), PunchSchedule.DEFAULT);

        CompletableFuture<Outcome> bobDone = bob.run();
        Outcome aliceOut = get(alice.run());
        Outcome bobOut = get(bobDone);

        assertThat(aliceOut).isEqualTo(new Outcome(1, a.local, at("198.51.100.1", 50000)));
        assertThat(bobOut).isEqualTo(new Outcome(1, b.local, at("203.0.113.1", 40000)));
        assertThat(pipe.log()).hasSize(4).satisfiesExactly(
                m -> assertThat(m).startsWith("a CANDIDATES"), m -> assertThat(m).startsWith("b CANDIDATES"),
                m -> assertThat(m).startsWith("a SYNC"), m -> assertThat(m).startsWith("a RESULT"));
        // The private host candidates were refused by the policy and never probed.
        assertThat(net.destinations()).allMatch(d -> AddressScope.of(d.getAddress()) == AddressScope.PUBLIC);
        assertThat(alice.counters().refused()).isEqualTo(1);
        assertThat(bob.counters().refused()).isEqualTo(1);
    }

    @Test
    void aSymmetricNatIsPunchedThroughThePeerReflexiveAddressItsProbesCameFrom() throws Exception {
        // Alice learned 203.0.113.1:40000 from a STUN server; towards Bob her NAT maps a new port.
        FakeNet.Nat natA = net.nat("203.0.113.1", true, 40000);
        natA.out(net.host("10.0.0.2", 5000, natA), at("198.51.100.200", 3478));
        FakeNet.Host a = net.host("10.0.0.2", 5000, natA);
        FakeNet.Host b = net.host("198.51.100.7", 7400, null);
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = session(Role.INITIATOR, ALICE, pipe.a, a,
                List.of(udp(Kind.REFLEXIVE, at("203.0.113.1", 40000))), PunchSchedule.DEFAULT);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b,
                List.of(udp(Kind.HOST, at("198.51.100.7", 7400))), PunchSchedule.DEFAULT);

        CompletableFuture<Outcome> bobDone = bob.run();
        Outcome aliceOut = get(alice.run());
        Outcome bobOut = get(bobDone);

        assertThat(aliceOut.remote()).isEqualTo(b.local);
        assertThat(bobOut.remote()).as("the port Alice's NAT mapped towards Bob, not the one she announced")
                .isEqualTo(at("203.0.113.1", 40001));
        assertThat(bob.counters().peerReflexive()).isEqualTo(1);
    }

    @Test
    void lostProbesAreMadeUpByTheLaterOnesOfTheRound() throws Exception {
        FakeNet.Host[] hosts = behindCones();
        FakeNet.Host a = hosts[0];
        FakeNet.Host b = hosts[1];
        AtomicInteger seen = new AtomicInteger();
        net.lose = (from, to) -> seen.incrementAndGet() <= 6;
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = session(Role.INITIATOR, ALICE, pipe.a, a,
                List.of(udp(Kind.REFLEXIVE, at("203.0.113.1", 40000))), PunchSchedule.DEFAULT);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b,
                List.of(udp(Kind.REFLEXIVE, at("198.51.100.1", 50000))), PunchSchedule.DEFAULT);

        CompletableFuture<Outcome> bobDone = bob.run();
        Outcome aliceOut = get(alice.run());
        assertThat(get(bobDone).remote()).isEqualTo(at("203.0.113.1", 40000));
        assertThat(aliceOut.round()).isEqualTo(1);
        assertThat(alice.counters().probesSent()).isGreaterThan(1);
    }

    @Test
    void whenEveryProbeIsLostBothEndAfterTheLastRoundWithTheReason() throws Exception {
        FakeNet.Nat natA = net.nat("203.0.113.1", false, 40000);
        FakeNet.Host a = net.host("10.0.0.2", 5000, natA);
        FakeNet.Host b = net.host("198.51.100.7", 7400, null);
        net.lose = (from, to) -> true;
        PunchSchedule fast = new PunchSchedule(3, 500);
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = session(Role.INITIATOR, ALICE, pipe.a, a,
                List.of(udp(Kind.REFLEXIVE, at("203.0.113.1", 40000))), fast);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b,
                List.of(udp(Kind.HOST, at("198.51.100.7", 7400))), fast);

        CompletableFuture<Outcome> bobDone = bob.run();
        assertThat(failure(alice.run())).isInstanceOf(TransportException.NatTraversalFailed.class)
                .hasMessageContaining("no probe answered in 3 rounds of 500 ms");
        assertThat(failure(bobDone)).isInstanceOf(TransportException.NatTraversalFailed.class)
                .hasMessageContaining("aborted by the peer in round 3: NO_PATH");
        assertThat(pipe.log()).filteredOn(m -> m.startsWith("a CANDIDATES")).hasSize(3);
        assertThat(pipe.log()).filteredOn(m -> m.startsWith("b CANDIDATES")).hasSize(3);
        assertThat(pipe.log()).last().asString().startsWith("a ABORT");
        // Five probes per round (0 to 400 ms) to Bob's one candidate.
        assertThat(alice.counters().probesSent()).isEqualTo(15);
    }

    @Test
    void candidatesSignedByAnotherKeyAreAViolationAndThePeerIsTold() throws Exception {
        NodeIdentity mallory = Identities.generate();
        FakeNet.Host a = net.host("203.0.113.9", 5000, null);
        FakeNet.Host b = net.host("198.51.100.7", 7400, null);
        // Bob's connection authenticated Alice, but Mallory's key signs what arrives.
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession fake = new PunchSession(Role.INITIATOR, mallory, pipe.a, a, List::of, () -> NatType.UNKNOWN,
                CandidatePolicy.PUBLIC_ONLY, PunchSchedule.DEFAULT, aliceLoop, System::currentTimeMillis);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b, List.of(), PunchSchedule.DEFAULT);

        CompletableFuture<Outcome> bobDone = bob.run();
        CompletableFuture<Outcome> fakeDone = fake.run();
        assertThat(failure(bobDone)).isInstanceOf(TransportException.ProtocolViolation.class)
                .hasMessageContaining("over a connection authenticated as " + ALICE.peerId());
        assertThat(failure(fakeDone)).hasMessageContaining("aborted by the peer in round 1: PROTOCOL_VIOLATION");
        assertThat(net.destinations()).as("nothing probed").isEmpty();
    }

    @Test
    void aStaleCandidatesIsRefused() throws Exception {
        FakeNet.Host a = net.host("203.0.113.9", 5000, null);
        FakeNet.Host b = net.host("198.51.100.7", 7400, null);
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = new PunchSession(Role.INITIATOR, ALICE, pipe.a, a, List::of, () -> NatType.UNKNOWN,
                CandidatePolicy.PUBLIC_ONLY, PunchSchedule.DEFAULT, aliceLoop,
                () -> System.currentTimeMillis() - 31_000);
        PunchSession bob = session(Role.RESPONDER, BOB, pipe.b, b, List.of(), PunchSchedule.DEFAULT);
        CompletableFuture<Outcome> bobDone = bob.run();
        alice.run();
        assertThat(failure(bobDone)).hasMessageContaining("older than 30000 ms");
    }

    @Test
    void theInitiatorGivesUpWhenTheResponderNeverAnswers() throws Exception {
        FakeNet.Host a = net.host("203.0.113.9", 5000, null);
        PipeChannels pipe = new PipeChannels(BOB.peerId(), ALICE.peerId());
        PunchSession alice = session(Role.INITIATOR, ALICE, pipe.a, a, List.of(), PunchSchedule.DEFAULT);
        assertThatThrownBy(() -> get(alice.run())).hasCauseInstanceOf(TransportException.NatTraversalFailed.class)
                .hasMessageContaining("no message from the peer in 5000 ms (round 1)");
    }

    @Test
    void probesFromAThirdPartyOrOfAnotherSessionAreDroppedAndNeverAnswered() throws Exception {
        byte[] session = new byte[16];
        Probe ours = new Probe(session, ALICE.peerId(), BOB.peerId());
        byte[] other = session.clone();
        other[0] = 1;
        Probe theirs = new Probe(other, ALICE.peerId(), BOB.peerId());
        byte[] txid = ours.transactionId(true, 1, 0);
        assertThat(ours.read(ours.request(txid))).hasValueSatisfying(p -> assertThat(p.request()).isTrue());
        assertThat(ours.read(ours.response(txid, at("203.0.113.1", 4000))))
                .hasValueSatisfying(p -> assertThat(p.mapped()).contains(at("203.0.113.1", 4000)));
        assertThat(ours.read(theirs.request(txid))).as("another session's key").isEmpty();
        byte[] tampered = ours.response(txid, at("203.0.113.1", 4000));
        tampered[26] ^= 1; // inside XOR-MAPPED-ADDRESS
        assertThat(ours.read(tampered)).isEmpty();
        assertThat(ours.read(new byte[] {0, 1, 0, 0})).isEmpty();
        assertThat(ours.request(txid)[0]).as("RFC 9443: not QUIC").isBetween((byte) 0, (byte) 3);
        assertThat(ours.transactionId(true, 1, 0)).isNotEqualTo(ours.transactionId(false, 1, 0))
                .isNotEqualTo(theirs.transactionId(true, 1, 0));
    }
}
