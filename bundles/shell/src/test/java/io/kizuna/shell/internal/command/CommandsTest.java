package io.kizuna.shell.internal.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.kizuna.transport.ConnectionInfo;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.Endpoint;
import io.kizuna.transport.PeerAddress;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.PerfResult;
import io.kizuna.transport.PingResult;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class CommandsTest {

    private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
    private static final PeerId SELF = peer(1);
    private static final PeerId ALICE = peer(2);
    private static final PeerId BOB = peer(3);
    private static final Endpoint SELF_TCP = Endpoint.parse("tcp://127.0.0.1:7400");
    private static final Endpoint ALICE_TCP = Endpoint.parse("tcp://127.0.0.1:7401");
    private static final Endpoint ALICE_QUIC = Endpoint.parse("quic://127.0.0.1:7402");

    private final FakeConnectionManager cm = new FakeConnectionManager();
    private final List<TransportView> transports = new ArrayList<>();
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private Commands commands;

    private static PeerId peer(int seed) {
        byte[] key = new byte[PeerId.LENGTH];
        Arrays.fill(key, (byte) (seed * 37));
        key[0] = (byte) (seed << 3);
        return PeerId.of(key);
    }

    @BeforeEach
    void setUp() {
        cm.local = PeerAddress.of(SELF, SELF_TCP);
        transports.add(new TransportView("tcp", 100, true, Optional.empty(), "reliable,ordered",
                Optional.of("openssl (BoringSSL)")));
        commands = commands(new Commands.Timing(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ZERO,
                Duration.ofMillis(20), Duration.ofSeconds(5)));
    }

    private Commands commands(Commands.Timing timing) {
        return new Commands(cm, () -> List.copyOf(transports), Clock.fixed(NOW, ZoneOffset.UTC), timing);
    }

    private List<String> lines() {
        String s = bytes.toString(StandardCharsets.UTF_8);
        return s.isEmpty() ? List.of() : List.of(s.split("\n"));
    }

    private static ConnectionInfo info(PeerId peer, String protocol, Direction direction, Endpoint remote,
            Instant established, long sent, long received, Duration rtt) {
        return new ConnectionInfo("c" + peer.shortForm(), peer, protocol, direction,
                new InetSocketAddress("127.0.0.1", 50000), remote.address(), established, sent, received,
                Optional.ofNullable(rtt), Optional.empty());
    }

    private void connectsTo(ConnectionInfo info) {
        cm.onConnect = a -> CompletableFuture.completedFuture(info);
    }

    // ---- id, transports

    @Test
    void idPrintsPeerIdEndpointsAndTheAddressToCopy() {
        cm.local = new PeerAddress(SELF, List.of(SELF_TCP, Endpoint.parse("tcp://[::1]:7400")));
        commands.id(out);
        assertThat(lines()).containsExactly(
                "peer id    " + SELF,
                "listening  tcp://127.0.0.1:7400",
                "           tcp://[::1]:7400",
                "address    " + SELF + "@tcp://127.0.0.1:7400,tcp://[::1]:7400");
    }

    @Test
    void idSaysWhenNothingListens() {
        cm.local = new PeerAddress(SELF, List.of());
        commands.id(out);
        assertThat(lines()).containsExactly(
                "peer id    " + SELF,
                "listening  nothing (no transport is listening)",
                "address    " + SELF);
    }

    @Test
    void transportsAreListedBestFirstWithWhyTheyAreUnavailable() {
        transports.add(new TransportView("quic", 200, false, Optional.of("native library did not load"),
                "reliable,ordered,multiplexed", Optional.empty()));
        transports.add(new TransportView("mem", 10, true, Optional.empty(), "", Optional.empty()));
        commands.transports(out);
        assertThat(lines()).containsExactly(
                "NAME  PRIORITY  STATUS                                    CAPABILITIES                  "
                        + "TLS                  LISTENING",
                "quic       200  unavailable: native library did not load  reliable,ordered,multiplexed  "
                        + "-                    -",
                "tcp        100  available                                 reliable,ordered              "
                        + "openssl (BoringSSL)  tcp://127.0.0.1:7400",
                "mem         10  available                                 -                             "
                        + "-                    -");
    }

    @Test
    void transportsSayWhyTheyRunTlsOnTheJdk() {
        transports.clear();
        transports.add(new TransportView("tcp", 100, true, Optional.empty(), "reliable,ordered",
                Optional.of("jdk (native library not loaded: no libnetty_tcnative_linux_x86_64.so)")));
        commands.transports(out);
        assertThat(lines()).hasSize(2);
        assertThat(lines().get(1)).contains(" jdk (native library not loaded: no libnetty_tcnative_linux_x86_64.so) ");
    }

    @Test
    void transportsWithNoneRegisteredSaysWhatToDo() {
        transports.clear();
        commands.transports(out);
        assertThat(lines()).singleElement().asString().contains("no transport is registered");
    }

    // ---- connect

    @Test
    void connectPrintsPeerProtocolRemoteAndTime() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        commands.connect(out, ALICE + "@tcp://127.0.0.1:7401");
        assertThat(cm.dialed).containsExactly(PeerAddress.of(ALICE, ALICE_TCP));
        assertThat(lines()).singleElement().asString()
                .matches("connected to " + ALICE + " over tcp, remote 127\\.0\\.0\\.1:7401, in \\d+\\.\\d+ ms");
    }

    @Test
    void connectToAPooledPeerSaysSo() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW.minusSeconds(125), 0, 0, null));
        commands.connect(out, ALICE + "@tcp://127.0.0.1:7401");
        assertThat(lines()).containsExactly("already connected to " + ALICE
                + " over tcp, remote 127.0.0.1:7401 (pooled connection, 2m05s old)");
    }

    @Test
    void disconnectClosesThePeersConnectionsAndSaysHowMany() {
        cm.connections.add(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.connections.add(info(ALICE, "quic", Direction.INBOUND, ALICE_QUIC, NOW, 0, 0, null));
        cm.connections.add(info(BOB, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        commands.disconnect(out, ALICE.toString().substring(0, 8));
        assertThat(cm.disconnected).containsExactly(ALICE);
        assertThat(cm.connections()).extracting(ConnectionInfo::peerId).containsExactly(BOB);
        assertThat(lines()).singleElement().asString()
                .matches("disconnected from " + ALICE + ": 2 connections closed in \\d+\\.\\d+ ms");
    }

    @Test
    void disconnectFromAPeerWithoutConnectionsFails() {
        assertThatThrownBy(() -> commands.disconnect(out, BOB.toString()))
                .isInstanceOf(CommandFailure.class).hasMessage("not connected to " + BOB);
        assertThat(cm.disconnected).isEmpty();
    }

    @Test
    void connectFailureIsTheTransportMessageAndPrintsNothing() {
        cm.onConnect = a -> CompletableFuture.failedFuture(new java.util.concurrent.CompletionException(
                new TransportException.ConnectionFailed("could not reach " + a + " over tcp: connection refused; "
                        + "is the peer running?", null)));
        assertThatThrownBy(() -> commands.connect(out, ALICE + "@tcp://127.0.0.1:7401"))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("could not reach " + ALICE + "@tcp://127.0.0.1:7401 over tcp: connection refused; "
                        + "is the peer running?")
                .satisfies(e -> assertThat(e.getStackTrace()).isEmpty());
        assertThat(lines()).isEmpty();
    }

    @Test
    void connectWithABadAddressSaysWhatIsWrong() {
        assertThatThrownBy(() -> commands.connect(out, "tcp://127.0.0.1:7401"))
                .isInstanceOf(CommandFailure.class).hasMessageContaining("must start with the peer id");
        assertThatThrownBy(() -> commands.connect(out, "nonsense@tcp://127.0.0.1:7401"))
                .isInstanceOf(CommandFailure.class).hasMessageContaining("PeerId 'nonsense'");
        assertThatThrownBy(() -> commands.connect(out, "garbage"))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("'garbage' is not a peer address: write <peer-id>@tcp://ip:port");
        assertThat(cm.dialed).isEmpty();
    }

    @Test
    void connectTimeoutIsBounded() {
        commands = commands(new Commands.Timing(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ZERO,
                Duration.ofMillis(20), Duration.ofSeconds(5)));
        cm.onConnect = a -> new CompletableFuture<>();
        assertThatThrownBy(() -> commands.connect(out, ALICE + "@tcp://127.0.0.1:7401"))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("connecting to " + ALICE + "@tcp://127.0.0.1:7401 did not complete within 100 ms");
    }

    // ---- peers

    @Test
    void peersIsATableOfConnections() {
        cm.connections.add(info(BOB, "tcp", Direction.INBOUND, Endpoint.parse("tcp://[::1]:51000"),
                NOW.minusSeconds(7), 1536, 10L << 20, null));
        ConnectionInfo alice = info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW.minusSeconds(3725), 64L << 20,
                512, Duration.ofNanos(213_000));
        cm.connections.add(new ConnectionInfo(alice.id(), alice.peerId(), alice.protocol(), alice.direction(),
                alice.localAddress(), alice.remoteAddress(), alice.establishedAt(), alice.bytesSent(),
                alice.bytesReceived(), alice.rtt(), Optional.of(200_000_000L)));
        commands.peers(out);
        List<String> expected = new ArrayList<>();
        expected.add("PEER      PROTOCOL  DIRECTION  REMOTE               RTT    BANDWIDTH      SENT  RECEIVED    AGE");
        String a = ALICE.shortForm()
                + "  tcp       outbound   127.0.0.1:7401  0.213 ms  1.60 Gbit/s  64.0 MiB     512 B  1h02m";
        String b = BOB.shortForm()
                + "  tcp       inbound    [::1]:51000            -            -   1.5 KiB  10.0 MiB     7s";
        if (ALICE.compareTo(BOB) < 0) {
            expected.add(a);
            expected.add(b);
        } else {
            expected.add(b);
            expected.add(a);
        }
        assertThat(lines()).containsExactlyElementsOf(expected);
    }

    @Test
    void peersWithoutConnections() {
        commands.peers(out);
        assertThat(lines()).containsExactly("no connections");
    }

    // ---- ping

    private static CompletableFuture<PingResult> reply(PeerId peer, Endpoint remote, long micros) {
        return CompletableFuture.completedFuture(new PingResult(peer, remote.protocol(), remote,
                Duration.ofNanos(micros * 1000)));
    }

    @Test
    void pingPrintsEachRoundTripAndTheTransportThenASummary() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.pings.add(reply(ALICE, ALICE_TCP, 200));
        cm.pings.add(reply(ALICE, ALICE_TCP, 400));
        cm.pings.add(reply(ALICE, ALICE_TCP, 300));
        commands.ping(out, "", ALICE + "@tcp://127.0.0.1:7401", 3);
        String s = ALICE.shortForm();
        assertThat(lines()).containsExactly(
                "PING " + s + " over tcp (127.0.0.1:7401): 3 pings",
                "reply 1 from " + s + " via tcp://127.0.0.1:7401: rtt 0.200 ms",
                "reply 2 from " + s + " via tcp://127.0.0.1:7401: rtt 0.400 ms",
                "reply 3 from " + s + " via tcp://127.0.0.1:7401: rtt 0.300 ms",
                "--- " + s + ": 3 sent, 3 received, 0% loss, rtt min/avg/max 0.200/0.300/0.400 ms");
        assertThat(cm.pinged).hasSize(3).allMatch(a -> a.equals(PeerAddress.of(ALICE, ALICE_TCP)));
    }

    @Test
    void pingAndPeersSayHowAPathWasMadeWhenItChanges() {
        Endpoint relayed = Endpoint.parse("relay://" + BOB + "@tcp://127.0.0.1:7400");
        Endpoint punched = Endpoint.parse("quic://127.0.0.1:7402");
        connectsTo(info(ALICE, "relay", Direction.OUTBOUND, relayed, NOW, 0, 0, null));
        cm.connections.add(info(ALICE, "quic", Direction.OUTBOUND, punched, NOW, 0, 0, null)
                .withPath(Optional.of("punched, round 1, 52 ms after relay")));
        cm.pings.add(reply(ALICE, relayed, 200));
        cm.pings.add(reply(ALICE, punched, 100));
        cm.pings.add(reply(ALICE, punched, 100));
        commands.ping(out, "", ALICE + "@relay://" + BOB + "@tcp://127.0.0.1:7400", 3);
        String s = ALICE.shortForm();
        assertThat(lines()).contains(
                "reply 2 from " + s + " via quic://127.0.0.1:7402 (punched, round 1, 52 ms after relay): rtt 0.100 ms",
                "reply 3 from " + s + " via quic://127.0.0.1:7402: rtt 0.100 ms");
        bytes.reset();
        commands.peers(out);
        assertThat(lines().get(1)).contains(" quic (punched, round 1, 52 ms after relay)  outbound ");
    }

    @Test
    void aLostPingIsCountedAndTheOthersGoOn() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.pings.add(reply(ALICE, ALICE_TCP, 250));
        cm.pings.add(CompletableFuture.failedFuture(new TransportException.Io("connection reset by peer", null)));
        cm.pings.add(reply(ALICE, ALICE_TCP, 250));
        commands.ping(out, null, ALICE + "@tcp://127.0.0.1:7401", 3);
        assertThat(lines()).contains("ping 2 failed: connection reset by peer")
                .last().asString().isEqualTo("--- " + ALICE.shortForm()
                        + ": 3 sent, 2 received, 33% loss, rtt min/avg/max 0.250/0.250/0.250 ms");
    }

    @Test
    void pingWithNoReplyFailsTheCommand() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        commands = commands(new Commands.Timing(Duration.ofSeconds(5), Duration.ofMillis(50), Duration.ZERO,
                Duration.ofMillis(20), Duration.ofSeconds(5)));
        cm.pings.add(new CompletableFuture<>());
        cm.pings.add(new CompletableFuture<>());
        assertThatThrownBy(() -> commands.ping(out, "", ALICE + "@tcp://127.0.0.1:7401", 2))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("no reply from " + ALICE + " to 2 pings: ping 2 of " + ALICE
                        + "@tcp://127.0.0.1:7401 did not complete within 50 ms");
        assertThat(lines()).contains("--- " + ALICE.shortForm() + ": 2 sent, 0 received, 100% loss");
    }

    @Test
    void pingCountIsBounded() {
        assertThatThrownBy(() -> commands.ping(out, "", ALICE.toString(), 0))
                .hasMessage("ping count 0 is out of range: give 1 to 1000");
        assertThatThrownBy(() -> commands.ping(out, "", ALICE.toString(), 1001))
                .hasMessage("ping count 1001 is out of range: give 1 to 1000");
    }

    @Test
    void pingUnreachablePeerFailsBeforeAnyPing() {
        cm.onConnect = a -> CompletableFuture.failedFuture(
                new TransportException.ConnectionFailed("no endpoint of " + a + " answered", null));
        assertThatThrownBy(() -> commands.ping(out, "", ALICE + "@tcp://127.0.0.1:7401", 3))
                .hasMessage("no endpoint of " + ALICE + "@tcp://127.0.0.1:7401 answered");
        assertThat(cm.pinged).isEmpty();
        assertThat(lines()).isEmpty();
    }

    @Test
    void aUniquePrefixOfAConnectedPeerNamesIt() {
        cm.connections.add(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.connections.add(info(BOB, "tcp", Direction.INBOUND, ALICE_TCP, NOW, 0, 0, null));
        connectsTo(cm.connections.get(0));
        cm.pings.add(reply(ALICE, ALICE_TCP, 100));
        commands.ping(out, "", ALICE.toString().substring(0, 6).toUpperCase(), 1);
        assertThat(cm.dialed).containsExactly(new PeerAddress(ALICE, List.of()));
        assertThat(cm.pinged).containsExactly(new PeerAddress(ALICE, List.of()));
    }

    @Test
    void anAmbiguousOrUnknownPrefixIsRefused() {
        // A twin of ALICE that differs only in the last byte: the two ids share a long prefix.
        byte[] key = ALICE.bytes();
        key[PeerId.LENGTH - 1] ^= 1;
        PeerId twin = PeerId.of(key);
        cm.connections.add(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.connections.add(info(twin, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        assertThatThrownBy(() -> commands.ping(out, "", ALICE.toString().substring(0, 20), 1))
                .hasMessage("'" + ALICE.toString().substring(0, 20) + "' is the start of 2 connected peers' ids ("
                        + ALICE.shortForm() + ", " + twin.shortForm() + "): give more characters");
        assertThatThrownBy(() -> commands.ping(out, "", "zzzz", 1))
                .hasMessageStartingWith("no connected peer's id starts with 'zzzz'");
        assertThatThrownBy(() -> commands.ping(out, "", " ", 1)).hasMessageStartingWith("no peer given");
        assertThat(cm.dialed).isEmpty();
    }

    @Test
    void forcingATransportKeepsOnlyItsEndpoints() {
        transports.add(new TransportView("quic", 200, true, Optional.empty(), "multiplexed", Optional.empty()));
        connectsTo(info(ALICE, "quic", Direction.OUTBOUND, ALICE_QUIC, NOW, 0, 0, null));
        cm.pings.add(reply(ALICE, ALICE_QUIC, 100));
        commands.ping(out, "quic", ALICE + "@tcp://127.0.0.1:7401,quic://127.0.0.1:7402", 1);
        assertThat(cm.dialed).containsExactly(PeerAddress.of(ALICE, ALICE_QUIC));
        assertThat(lines()).contains("reply 1 from " + ALICE.shortForm() + " via quic://127.0.0.1:7402: rtt 0.100 ms");
    }

    @Test
    void forcingATransportTheAddressLacksOrNobodyHasIsRefused() {
        transports.add(new TransportView("quic", 200, true, Optional.empty(), "multiplexed", Optional.empty()));
        assertThatThrownBy(() -> commands.ping(out, "quic", ALICE + "@tcp://127.0.0.1:7401", 1))
                .hasMessage("address " + ALICE + "@tcp://127.0.0.1:7401 has no quic endpoint; it names tcp");
        assertThatThrownBy(() -> commands.ping(out, "webrtc", ALICE + "@tcp://127.0.0.1:7401", 1))
                .hasMessage("no transport named 'webrtc' is registered here; registered: quic, tcp");
        assertThatThrownBy(() -> commands.ping(out, "tcp", ALICE.toString(), 1))
                .hasMessage("no open tcp connection to " + ALICE + "; give its address to dial: " + ALICE
                        + "@tcp://ip:port");
        assertThat(cm.dialed).isEmpty();
    }

    @Test
    void forcingATransportForAKnownPeerUsesItsPooledConnection() {
        ConnectionInfo pooled = info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null);
        cm.connections.add(pooled);
        connectsTo(pooled);
        cm.pings.add(reply(ALICE, ALICE_TCP, 100));
        commands.ping(out, "TCP", ALICE.toString(), 1);
        assertThat(cm.dialed).containsExactly(PeerAddress.of(ALICE, ALICE_TCP));
    }

    // ---- perf

    @Test
    void perfPrintsProgressThenThroughputBothWays() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        CompletableFuture<PerfResult> done = new CompletableFuture<>();
        long size = 8L << 20;
        cm.onPerf = (peer, up, down, progress) -> {
            assertThat(up).isEqualTo(size);
            assertThat(down).isEqualTo(size);
            progress.accept(new PerfResult.Progress("upload", 2L << 20, size, Duration.ofMillis(100)));
            return done;
        };
        // Finish the run once the progress line has been printed.
        PrintStream watching = new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                bytes.write(b);
                if (b == '\n' && bytes.toString(StandardCharsets.UTF_8).contains("  upload ")) {
                    done.complete(new PerfResult(ALICE, "tcp", size, Duration.ofMillis(80), size,
                            Duration.ofMillis(40)));
                }
            }
        }, true, StandardCharsets.UTF_8);
        commands.perf(watching, "", ALICE + "@tcp://127.0.0.1:7401", "8M");
        String s = ALICE.shortForm();
        assertThat(lines()).containsExactly(
                "PERF " + s + " over tcp (127.0.0.1:7401): upload 8.0 MiB, then download 8.0 MiB",
                "  upload   2.0 MiB of 8.0 MiB (25%) in 0.100 s, 167.8 Mbit/s",
                "upload    8.0 MiB  in  0.080 s  838.9 Mbit/s",
                "download  8.0 MiB  in  0.040 s   1.68 Gbit/s",
                "transport tcp, peer " + ALICE);
    }

    @Test
    void perfRefusesABadSizeBeforeDialing() {
        assertThatThrownBy(() -> commands.perf(out, "", ALICE + "@tcp://127.0.0.1:7401", "65G"))
                .isInstanceOf(CommandFailure.class).hasMessageContaining("too large");
        assertThatThrownBy(() -> commands.perf(out, "", ALICE + "@tcp://127.0.0.1:7401", "many"))
                .isInstanceOf(CommandFailure.class).hasMessageContaining("64M or 1G");
        assertThat(cm.dialed).isEmpty();
    }

    @Test
    void perfFailureIsOneLine() {
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.onPerf = (peer, up, down, progress) -> CompletableFuture.failedFuture(
                new java.util.concurrent.CompletionException(new TransportException.ProtocolViolation(
                        "perf reply from the peer was malformed: expected 8 bytes, got 3")));
        assertThatThrownBy(() -> commands.perf(out, "", ALICE + "@tcp://127.0.0.1:7401", "1K"))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("perf reply from the peer was malformed: expected 8 bytes, got 3");
    }

    @Test
    void perfWithoutProgressGivesUp() {
        commands = commands(new Commands.Timing(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ZERO,
                Duration.ofMillis(20), Duration.ofMillis(200)));
        connectsTo(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        CompletableFuture<PerfResult> never = new CompletableFuture<>();
        cm.onPerf = (peer, up, down, progress) -> never;
        assertThatThrownBy(() -> commands.perf(out, "", ALICE + "@tcp://127.0.0.1:7401", "1K"))
                .isInstanceOf(CommandFailure.class)
                .hasMessage("perf with " + ALICE + " made no progress for 200 ms; gave up");
        assertThat(never).isCancelled();
    }

    // ---- metrics

    @Test
    void metricsPrintsOverallPerTransportAndPerPeer() {
        cm.overall = FakeConnectionManager.metrics(3, 1, 1, 2L << 30, 1L << 20, Duration.ofNanos(250_000),
                Map.of("tcp", 3L));
        cm.byProtocol.put("tcp", FakeConnectionManager.metrics(3, 1, 1, 2L << 30, 1L << 20,
                Duration.ofNanos(250_000), Map.of("tcp", 3L)));
        cm.connections.add(info(ALICE, "tcp", Direction.OUTBOUND, ALICE_TCP, NOW, 0, 0, null));
        cm.byPeer.put(ALICE, FakeConnectionManager.metrics(2, 0, 1, 1024, 2048, null, Map.of("tcp", 2L)));
        commands.metrics(out);
        assertThat(lines()).containsExactly(
                "overall",
                "SCOPE  ESTABLISHED  FAILED  ACTIVE     SENT  RECEIVED   AVG RTT  USAGE",
                "all              3       1       1  2.0 GiB   1.0 MiB  0.250 ms  tcp=3",
                "",
                "per transport",
                "TRANSPORT  ESTABLISHED  FAILED  ACTIVE     SENT  RECEIVED   AVG RTT  USAGE",
                "tcp                  3       1       1  2.0 GiB   1.0 MiB  0.250 ms  tcp=3",
                "",
                "per peer (connected now)",
                "PEER      ESTABLISHED  FAILED  ACTIVE     SENT  RECEIVED  AVG RTT  USAGE",
                ALICE.shortForm() + "            2       0       1  1.0 KiB   2.0 KiB        -  tcp=2");
    }

    @Test
    void metricsOfAFreshNode() {
        commands.metrics(out);
        assertThat(lines()).contains("(no transport has been used)", "(no connected peer)");
    }
}
