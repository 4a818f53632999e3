package io.kizuna.webrtc.internal;

import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import dev.onvoid.webrtc.CreateSessionDescriptionObserver;
import dev.onvoid.webrtc.PeerConnectionObserver;
import dev.onvoid.webrtc.RTCAnswerOptions;
import dev.onvoid.webrtc.RTCDataChannel;
import dev.onvoid.webrtc.RTCDataChannelInit;
import dev.onvoid.webrtc.RTCIceCandidate;
import dev.onvoid.webrtc.RTCOfferOptions;
import dev.onvoid.webrtc.RTCPeerConnection;
import dev.onvoid.webrtc.RTCPeerConnectionState;
import dev.onvoid.webrtc.RTCSdpType;
import dev.onvoid.webrtc.RTCSessionDescription;
import dev.onvoid.webrtc.RTCStats;
import dev.onvoid.webrtc.RTCStatsReport;
import dev.onvoid.webrtc.RTCStatsType;
import dev.onvoid.webrtc.SetSessionDescriptionObserver;
import io.kizuna.identity.NodeIdentity;
import io.kizuna.transport.ConnectionInfo.Direction;
import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException;

/**
 * One RTCPeerConnection to one peer: its signed negotiation (offer, answer,
 * trickled candidates), the check that DTLS used the certificate whose
 * fingerprint the peer signed, and its DataChannels.
 *
 * <p>Negotiation runs on the transport's loop thread; libwebrtc's callbacks hand
 * over to it. The connection is handed out only when the first DataChannel is open
 * and the remote DTLS certificate's fingerprint, read from the transport's stats,
 * equals the one in the SDP the peer signed: that binds the DataChannels to the
 * peer's PeerId.
 */
final class WebRtcPeer implements PeerConnectionObserver {

    private static final System.Logger LOG = System.getLogger(WebRtcPeer.class.getName());
    private static final SecureRandom RANDOM = new SecureRandom();
    /** The label of every DataChannel this transport opens. */
    static final String LABEL = "kizuna";

    private final WebRtcTransport transport;
    private final NodeIdentity identity;
    private final WebRtcSettings settings;
    private final ScheduledExecutorService loop;
    private final SignalingChannel signaling;
    private final Direction direction;
    /** For an answer to be refused once the offer names its session: why; null to answer. */
    private final TransportException.LimitExceeded refusal;
    private final InetSocketAddress localAddress;
    private final InetSocketAddress remoteAddress;
    private final CompletableFuture<WebRtcConnection> established = new CompletableFuture<>();
    private final Set<DataChannelStream> streams = ConcurrentHashMap.newKeySet();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();

    // loop-thread state
    private String session;
    private PeerId remote;
    private RTCPeerConnection pc;
    private DataChannelStream first;
    private WebRtcConnection connection;
    private long sendSeq;
    private long receiveSeq = -1;
    private boolean descriptionSent;
    private boolean remoteDescriptionSet;
    private final List<String> outgoingEarly = new ArrayList<>();
    private final List<RTCIceCandidate> incomingEarly = new ArrayList<>();
    private int candidatesReceived;
    private String signedFingerprint;
    private volatile int sendLimit;
    private boolean dtlsVerified;
    private volatile CandidatePair candidatePair;
    private volatile Duration rtt;
    private ScheduledFuture<?> timeout;
    private boolean closing;

    private WebRtcPeer(WebRtcTransport transport, SignalingChannel signaling, Direction direction, PeerId remote,
            TransportException.LimitExceeded refusal) {
        this.refusal = refusal;
        this.transport = transport;
        this.identity = transport.identity();
        this.settings = transport.settings();
        this.loop = transport.loop();
        this.signaling = signaling;
        this.direction = direction;
        this.remote = remote;
        this.localAddress = signaling.localAddress();
        this.remoteAddress = signaling.remoteAddress();
        this.sendLimit = settings.maxMessageSize();
        if (refusal == null) {
            transport.track(this); // a refusal holds no slot of maxConnections while it waits for the offer
        }
    }

