package io.kizuna.tcp.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the TCP transport (PID {@value TcpTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna TCP transport",
        description = "TCP with TLS 1.3, mutually authenticated by node keys")
@interface TcpConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred")
    int kizuna_transport_priority() default TcpSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Accept backlog", description = "SO_BACKLOG of listening sockets")
    int backlog() default TcpSettings.DEFAULT_BACKLOG;

    @AttributeDefinition(name = "Maximum connections",
            description = "Open connections in both directions, handshakes included; more inbound ones are "
                    + "closed at once, more dials fail with a limit error")
    int maxConnections() default TcpSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Connect timeout (ms)", description = "TCP connect timeout per endpoint")
    int connectTimeoutMillis() default TcpSettings.DEFAULT_CONNECT_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Handshake timeout (ms)", description = "TLS handshake timeout, both directions")
    int handshakeTimeoutMillis() default TcpSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Write high-water mark (bytes)",
            description = "A write completes only once fewer bytes than this wait to be sent")
    int writeHighWaterMark() default TcpSettings.DEFAULT_WRITE_HIGH_WATER_MARK;

    @AttributeDefinition(name = "Write low-water mark (bytes)",
            description = "A held-back write completes once the bytes waiting drop below this")
    int writeLowWaterMark() default TcpSettings.DEFAULT_WRITE_LOW_WATER_MARK;

    @AttributeDefinition(name = "Read queue (bytes)",
            description = "Bytes read ahead of the application per connection; no more is read from the "
                    + "network until the application takes some")
    int readQueueBytes() default TcpSettings.DEFAULT_READ_QUEUE_BYTES;

    @AttributeDefinition(name = "TCP keep-alive", description = "SO_KEEPALIVE")
    boolean keepAlive() default true;

    @AttributeDefinition(name = "No delay", description = "TCP_NODELAY (disables Nagle's algorithm)")
    boolean noDelay() default true;

    @AttributeDefinition(name = "I/O threads", description = "Event-loop threads; 0 picks min(2, processors)")
    int ioThreads() default 0;

    @AttributeDefinition(name = "Close timeout (ms)",
            description = "How long a graceful close waits for its close_notify to be sent, and then for the "
                    + "peer's end while it drops what the peer still sends, before it closes the socket")
    int closeTimeoutMillis() default TcpSettings.DEFAULT_CLOSE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Epoll sockets",
            description = "Use Netty's epoll sockets where they load, which report each connection's RTT and "
                    + "bandwidth (TCP_INFO); NIO otherwise, without them. Off by default: with Netty 4.2.18 a write "
                    + "after the peer's FIN can fail on epoll")
    boolean epoll() default false;
}
