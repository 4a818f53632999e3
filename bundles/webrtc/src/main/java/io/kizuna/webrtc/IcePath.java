package io.kizuna.webrtc;

import java.util.Optional;
import java.util.concurrent.CompletionStage;

import org.osgi.annotation.versioning.ProviderType;

/** A connection whose packets travel an ICE candidate pair (RFC 8445). */
@ProviderType
public interface IcePath {

    /**
     * Asks libwebrtc which candidate pair carries the connection now. ICE may
     * switch pairs during a connection's life, so each call reads it afresh.
     *
     * @return the selected pair, or empty when none is selected (the connection
     *         is closed or has lost its path)
     */
    CompletionStage<Optional<CandidatePair>> selectedCandidatePair();
}
