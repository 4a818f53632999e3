/**
 * What the WebRTC transport tells beyond the transport API: the ICE path a
 * connection took.
 *
 * <p>Streams of the {@code webrtc} transport implement {@link io.kizuna.webrtc.IcePath}:
 * test a {@link io.kizuna.transport.Connection} with {@code instanceof} to learn
 * which candidate pair ICE selected (host, srflx, prflx or relay on each side).
 */
@Export
@Version("1.0.0")
package io.kizuna.webrtc;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
