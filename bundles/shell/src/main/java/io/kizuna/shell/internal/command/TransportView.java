package io.kizuna.shell.internal.command;

import java.util.Optional;

/**
 * What the {@code transports} command shows of one registered transport.
 *
 * @param name         the protocol name
 * @param priority     the priority, from the service property when it is set
 * @param available    whether it can be used now
 * @param reason       why it cannot, when it cannot
 * @param capabilities the summary of its capabilities
 * @param tls          the TLS engine it runs on, when it says
 */
record TransportView(String name, int priority, boolean available, Optional<String> reason, String capabilities,
        Optional<String> tls) {
}
