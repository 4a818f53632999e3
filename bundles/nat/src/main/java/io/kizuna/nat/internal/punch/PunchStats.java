package io.kizuna.nat.internal.punch;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the punches this node took part in came to: those it started (as the
 * dialer of the relayed connection) and those it answered, the ones that ended
 * in a direct connection, and the failures by reason. {@code kizuna:netcheck}
 * prints it, and it is the MXBean {@code io.kizuna:type=Punch}.
 */
public final class PunchStats implements PunchStatsMXBean {

    /** Why a punch failed. */
    public enum Failure {
        /** Every round ran out without a probe answered (this side's or the peer's ABORT NO_PATH). */
        NO_PATH,
        /** A rate limit refused it, here or at the peer. */
        LIMIT,
        /** The peer had no candidate this side may probe, or this side none for it. */
        NO_CANDIDATES,
        /** The peer sent nothing in time. */
        PEER_SILENT,
        /** The punch stream closed or failed before the end. */
        STREAM_CLOSED,
        /** A message broke the protocol. */
        PROTOCOL_VIOLATION,
        /** The peer cancelled it. */
        CANCELLED,
        /** No punch stream could be opened over the connection to the peer. */
        NO_STREAM,
        /** No punch socket could be opened here. */
        SOCKET,
        /** A path was found, but the QUIC handshake over it failed. */
        QUIC_HANDSHAKE,
        /** Anything else. */
        OTHER;

        /** @return e.g. {@code no-path} */
        String label() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }
    }

    private final LongAdder started = new LongAdder();
    private final LongAdder answered = new LongAdder();
    private final LongAdder direct = new LongAdder();
    private final Map<Failure, LongAdder> failures = new EnumMap<>(Failure.class);

    /** Counters at zero. */
    public PunchStats() {
        for (Failure f : Failure.values()) {
            failures.put(f, new LongAdder());
        }
    }

    void started() {
        started.increment();
    }

    void answered() {
        answered.increment();
    }

    void direct() {
        direct.increment();
    }

    void failed(Failure why) {
        failures.get(why).increment();
    }

    @Override
    public long getStarted() {
        return started.sum();
    }

    @Override
    public long getAnswered() {
        return answered.sum();
    }

    @Override
    public long getDirect() {
        return direct.sum();
    }

    @Override
    public long getFailed() {
        return failures.values().stream().mapToLong(LongAdder::sum).sum();
    }

    @Override
    public Map<String, Long> getFailures() {
        Map<String, Long> out = new LinkedHashMap<>();
        failures.forEach((f, n) -> {
            if (n.sum() > 0) {
                out.put(f.label(), n.sum());
            }
        });
        return out;
    }

    /** @return e.g. {@code 3 started, 1 answered, 2 direct, 2 failed (no-path 1, limit 1)} */
    public String summary() {
        Map<String, Long> f = getFailures();
        return getStarted() + " started, " + getAnswered() + " answered, " + getDirect() + " direct, " + getFailed()
                + " failed" + (f.isEmpty() ? "" : " (" + String.join(", ", f.entrySet().stream()
                        .map(e -> e.getKey() + " " + e.getValue()).toList()) + ")");
    }
}
