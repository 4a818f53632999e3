/**
 * Kizuna's transport API: peers named by their public key, transports that
 * reach them, and the connection manager that picks among transports.
 *
 * <p>An application asks the {@link io.kizuna.transport.ConnectionManager} for a
 * stream to a {@link io.kizuna.transport.PeerAddress}; the manager chooses among
 * the {@link io.kizuna.transport.Transport} services registered in the framework
 * and returns an authenticated, encrypted {@link io.kizuna.transport.Connection}.
 * Applications receive incoming streams by registering a
 * {@link io.kizuna.transport.StreamHandler} service.
 */
@Export
@Version("1.6.0")
package io.kizuna.transport;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
