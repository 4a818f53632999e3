package io.kizuna.quic.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the QUIC transport (PID {@value QuicTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna QUIC transport",
        description = "QUIC (RFC 9000) with TLS 1.3, mutually authenticated by node keys; many streams per "
                + "connection")
@interface QuicConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred")
    int kizuna_transport_priority() default QuicSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Maximum connections",
            description = "Open QUIC connections in both directions, handshakes included; more inbound ones are "
                    + "closed with an error, more dials fail with a limit error")
    int maxConnections() default QuicSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Streams per connection",
            description = "Bidirectional streams the peer may have open on one connection at once")
    int maxStreamsPerConnection() default QuicSettings.DEFAULT_MAX_STREAMS;

    @AttributeDefinition(name = "Handshake timeout (ms)",
            description = "How long a dial may take to complete the QUIC and TLS handshake, per endpoint; "
                    + "and how long an accepted dialer has, from its first packet, to prove its key and open "
                    + "its first stream")
    int handshakeTimeoutMillis() default QuicSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Idle timeout (ms)",
            description = "A connection with no packets for this long is closed (QUIC max_idle_timeout)")
    int idleTimeoutMillis() default QuicSettings.DEFAULT_IDLE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Keep-alive (ms)",
            description = "A dialer sends an ack-eliciting keep-alive (a 1-byte QUIC DATAGRAM frame) this often, so "
                    + "NAT mappings stay open and, after a NAT gives it a new port, the listener learns the new "
                    + "address even when the dialer only receives; 0 turns it off. Must stay below the idle timeout")
    int keepAliveMillis() default QuicSettings.DEFAULT_KEEP_ALIVE_MILLIS;

    @AttributeDefinition(name = "Stream window (bytes)",
            description = "Flow-control window per stream: bytes a peer may send ahead of the application")
    int streamWindow() default QuicSettings.DEFAULT_STREAM_WINDOW;

    @AttributeDefinition(name = "Connection window (bytes)",
            description = "Flow-control window per connection, over all its streams")
    int connectionWindow() default QuicSettings.DEFAULT_CONNECTION_WINDOW;

    @AttributeDefinition(name = "Read queue (bytes)",
            description = "Bytes taken from a stream ahead of the application; beyond this the stream's flow "
                    + "control holds the peer back")
    int readQueueBytes() default QuicSettings.DEFAULT_READ_QUEUE_BYTES;

    @AttributeDefinition(name = "Congestion control", description = "What quiche offers: CUBIC, RENO or BBR")
    String congestionControl() default QuicSettings.DEFAULT_CONGESTION_CONTROL;

    @AttributeDefinition(name = "UDP receive buffer (bytes)",
            description = "SO_RCVBUF of each UDP socket; 0 keeps the kernel's default. A warning is logged when "
                    + "the kernel grants less (raise net.core.rmem_max)")
    int udpReceiveBuffer() default QuicSettings.DEFAULT_UDP_BUFFER;

    @AttributeDefinition(name = "UDP send buffer (bytes)",
            description = "SO_SNDBUF of each UDP socket; 0 keeps the kernel's default. A warning is logged when "
                    + "the kernel grants less (raise net.core.wmem_max)")
    int udpSendBuffer() default QuicSettings.DEFAULT_UDP_BUFFER;

    @AttributeDefinition(name = "Segmentation offload",
            description = "Send through Netty's epoll transport with UDP generic segmentation offload (GSO), so "
                    + "the kernel cuts one large send into packets; where epoll or GSO is not available, plain "
                    + "NIO sockets are used and the log says why")
    boolean segmentationOffload() default true;

    @AttributeDefinition(name = "Retry tokens",
            description = "Listeners answer a first Initial with a Retry carrying an address-bound token, so a "
                    + "spoofed source cannot make them do handshake work (costs one round trip)")
    boolean retry() default true;

    @AttributeDefinition(name = "Retry token lifetime (s)", description = "How long a Retry token is accepted")
    int retryTokenLifetimeSeconds() default QuicSettings.DEFAULT_TOKEN_LIFETIME_SECONDS;

    @AttributeDefinition(name = "0-RTT",
            description = "A dial to an endpoint whose peer proved its key before resumes its TLS session and "
                    + "completes at once, so its first bytes leave in the first flight. Then a dial can succeed "
                    + "before the listener has accepted it: a refusal shows as a failed first read or write. "
                    + "Listeners always allow 0-RTT but hand nothing to the application before the handshake "
                    + "completes, so a replayed flight reaches no application")
    boolean earlyData() default false;

    @AttributeDefinition(name = "I/O threads", description = "Event-loop threads; 0 picks min(2, processors)")
    int ioThreads() default 0;

    @AttributeDefinition(name = "Close timeout (ms)",
            description = "How long a graceful close waits for the peer to end its side before the connection "
                    + "is closed")
    int closeTimeoutMillis() default QuicSettings.DEFAULT_CLOSE_TIMEOUT_MILLIS;
}
