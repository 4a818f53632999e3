package io.kizuna.core.internal.memory;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Configuration of the in-memory transport (PID {@value MemoryTransport#PID}).
 * The transport exists only while this configuration does.
 */
@ObjectClassDefinition(name = "Kizuna in-memory transport",
        description = "A transport inside this JVM, without sockets, for tests; present only when configured")
@interface MemoryConfig {

    @AttributeDefinition(name = "Priority",
            description = "Preference among transports that can reach a peer; higher is preferred")
    int kizuna_transport_priority() default MemoryTransport.DEFAULT_PRIORITY;

    @AttributeDefinition(name = "Pipe capacity (bytes)",
            description = "Bytes buffered each way per connection; a writer waits while its pipe is full")
    int pipeCapacity() default MemoryTransport.DEFAULT_PIPE_CAPACITY;

    @AttributeDefinition(name = "Maximum connections",
            description = "Open connections of this transport, both directions; more dials fail with a limit error")
    int maxConnections() default MemoryTransport.DEFAULT_MAX_CONNECTIONS;
}
