package io.kizuna.transport;

import java.time.Duration;

/**
 * The figures of one perf run.
 *
 * @param peer          the peer measured against
 * @param protocol      the transport that carried the stream
 * @param uploadBytes   bytes sent
 * @param uploadTime    time from the first byte sent until the peer confirmed receipt
 * @param downloadBytes bytes received
 * @param downloadTime  time from the request until the last byte arrived
 */
public record PerfResult(PeerId peer, String protocol, long uploadBytes, Duration uploadTime, long downloadBytes,
        Duration downloadTime) {

    /** @return upload throughput in bits per second, 0 when nothing was sent */
    public double uploadBitsPerSecond() {
        return bitsPerSecond(uploadBytes, uploadTime);
    }

    /** @return download throughput in bits per second, 0 when nothing was received */
    public double downloadBitsPerSecond() {
        return bitsPerSecond(downloadBytes, downloadTime);
    }

    private static double bitsPerSecond(long bytes, Duration time) {
        long nanos = time.toNanos();
        return bytes == 0 || nanos == 0 ? 0 : bytes * 8e9 / nanos;
    }

    /**
     * Progress of a running perf.
     *
     * @param phase   {@code upload} or {@code download}
     * @param done    bytes moved so far in this phase
     * @param total   bytes this phase moves
     * @param elapsed time since the phase began
     */
    public record Progress(String phase, long done, long total, Duration elapsed) {
    }
}
