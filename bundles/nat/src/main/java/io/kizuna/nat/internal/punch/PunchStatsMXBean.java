package io.kizuna.nat.internal.punch;

import java.util.Map;

/** The hole-punch counters over JMX, as {@code io.kizuna:type=Punch}. */
public interface PunchStatsMXBean {

    /** @return punches this node started, as the dialer of a relayed connection */
    long getStarted();

    /** @return punches a peer started and this node answered */
    long getAnswered();

    /** @return punches that ended in a direct connection (started) or a path (answered) */
    long getDirect();

    /** @return punches that failed, for any reason */
    long getFailed();

    /** @return the failures by reason ({@code no-path}, {@code limit}, ...), those that happened */
    Map<String, Long> getFailures();
}