    /**
     * Dials: sends a signed offer over {@code signaling} and completes once the
     * first DataChannel to {@code expected} is open and verified.
     */
    static CompletableFuture<WebRtcConnection> dial(WebRtcTransport transport, SignalingChannel signaling,
            PeerId expected, Duration timeout) {
        WebRtcPeer p = new WebRtcPeer(transport, signaling, Direction.OUTBOUND, expected, null);
        byte[] id = new byte[16];
        RANDOM.nextBytes(id);
        p.session = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
        transport.loop().execute(() -> p.startDial(timeout));
        return p.established;
    }

    /**
     * Answers: waits for a signed offer on {@code signaling} and completes once the
     * first DataChannel from the offering peer is open and verified.
     */
    static CompletableFuture<WebRtcConnection> answer(WebRtcTransport transport, SignalingChannel signaling) {
        return answer(transport, signaling, null);
    }

    /**
     * Answers, or with {@code refusal} set, refuses: waits for the offer and
     * answers it with a signed reject that carries the refusal's message, so the
     * dialer learns why; the result then fails with {@code refusal}.
     */
    static CompletableFuture<WebRtcConnection> answer(WebRtcTransport transport, SignalingChannel signaling,
            TransportException.LimitExceeded refusal) {
        WebRtcPeer p = new WebRtcPeer(transport, signaling, Direction.INBOUND, null, refusal);
        transport.loop().execute(() -> p.startAnswer(Duration.ofMillis(p.settings.handshakeTimeoutMillis())));
        return p.established;
    }

    // ------------------------------------------------------------------ accessors for streams

    PeerId remote() {
        return remote;
    }

    Direction direction() {
        return direction;
    }

    InetSocketAddress localAddress() {
        return localAddress;
    }

    InetSocketAddress remoteAddress() {
        return remoteAddress;
    }

    int sendLimit() {
        return sendLimit;
    }

    Optional<Duration> rtt() {
        return Optional.ofNullable(rtt);
    }

    /** @return the candidate pair ICE selected when the connection was set up, e.g. {@code srflx a:1 -> srflx b:2} */
    String candidatePair() {
        CandidatePair p = candidatePair;
        return p == null ? "(no candidate pair selected)" : p.toString();
    }

    /** @return the connection's path for {@code ConnectionInfo}: {@code ice srflx a:1 -> srflx b:2}, once known */
    Optional<String> path() {
        CandidatePair p = candidatePair;
        return p == null ? Optional.empty() : Optional.of("ice " + p);
    }

    /** @return the pair ICE has selected now, read from libwebrtc's stats */
    CompletableFuture<Optional<CandidatePair>> selectedCandidatePair() {
        CompletableFuture<Optional<CandidatePair>> f = new CompletableFuture<>();
        try {
            loop.execute(() -> {
                if (closing || pc == null) {
                    f.complete(Optional.empty());
                    return;
                }
                pc.getStats(report -> {
                    Optional<CandidatePair> p = selectedPair(report.getStats());
                    p.ifPresent(x -> candidatePair = x);
                    f.complete(p);
                });
            });
        } catch (RejectedExecutionException stopped) {
            f.complete(Optional.empty());
        }
        return f;
    }

    CompletableFuture<Void> closeFuture() {
        return closed;
    }

    // ------------------------------------------------------------------ negotiation (loop thread)

    private void startDial(Duration limit) {
        arm(limit);
        if (!createPeerConnection()) {
            return;
        }
        RTCDataChannel dc = pc.createDataChannel(LABEL, channelInit());
        first = newStream(dc);
        watchFirst();
        signaling.onMessage(m -> loop.execute(() -> onSignal(m)));
        signaling.closeFuture().thenRun(() -> loop.execute(this::signalingClosed));
        pc.createOffer(new RTCOfferOptions(), described(RTCSdpType.OFFER));
    }

    private void startAnswer(Duration limit) {
        arm(limit);
        signaling.onMessage(m -> loop.execute(() -> onSignal(m)));
        signaling.closeFuture().thenRun(() -> loop.execute(this::signalingClosed));
    }

