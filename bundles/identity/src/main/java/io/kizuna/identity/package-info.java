/**
 * A node's identity: its Ed25519 key, the {@link io.kizuna.transport.PeerId} that
 * is that key's public half, and the TLS material that proves it to peers.
 *
 * <p>This package is the contract between the identity bundle and the transports.
 * Every transport that speaks TLS builds its contexts from
 * {@link io.kizuna.identity.NodeIdentity#keyManager()} and
 * {@link io.kizuna.identity.NodeIdentity#trustManager()}, and after the handshake
 * reads the peer's PeerId with {@link io.kizuna.identity.PeerCertificates}.
 * {@link io.kizuna.identity.NodeIdentity#tlsEngine()} (1.2.0) says which TLS
 * implementation they should run it on.
 */
@Export
@Version("1.2.0")
package io.kizuna.identity;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
