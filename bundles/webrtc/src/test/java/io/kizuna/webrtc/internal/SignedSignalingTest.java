package io.kizuna.webrtc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import dev.onvoid.webrtc.RTCStats;
import dev.onvoid.webrtc.RTCStatsType;
import io.kizuna.identity.Identities;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.TransportException;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Signaling between two real libwebrtc peers through a man in the middle that
 * rewrites messages: what is not signed by the expected key, or binds another
 * DTLS certificate than the one used, is refused.
 */
@Timeout(60)
class SignedSignalingTest {

    private final NodeIdentity dialerId = Identities.generate();
    private final NodeIdentity listenerId = Identities.generate();
    private final NodeIdentity attacker = Identities.generate();
    private final WebRtcTransport dialer = new WebRtcTransport(dialerId, WebRtcContractTest.loopbackSettings());
    private final WebRtcTransport listener = new WebRtcTransport(listenerId, WebRtcContractTest.loopbackSettings());
    private final List<WebRtcConnection> opened = new ArrayList<>();

    @AfterEach
    void stop() {
        opened.forEach(WebRtcConnection::abort);
        dialer.deactivate();
        listener.deactivate();
    }

    private record Outcome(Throwable dialFailure, Throwable answerFailure) {
    }

    private Outcome run(UnaryOperator<String> toListener, UnaryOperator<String> toDialer) throws Exception {
        PipeSignaling[] pipe = PipeSignaling.pair(toListener, toDialer);
        CompletableFuture<WebRtcConnection> answered = WebRtcPeer.answer(listener, pipe[1]);
        CompletableFuture<WebRtcConnection> dialed = WebRtcPeer.dial(dialer, pipe[0], listenerId.peerId(),
                Duration.ofSeconds(8));
        return new Outcome(outcome(dialed), outcome(answered));
    }

    private Throwable outcome(CompletableFuture<WebRtcConnection> f) throws Exception {
        try {
            opened.add(f.get(20, TimeUnit.SECONDS));
            return null;
        } catch (ExecutionException e) {
            return TransportException.unwrap(e);
        }
    }

    private static UnaryOperator<String> on(Signal.Type type, UnaryOperator<Signal> change) {
        return json -> {
            try {
                Signal s = Signal.parse(json, 1 << 20);
                return s.type() == type ? change.apply(s).toJson() : json;
            } catch (TransportException.ProtocolViolation e) {
                throw new IllegalStateException(e);
            }
        };
    }

    private static String otherFingerprint(String sdp) {
        String f = Sdp.fingerprint(sdp).substring("sha-256 ".length());
        String flipped = (f.charAt(0) == 'A' ? "B" : "A") + f.substring(1);
        return sdp.replace(f, flipped).replace(f.toLowerCase(java.util.Locale.ROOT), flipped);
    }

    @Test
    void untouchedSignalingConnectsBothWays() throws Exception {
        Outcome o = run(UnaryOperator.identity(), UnaryOperator.identity());
        assertThat(o.dialFailure()).isNull();
        assertThat(o.answerFailure()).isNull();
        assertThat(opened).hasSize(2);
        assertThat(opened.get(0).info().peerId()).isEqualTo(listenerId.peerId());
        assertThat(opened.get(1).info().peerId()).isEqualTo(dialerId.peerId());
        CandidatePair now = opened.get(1).selectedCandidatePair().toCompletableFuture()
                .get(5, TimeUnit.SECONDS).orElseThrow();
        assertThat(now.remoteType()).isIn(CandidatePair.Type.HOST,
                CandidatePair.Type.PRFLX);
        assertThat(now.localAddress()).startsWith("127.0.0.1:");
        // Loopback candidates: the local side learns its 127.0.0.1 as peer-reflexive from the checks.
        assertThat(opened.get(0).candidatePair()).as("the pair ICE chose")
                .matches("(host|prflx) 127\\.0\\.0\\.1:\\d+ -> (host|prflx) (127\\.0\\.0\\.1|\\?):\\d+");
    }

    @Test
    void answerWithTamperedFingerprintIsRefused() throws Exception {
        // The signature stays as it was: the body no longer matches it.
        Outcome o = run(UnaryOperator.identity(), on(Signal.Type.ANSWER, s -> new Signal(s.type(), s.session(),
                s.from(), s.to(), s.seq(), otherFingerprint(s.body()), s.signature())));
        assertThat(o.dialFailure()).isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining("no valid signature");
    }

    @Test
    void offerWithTamperedSignatureIsRefused() throws Exception {
        Outcome o = run(on(Signal.Type.OFFER, s -> {
            byte[] sig = s.signature().clone();
            sig[10] ^= 1;
            return new Signal(s.type(), s.session(), s.from(), s.to(), s.seq(), s.body(), sig);
        }), UnaryOperator.identity());
        assertThat(o.answerFailure()).isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining("no valid signature");
        assertThat(o.dialFailure()).as("the dialer gets no answer").isNotNull();
    }

    @Test
    void answerReSignedByAnotherKeyNamesBothPeerIds() throws Exception {
        Outcome o = run(UnaryOperator.identity(), on(Signal.Type.ANSWER, s -> Signal.signed(attacker,
                s.type(), s.session(), s.to(), s.seq(), otherFingerprint(s.body()))));
        assertThat(o.dialFailure()).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
        TransportException.PeerAuthenticationFailed f = (TransportException.PeerAuthenticationFailed) o.dialFailure();
        assertThat(f.expected()).isEqualTo(listenerId.peerId());
        assertThat(f.presented()).isEqualTo(attacker.peerId());
        assertThat(f.getMessage()).contains(listenerId.peerId().toString()).contains(attacker.peerId().toString());
    }