    private void arm(Duration limit) {
        timeout = loop.schedule(() -> fail(new TransportException.ConnectionTimeout("WebRTC connection "
                + (direction == Direction.OUTBOUND ? "to " + remote : "from " + (remote == null ? "a peer" : remote))
                + " via " + remoteAddress + " (" + progress() + ")", limit)), limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    private String progress() {
        if (pc == null) {
            return "no offer received";
        }
        if (!remoteDescriptionSet) {
            return direction == Direction.OUTBOUND ? "no answer received" : "offer being answered";
        }
        return "ICE " + pc.getIceConnectionState() + ", connection " + pc.getConnectionState()
                + ", candidates received " + candidatesReceived;
    }

    private boolean createPeerConnection() {
        if (!transport.reservePeer()) {
            String why = "maxConnections=" + settings.maxConnections() + " WebRTC peer connections are open";
            reject(why);
            fail(new TransportException.LimitExceeded("maxConnections", settings.maxConnections(),
                    "WebRTC connection " + (remote == null ? "" : "with " + remote)));
            return false;
        }
        try {
            pc = transport.factory().createPeerConnection(transport.rtcConfiguration(), this);
        } catch (RuntimeException e) {
            transport.releasePeer();
            fail(new TransportException.WebRtcFailure("libwebrtc could not create a peer connection: "
                    + e.getMessage(), e));
            return false;
        }
        closed.whenComplete((v, e) -> transport.releasePeer());
        return true;
    }

    private static RTCDataChannelInit channelInit() {
        RTCDataChannelInit init = new RTCDataChannelInit();
        init.ordered = true;
        init.protocol = DataChannelStream.PROTOCOL;
        return init;
    }

    private CreateSessionDescriptionObserver described(RTCSdpType type) {
        return new CreateSessionDescriptionObserver() {
            @Override
            public void onSuccess(RTCSessionDescription d) {
                loop.execute(() -> {
                    if (closing) {
                        return;
                    }
                    pc.setLocalDescription(d, whenSet(() -> {
                        send(type == RTCSdpType.OFFER ? Signal.Type.OFFER : Signal.Type.ANSWER, d.sdp);
                        descriptionSent = true;
                        outgoingEarly.forEach(c -> send(Signal.Type.CANDIDATE, c));
                        outgoingEarly.clear();
                    }, "set the local " + type));
                });
            }

            @Override
            public void onFailure(String error) {
                loop.execute(() -> fail(new TransportException.WebRtcFailure("libwebrtc could not create the "
                        + type + ": " + error, null)));
            }
        };
    }

    private SetSessionDescriptionObserver whenSet(Runnable then, String what) {
        return new SetSessionDescriptionObserver() {
            @Override
            public void onSuccess() {
                loop.execute(() -> {
                    if (!closing) {
                        then.run();
                    }
                });
            }

            @Override
            public void onFailure(String error) {
                loop.execute(() -> fail(new TransportException.WebRtcFailure("libwebrtc could not " + what + ": "
                        + error, null)));
            }
        };
    }

    private void send(Signal.Type type, String body) {
        signaling.send(Signal.signed(identity, type, session, remote, sendSeq++, body).toJson());
    }

    private void reject(String reason) {
        if (session != null && remote != null) {
            send(Signal.Type.REJECT, reason);
        }
    }

    private void onSignal(String json) {
        if (closing) {
            return;
        }
        Signal s;
        try {
            s = Signal.parse(json, settings.maxSignalingMessage());
        } catch (TransportException.ProtocolViolation e) {
            fail(e);
            return;
        }
        if (!s.verifies()) {
            if (direction == Direction.INBOUND && s.type() == Signal.Type.OFFER && remote == null) {
                // Say so at once, signed: the dialer need not wait for its timeout.
                session = s.session();
                remote = s.from();
                receiveSeq = s.seq();
                reject("the offer's signature is not valid for " + s.from());
            }
            fail(new TransportException.PeerAuthenticationFailed(remote, null, "a signaling message (" + s
                    + ") carries no valid signature by " + s.from()));
            return;
        }
        if (!s.to().equals(identity.peerId())) {
            if (direction == Direction.INBOUND && s.type() == Signal.Type.OFFER && remote == null) {
                session = s.session();
                remote = s.from();
                receiveSeq = s.seq();
                reject("this node is " + identity.peerId() + ", not " + s.to());
            }
            fail(new TransportException.PeerAuthenticationFailed(s.to(), identity.peerId(),
                    "a signaling message addressed to another node"));
            return;
        }
        if (direction == Direction.OUTBOUND && !s.from().equals(remote)) {
            fail(new TransportException.PeerAuthenticationFailed(remote, s.from(),
                    "the " + s.type().wire() + " is signed by another node key"));
            return;
        }
        if (remote != null && !s.from().equals(remote)) {
            fail(new TransportException.PeerAuthenticationFailed(remote, s.from(),
                    "a signaling message of this session is signed by another node key"));
            return;
        }
        if (session != null && !s.session().equals(session)) {
            fail(new TransportException.ProtocolViolation("a signaling message of session " + s.session()
                    + " arrived in session " + session));
            return;
        }
        if (s.seq() <= receiveSeq) {
            fail(new TransportException.ProtocolViolation("signaling message " + s + " is a replay or out of "
                    + "order (last was #" + receiveSeq + ")"));
            return;
        }
        receiveSeq = s.seq();
        switch (s.type()) {
            case OFFER -> onOffer(s);
            case ANSWER -> onAnswer(s);
            case CANDIDATE -> onCandidate(s);
            case REJECT -> fail(new TransportException.ConnectionFailed("WebRTC peer " + s.from()
                    + " refused the connection: " + s.body(), null));
            default -> throw new IllegalStateException();
        }
    }

    private void onOffer(Signal s) {
        if (direction != Direction.INBOUND || pc != null) {
            fail(new TransportException.ProtocolViolation("unexpected offer " + s));
            return;
        }
        session = s.session();
        remote = s.from();
        if (refusal != null) {
            reject(refusal.getMessage());
            fail(refusal);
            return;
        }
        if (!takeFingerprint(s) || !createPeerConnection()) {
            return;
        }
        pc.setRemoteDescription(new RTCSessionDescription(RTCSdpType.OFFER, remoteSdp(s)), whenSet(() -> {
            remoteSet();
            pc.createAnswer(new RTCAnswerOptions(), described(RTCSdpType.ANSWER));
        }, "apply the peer's offer"));
    }

    private void onAnswer(Signal s) {
        if (direction != Direction.OUTBOUND || remoteDescriptionSet || signedFingerprint != null) {
            fail(new TransportException.ProtocolViolation("unexpected answer " + s));
            return;
        }
        if (!takeFingerprint(s)) {
            return;
        }
        pc.setRemoteDescription(new RTCSessionDescription(RTCSdpType.ANSWER, remoteSdp(s)),
                whenSet(this::remoteSet, "apply the peer's answer"));
    }

    /** The signed SDP without the candidates in it that the candidate filter refuses. */
    private String remoteSdp(Signal s) {
        return Sdp.withCandidates(s.body(), transport::candidateAllowed);
    }

    private boolean takeFingerprint(Signal s) {
        try {
            signedFingerprint = Sdp.fingerprint(s.body());
        } catch (IllegalArgumentException e) {
            fail(new TransportException.PeerAuthenticationFailed(remote, s.from(), e.getMessage()));
            return false;
        }
        Sdp.maxMessageSize(s.body()).ifPresent(max -> {
            if (max > 0) {
                sendLimit = Math.min(settings.maxMessageSize(), max);
            }
        });
        return true;
    }

    private void remoteSet() {
        remoteDescriptionSet = true;
        incomingEarly.forEach(pc::addIceCandidate);
        incomingEarly.clear();
    }

    private void onCandidate(Signal s) {
        if (++candidatesReceived > settings.maxCandidates()) {
            fail(new TransportException.LimitExceeded("maxCandidates", settings.maxCandidates(),
                    "ICE candidates from " + remote));
            return;
        }
        String[] parts = s.body().split("\n", 3);
        if (parts.length != 3 || !parts[0].matches("\\d{1,3}")) {
            fail(new TransportException.ProtocolViolation("malformed candidate signal " + s
                    + ": expected '<mline>\\n<mid>\\n<candidate>'"));
            return;
        }
        if (!transport.candidateAllowed(parts[2])) {
            LOG.log(System.Logger.Level.DEBUG, "ignoring remote candidate outside candidateNetworks: {0}", parts[2]);
            return;
        }
        RTCIceCandidate c = new RTCIceCandidate(parts[1], Integer.parseInt(parts[0]), parts[2]);
        if (remoteDescriptionSet) {
            pc.addIceCandidate(c);
        } else {
            incomingEarly.add(c);
        }
    }

    private void signalingClosed() {
        // Once the peer's description is in, ICE can finish without it (the peer closes it when it is up). The
        // listener can be up, and close it, while the dialer still applies the answer: libwebrtc reports the
        // answer applied on its own thread, so that report can reach the loop after the close.
        if (!established.isDone() && !closing && signedFingerprint == null) {
            fail(new TransportException.ConnectionFailed("the WebRTC signaling path to "
                    + (remote == null ? remoteAddress : remote) + " closed before the connection was up ("
                    + progress() + ")", null));
        }
    }

    /** Checks the DTLS certificate the transport actually negotiated against the signed fingerprint. */
    private void verifyDtls() {
        pc.getStats(report -> loop.execute(() -> checkStats(report)));
    }

    private void checkStats(RTCStatsReport report) {
        if (closing || dtlsVerified) {
            return;
        }
        Map<String, RTCStats> stats = report.getStats();
        selectedPair(stats).ifPresent(p -> candidatePair = p);
        try {
            String negotiated = negotiatedFingerprint(stats, signedFingerprint, remote);
            dtlsVerified = true;
            LOG.log(System.Logger.Level.INFO, "webrtc: {0} {1} over {2} (DTLS certificate {3} is the signed one)",
                    direction == Direction.OUTBOUND ? "connected to" : "accepted from", remote.shortForm(),
                    candidatePair(), negotiated);
            maybeEstablished();
        } catch (TransportException.PeerAuthenticationFailed e) {
            fail(e);
        }
    }

    /**
     * The check that binds the DataChannels to the PeerId: the remote DTLS
     * certificate libwebrtc negotiated (the transport stats' {@code remoteCertificateId},
     * its {@code certificate} stats' fingerprint) must be the one in the SDP the
     * peer signed.
     *
     * @param stats  a stats report of the peer connection
     * @param signed the fingerprint of the signed SDP, {@code sha-256 AB:...}
     * @param peer   the peer that signed it
     * @return the negotiated fingerprint
     * @throws TransportException.PeerAuthenticationFailed when there is none or it differs
     */
    static String negotiatedFingerprint(Map<String, RTCStats> stats, String signed, PeerId peer)
            throws TransportException.PeerAuthenticationFailed {
        String negotiated = null;
        for (RTCStats s : stats.values()) {
            if (s.getType() != RTCStatsType.TRANSPORT || !"connected".equals(s.getAttributes().get("dtlsState"))) {
                continue;
            }
            Object certId = s.getAttributes().get("remoteCertificateId");
            RTCStats cert = certId == null ? null : stats.get(certId.toString());
            if (cert == null) {
                continue;
            }
            String f = cert.getAttributes().get("fingerprintAlgorithm") + " "
                    + String.valueOf(cert.getAttributes().get("fingerprint")).toUpperCase(java.util.Locale.ROOT);
            if (negotiated != null && !negotiated.equals(f)) {
                throw new TransportException.PeerAuthenticationFailed(peer, null,
                        "libwebrtc reports two remote DTLS certificates");
            }
            negotiated = f;
        }
        if (negotiated == null) {
            throw new TransportException.PeerAuthenticationFailed(peer, null,
                    "libwebrtc reports no remote DTLS certificate to check against the signed fingerprint");
        }
        if (!negotiated.equalsIgnoreCase(signed)) {
            throw new TransportException.PeerAuthenticationFailed(peer, null, "the DTLS certificate used ("
                    + negotiated + ") is not the one " + peer + " signed (" + signed + ")");
        }
        return negotiated;
    }

    /** The transport's selected candidate pair in a stats report; also takes the pair's round-trip time. */
    private Optional<CandidatePair> selectedPair(Map<String, RTCStats> stats) {
        for (RTCStats t : stats.values()) {
            Object pairId = t.getType() == RTCStatsType.TRANSPORT ? t.getAttributes().get("selectedCandidatePairId")
                    : null;
            RTCStats pair = pairId == null ? null : stats.get(pairId.toString());
            if (pair == null) {
                continue;
            }
            Map<String, Object> a = pair.getAttributes();
            if (a.get("currentRoundTripTime") instanceof Number n) {
                rtt = Duration.ofNanos((long) (n.doubleValue() * 1e9));
            }
            RTCStats local = stats.get(String.valueOf(a.get("localCandidateId")));
            RTCStats remoteCandidate = stats.get(String.valueOf(a.get("remoteCandidateId")));
            if (local == null || remoteCandidate == null) {
                continue;
            }
            try {
                return Optional.of(new CandidatePair(type(local), address(local), type(remoteCandidate),
                        address(remoteCandidate)));
            } catch (IllegalArgumentException | NullPointerException e) {
                LOG.log(System.Logger.Level.DEBUG, "webrtc: unexpected candidate stats {0}", pair);
            }
        }
        return Optional.empty();
    }

    private static CandidatePair.Type type(RTCStats c) {
        return CandidatePair.Type.of(String.valueOf(c.getAttributes().get("candidateType")));
    }

    private static String address(RTCStats c) {
        Map<String, Object> a = c.getAttributes();
        Object ip = a.get("address") != null ? a.get("address") : a.get("ip");
        // libwebrtc does not reveal a remote peer-reflexive candidate's address in its stats
        String host = ip == null ? "?" : ip.toString().contains(":") ? "[" + ip + "]" : ip.toString();
        return host + ":" + a.get("port");
    }

    private void maybeEstablished() {
        if (established.isDone() || !dtlsVerified || first == null || !first.opened().isDone()
                || first.opened().isCompletedExceptionally()) {
            return;
        }
        timeout.cancel(false);
        connection = new WebRtcConnection(this, first);
        signaling.close();
        established.complete(connection);
    }

    private void fail(TransportException e) {
        if (established.isDone()) {
            if (!closing) {
                LOG.log(System.Logger.Level.WARNING, "WebRTC connection with {0} failed: {1}", remote, e.getMessage());
                close();
            }
            return;
        }
        LOG.log(System.Logger.Level.DEBUG, "WebRTC negotiation {0} failed: {1}", session, e.getMessage());
        established.completeExceptionally(e);
        close();
    }

    /**
     * Closes every stream and the peer connection, and then reports it closed, whatever
     * a step throws: the path the signaling went over may be gone (a relay transport
     * that stopped first throws from its streams' close), and the peer may be gone too.
     * libwebrtc's close does not wait for the peer.
     */
    void close() {
        try {
            loop.execute(() -> {
                if (closing) {
                    return;
                }
                closing = true;
                try {
                    if (timeout != null) {
                        timeout.cancel(false);
                    }
                    quietly("close the signaling path", signaling::close);
                    for (DataChannelStream s : new ArrayList<>(streams)) {
                        quietly("close " + s, () -> s.abort("the WebRTC connection closed"));
                    }
                    if (pc != null) {
                        quietly("close the peer connection", pc::close);
                    }
                } finally {
                    closed.complete(null);
                }
            });
        } catch (RejectedExecutionException stopped) {
            closed.complete(null); // the transport has stopped, and libwebrtc with it
        }
    }

    private void quietly(String what, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "WebRTC connection with {0}: could not {1}: {2}", remote, what,
                    e.toString());
        }
    }

