package io.kizuna.examples.unix.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration of the Unix domain socket transport (PID {@value UnixTransport#PID}). */
@ObjectClassDefinition(name = "Kizuna example: Unix domain socket transport",
        description = "Peers on one host over Unix domain sockets, TLS 1.3 bound to the node keys")
@interface UnixConfig {

    @AttributeDefinition(name = "Socket directory",
            description = "Where the sockets live: unix://127.0.0.1:<n> is the socket <directory>/<n>.sock. "
                    + "Nodes that talk must name the same directory. Empty: kizuna-unix-<user> in the "
                    + "system's temporary directory. Created owner-only; refused when another user owns it "
                    + "or group or others may write to it")
    String directory() default "";

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred (tcp has 100)")
    int kizuna_transport_priority() default UnixSettings.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Accept backlog", description = "listen(2) backlog of listening sockets")
    int backlog() default UnixSettings.DEFAULT_BACKLOG;

    @AttributeDefinition(name = "Maximum connections",
            description = "Open connections in both directions, handshakes included; more inbound ones are "
                    + "closed at once, more dials fail with a limit error")
    int maxConnections() default UnixSettings.DEFAULT_MAX_CONNECTIONS;

    @AttributeDefinition(name = "Connect timeout (ms)", description = "Connect timeout per endpoint")
    int connectTimeoutMillis() default UnixSettings.DEFAULT_CONNECT_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Handshake timeout (ms)", description = "TLS handshake timeout, both directions")
    int handshakeTimeoutMillis() default UnixSettings.DEFAULT_HANDSHAKE_TIMEOUT_MILLIS;

    @AttributeDefinition(name = "Write high-water mark (bytes)",
            description = "A write completes only once fewer bytes than this wait to be sent")
    int writeHighWaterMark() default UnixSettings.DEFAULT_WRITE_HIGH_WATER_MARK;

    @AttributeDefinition(name = "Write low-water mark (bytes)",
            description = "A held-back write completes once the bytes waiting drop below this")
    int writeLowWaterMark() default UnixSettings.DEFAULT_WRITE_LOW_WATER_MARK;

    @AttributeDefinition(name = "Read queue (bytes)",
            description = "Bytes read ahead of the application per connection")
    int readQueueBytes() default UnixSettings.DEFAULT_READ_QUEUE_BYTES;

    @AttributeDefinition(name = "I/O threads", description = "Event-loop threads; 0 picks min(2, processors)")
    int ioThreads() default 0;

    @AttributeDefinition(name = "Close timeout (ms)",
            description = "How long a graceful close waits for its close_notify to be sent")
    int closeTimeoutMillis() default UnixSettings.DEFAULT_CLOSE_TIMEOUT_MILLIS;
}