    @Test
    void validlySignedFingerprintOfAnotherCertificateNeverConnects() throws Exception {
        // The listener's own key signs a fingerprint that is not its DTLS certificate's
        // (what a stolen signing oracle or a buggy peer could produce): DTLS must not complete.
        Outcome o = run(UnaryOperator.identity(), on(Signal.Type.ANSWER, s -> Signal.signed(listenerId,
                s.type(), s.session(), s.to(), s.seq(), otherFingerprint(s.body()))));
        assertThat(o.dialFailure()).as("the dialer refuses the certificate").isNotNull();
        System.out.println("a validly signed wrong fingerprint: " + o.dialFailure().getMessage());
        assertThat(opened).as("no connection reached either side").isEmpty();
    }

    @Test
    void replayedCandidateIsRefused() throws Exception {
        List<String> seen = new ArrayList<>();
        Outcome o = run(json -> {
            if (json.contains("\"type\":\"candidate\"")) {
                if (!seen.isEmpty()) {
                    return seen.get(0); // the first candidate again, in place of the next one
                }
                seen.add(json);
            }
            return json;
        }, UnaryOperator.identity());
        // The replay either arrives (refused as out of order) or ICE was already done with one candidate.
        if (seen.size() == 1 && o.answerFailure() != null) {
            assertThat(o.answerFailure()).isInstanceOf(TransportException.ProtocolViolation.class)
                    .hasMessageContaining("replay");
        }
        assertThat(seen).isNotEmpty();
    }

    @Test
    void offerToAnotherNodeIsRejectedWithTheRejectersIdentity() throws Exception {
        PipeSignaling[] pipe = PipeSignaling.pair(UnaryOperator.identity(), UnaryOperator.identity());
        CompletableFuture<WebRtcConnection> answered = WebRtcPeer.answer(listener, pipe[1]);
        CompletableFuture<WebRtcConnection> dialed = WebRtcPeer.dial(dialer, pipe[0], attacker.peerId(),
                Duration.ofSeconds(8));
        Throwable f = outcome(dialed);
        assertThat(outcome(answered)).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
        assertThat(f).isInstanceOf(TransportException.PeerAuthenticationFailed.class);
        TransportException.PeerAuthenticationFailed refused = (TransportException.PeerAuthenticationFailed) f;
        assertThat(refused.expected()).isEqualTo(attacker.peerId());
        assertThat(refused.presented()).isEqualTo(listenerId.peerId());
    }

    private static RTCStats stats(RTCStatsType type, String id, Map<String, Object> attributes) {
        return new RTCStats(0, type, id, attributes) {
        };
    }

    @Test
    void negotiatedCertificateMustBeTheSignedOne() throws Exception {
        String signed = "sha-256 " + "AB:".repeat(31) + "CD";
        Map<String, RTCStats> report = new HashMap<>();
        report.put("T", stats(RTCStatsType.TRANSPORT, "T", Map.of("dtlsState", "connected",
                "remoteCertificateId", "C")));
        report.put("C", stats(RTCStatsType.CERTIFICATE, "C", Map.of("fingerprintAlgorithm", "sha-256",
                "fingerprint", "ab:".repeat(31) + "cd")));
        assertThat(WebRtcPeer.negotiatedFingerprint(report, signed, listenerId.peerId())).isEqualToIgnoringCase(signed);

        report.put("C", stats(RTCStatsType.CERTIFICATE, "C", Map.of("fingerprintAlgorithm", "sha-256",
                "fingerprint", "AB:".repeat(31) + "CE")));
        assertThatThrownBy(() -> WebRtcPeer.negotiatedFingerprint(report, signed, listenerId.peerId()))
                .isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining("is not the one").hasMessageContaining(listenerId.peerId().toString());

        report.remove("C");
        assertThatThrownBy(() -> WebRtcPeer.negotiatedFingerprint(report, signed, listenerId.peerId()))
                .isInstanceOf(TransportException.PeerAuthenticationFailed.class)
                .hasMessageContaining("no remote DTLS certificate");
    }

    @Test
    void signalRoundTripsAndBindsEveryField() throws Exception {
        Signal s = Signal.signed(dialerId, Signal.Type.CANDIDATE, "AAAAAAAAAAAAAAAAAAAAAA", listenerId.peerId(), 3,
                "0\n0\ncandidate:1 1 udp 1 127.0.0.1 5000 typ host");
        Signal back = Signal.parse(s.toJson(), 65536);
        assertThat(back.verifies()).isTrue();
        assertThat(back.body()).isEqualTo(s.body());
        assertThat(new Signal(back.type(), back.session(), back.from(), back.to(), 4, back.body(),
                back.signature()).verifies()).as("another seq").isFalse();
        assertThat(new Signal(back.type(), "BAAAAAAAAAAAAAAAAAAAAA", back.from(), back.to(), 3, back.body(),
                back.signature()).verifies()).as("another session").isFalse();
        assertThat(new Signal(back.type(), back.session(), back.from(), attacker.peerId(), 3, back.body(),
                back.signature()).verifies()).as("another receiver").isFalse();
        assertThat(new Signal(Signal.Type.OFFER, back.session(), back.from(), back.to(), 3, back.body(),
                back.signature()).verifies()).as("another type").isFalse();
        assertThatThrownBy(() -> Signal.parse(s.toJson().replace("\"v\":1", "\"v\":2"), 65536))
                .isInstanceOf(TransportException.ProtocolViolation.class);
        assertThatThrownBy(() -> Signal.parse("{\"v\":1,\"v\":1}", 65536))
                .isInstanceOf(TransportException.ProtocolViolation.class).hasMessageContaining("duplicate");
        assertThatThrownBy(() -> Signal.parse(s.toJson(), 100))
                .isInstanceOf(TransportException.ProtocolViolation.class).hasMessageContaining("maxSignalingMessage");
    }
}