    // ------------------------------------------------------------------ streams

    private DataChannelStream newStream(RTCDataChannel dc) {
        byte[] id = new byte[6];
        RANDOM.nextBytes(id);
        DataChannelStream s = new DataChannelStream(this, dc, loop, settings, "webrtc-" + HexFormat.of().formatHex(id));
        streams.add(s);
        return s;
    }

    void streamEnded(DataChannelStream s) {
        streams.remove(s);
        if (s == first) {
            close();
        }
    }

    /** Opens a further DataChannel; completes when it is open. */
    CompletableFuture<DataChannelStream> openStream() {
        CompletableFuture<DataChannelStream> f = new CompletableFuture<>();
        loop.execute(() -> {
            if (closing) {
                f.completeExceptionally(new TransportException.Io("the WebRTC connection to " + remote
                        + " is closed", null));
                return;
            }
            if (streams.size() >= settings.maxStreams()) {
                f.completeExceptionally(new TransportException.LimitExceeded("maxStreamsPerConnection",
                        settings.maxStreams(), "opening a DataChannel to " + remote.shortForm()));
                return;
            }
            DataChannelStream s = newStream(pc.createDataChannel(LABEL, channelInit()));
            s.opened().whenComplete((v, e) -> {
                if (e != null) {
                    f.completeExceptionally(e);
                } else {
                    f.complete(s);
                }
            });
        });
        return f;
    }

