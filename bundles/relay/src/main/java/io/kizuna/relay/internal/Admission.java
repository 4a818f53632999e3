package io.kizuna.relay.internal;

import java.time.Instant;
import java.util.Locale;
import java.util.Set;

import io.kizuna.transport.PeerId;
import io.kizuna.transport.TransportException.RelayFailed;

/**
 * Who may use the relay: everyone ({@code open}), the PeerIds of an allowlist
 * ({@code allowlist}), or holders of a valid token from a trusted issuer
 * ({@code token}; allowlisted peers need none). A token's quota narrows the
 * limits of the holder's circuits.
 */
final class Admission {

    /** The policy. */
    enum Policy {
        OPEN, ALLOWLIST, TOKEN;

        static Policy parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("admission '" + s + "' is not one of open, allowlist, token");
            }
        }
    }

    /** The outcome: admitted with a quota, or refused with a reason. */
    record Decision(Quota quota, RelayFailed.Reason refusal, String why) {
        boolean admitted() {
            return refusal == null;
        }
    }

    private final Policy policy;
    private final Set<PeerId> allowed;
    private final Set<PeerId> issuers;

    Admission(Policy policy, Set<PeerId> allowed, Set<PeerId> issuers) {
        this.policy = policy;
        this.allowed = Set.copyOf(allowed);
        this.issuers = Set.copyOf(issuers);
    }

    Policy policy() {
        return policy;
    }

    /**
     * @param peer  the authenticated peer
     * @param token its token bytes, possibly empty
     * @param now   the time to check expiry against
     * @return the decision
     */
    Decision check(PeerId peer, byte[] token, Instant now) {
        Quota quota = Quota.UNLIMITED;
        boolean tokenValid = false;
        if (token.length > 0) {
            try {
                RelayToken t = RelayToken.decode(token);
                if (!issuers.contains(t.issuer())) {
                    return refuse(RelayFailed.Reason.BAD_TOKEN, "the token's issuer " + t.issuer()
                            + " is not trusted by this relay");
                }
                if (!t.subject().equals(peer)) {
                    return refuse(RelayFailed.Reason.BAD_TOKEN, "the token was issued to " + t.subject()
                            + ", not to " + peer);
                }
                if (!now.isBefore(t.notAfter())) {
                    return refuse(RelayFailed.Reason.BAD_TOKEN, "the token expired at " + t.notAfter());
                }
                quota = new Quota(t.maxBytes(), t.maxSeconds(), t.rate());
                tokenValid = true;
            } catch (RelayToken.Invalid e) {
                return refuse(RelayFailed.Reason.BAD_TOKEN, e.getMessage());
            }
        }
        return switch (policy) {
            case OPEN -> new Decision(quota, null, "open");
            case ALLOWLIST -> allowed.contains(peer) ? new Decision(quota, null, "allowlisted")
                    : refuse(RelayFailed.Reason.NOT_ADMITTED, peer + " is not on this relay's allowlist");
            case TOKEN -> allowed.contains(peer) || tokenValid ? new Decision(quota, null, "token")
                    : refuse(RelayFailed.Reason.NOT_ADMITTED, "this relay admits peers with a token from "
                            + issuers.size() + " trusted issuer(s); " + peer + " presented none");
        };
    }

    private static Decision refuse(RelayFailed.Reason reason, String why) {
        return new Decision(null, reason, why);
    }
}
