package io.augur.backend;

import java.util.Map;

/**
 * An optional capability of a {@link Backend}: measuring itself for {@code augur bench}. A backend
 * that implements it (the CUDA backend) reports
 * <ul>
 *   <li>the device time of each op while op timing is on (CUDA: an event pair around each kernel
 *       launch, read after the step; a profiling mode, since the events cost a little);</li>
 *   <li>its peak device memory (CUDA: the arena's high-water mark, or total minus free);</li>
 *   <li>its own ceilings: a large fp32 GEMM and a device-to-device copy, measured on the device.</li>
 * </ul>
 * Without it, {@code augur bench} times each op on the host around the call ({@link OpTimer},
 * exact for a synchronous backend such as the CPU), reports peak device memory as "n/a on this
 * backend", and measures ceilings through {@link Backend#linear} and {@link Backend#addInto}.
 */
public interface Profiling {

    /** Starts (true) or stops (false) timing every op; times accumulate until {@link #resetOpStats}. */
    void setOpTiming(boolean on);

    /** Calls and seconds of device time per op (kernel) name since the last reset, in first-call order. */
    Map<String, OpStats> opStats();

    void resetOpStats();

    /** The most device memory in use since the last reset, in bytes; -1 when unknown. */
    long peakDeviceBytes();

    void resetPeakDeviceBytes();

    /** Measures the device's fp32 GEMM rate and copy bandwidth (takes a second or so). */
    default Ceilings measureCeilings() {
        return measureCeilings(false);
    }

    /**
     * Measures the device's fp32 GEMM rate and copy bandwidth; {@code quick} uses small sizes and
     * few rounds (a figure for smoke runs, below the device's true ceiling).
     */
    Ceilings measureCeilings(boolean quick);

    /** Calls and total seconds of one op. */
    record OpStats(long calls, double seconds) {}

    /**
     * Measured ceilings of a device.
     *
     * @param fp32FlopsPerS the best fp32 GEMM rate measured
     * @param bytesPerS     the best streaming bandwidth measured (bytes read + bytes written per second)
     * @param how           what was measured, in words (sizes, op)
     */
    record Ceilings(double fp32FlopsPerS, double bytesPerS, String how) {}
}