    // ------------------------------------------------------------------ libwebrtc callbacks (its threads)

    @Override
    public void onIceCandidate(RTCIceCandidate candidate) {
        Optional<String> announced = transport.announced(candidate.sdp);
        LOG.log(System.Logger.Level.DEBUG, "local candidate {0}: {1}", candidate.sdp,
                announced.map(a -> "announced as " + a).orElse("not announced"));
        if (announced.isEmpty()) {
            return;
        }
        String body = candidate.sdpMLineIndex + "\n" + candidate.sdpMid + "\n" + announced.get();
        loop.execute(() -> {
            if (closing) {
                return;
            }
            if (descriptionSent) {
                send(Signal.Type.CANDIDATE, body);
            } else {
                outgoingEarly.add(body);
            }
        });
    }

    @Override
    public void onConnectionChange(RTCPeerConnectionState state) {
        loop.execute(() -> {
            if (closing) {
                return;
            }
            switch (state) {
                case CONNECTED -> verifyDtls();
                case FAILED -> fail(new TransportException.WebRtcFailure("WebRTC connection with " + remote
                        + " failed: ICE found no working candidate pair, or DTLS refused the peer's certificate "
                        + "(one whose fingerprint is not the signed one); " + progress(), null));
                case CLOSED -> {
                    LOG.log(System.Logger.Level.DEBUG, "WebRTC connection with {0}: libwebrtc closed it", remote);
                    close();
                }
                default -> {
                }
            }
        });
    }

    @Override
    public void onDataChannel(RTCDataChannel dc) {
        // Register the stream's observer at once, on libwebrtc's thread, so no message is missed.
        DataChannelStream s = newStream(dc);
        loop.execute(() -> {
            if (closing) {
                s.abort("the WebRTC connection is closing");
            } else if (first == null && direction == Direction.INBOUND) {
                first = s;
                watchFirst();
            } else if (streams.size() > settings.maxStreams()) {
                LOG.log(System.Logger.Level.WARNING, "refusing a DataChannel from {0}: maxStreamsPerConnection={1}"
                        + " reached", remote.shortForm(), settings.maxStreams());
                s.abort("maxStreamsPerConnection reached");
            } else if (connection != null) {
                s.opened().whenComplete((v, e) -> {
                    if (e == null) {
                        connection.incoming(s);
                    }
                });
            } else {
                s.abort("a second DataChannel before the connection was established");
            }
        });
    }

    private void watchFirst() {
        first.opened().whenComplete((v, e) -> loop.execute(() -> {
            if (e != null) {
                fail(TransportException.unwrap(e));
            } else {
                maybeEstablished();
            }
        }));
    }
}
