package io.kizuna.transport;

import java.net.InetSocketAddress;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

import org.osgi.annotation.versioning.ProviderType;

/**
 * NAT behaviour discovery for this node: what kind of NAT is in front of it and
 * the address peers see (the server-reflexive address), as STUN servers report
 * them. Registered by the NAT bundle when it is configured with STUN servers.
 */
@ProviderType
public interface NatTraversal {

    /**
     * Runs RFC 5780 behaviour discovery against the configured STUN servers.
     *
     * @return the NAT type; {@link NatType#UNKNOWN} when no server is configured or
     *         the servers cannot tell, {@link NatType#BLOCKED} when no server answers
     */
    CompletionStage<NatType> discoverNatType();

    /**
     * Asks the configured STUN servers for this node's reflexive address.
     *
     * @return the address peers outside the NAT see, empty when no server answered
     */
    CompletionStage<Optional<InetSocketAddress>> reflexiveAddress();
}
