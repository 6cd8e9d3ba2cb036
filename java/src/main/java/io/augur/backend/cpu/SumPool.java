package io.augur.backend.cpu;

import java.util.Arrays;

/**
 * Sum pooling over the valid positions of each sample.
 * <pre>
 *   forward:  out[b, :] = sum_{t < lengths[b]} x[b, t, :]
 *   backward: dx[b, t, :] = t < lengths[b] ? dOut[b, :] : 0      (=)
 * out, dOut (B, C)     x, dx (B, T, C)     lengths (B), 0 <= lengths[b] <= T
 * </pre>
 * Positions at or past the length are never read forward and are written as exact zeros
 * backward. The fast path splits the samples; each output row is summed by one thread in t order,
 * exactly as the reference.
 */
final class SumPool {
    private SumPool() {}

    /** Floats of x per chunk. */
    static final int GRAIN_FLOATS = 16 * 1024;

    static int sampleGrain(int T, int C) {
        return Math.max(1, GRAIN_FLOATS / Math.max(1, T * C));
    }

    static int checkLength(int[] lengths, int b, int T) {
        int len = lengths[b];
        if (len < 0 || len > T) throw new IllegalArgumentException("sum pool: length " + len + " of sample " + b + " outside [0, " + T + "]");
        return len;
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] out, float[] x, int[] lengths, int B, int T, int C) {
        for (int b = 0; b < B; b++) {
            int len = checkLength(lengths, b, T);
            for (int c = 0; c < C; c++) {
                float s = 0f;
                for (int t = 0; t < len; t++) s += x[(b * T + t) * C + c];
                out[b * C + c] = s;
            }
        }
    }

    static void backwardRef(float[] dx, float[] dOut, int[] lengths, int B, int T, int C) {
        for (int b = 0; b < B; b++) {
            int len = checkLength(lengths, b, T);
            for (int t = 0; t < T; t++) {
                for (int c = 0; c < C; c++) dx[(b * T + t) * C + c] = t < len ? dOut[b * C + c] : 0f;
            }
        }
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] out, float[] x, int[] lengths, int B, int T, int C) {
        th.parallelFor(B, sampleGrain(T, C), (chunk, lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int len = checkLength(lengths, b, T);
                int o = b * C;
                Arrays.fill(out, o, o + C, 0f);
                for (int t = 0; t < len; t++) {
                    int xi = (b * T + t) * C;
                    for (int c = 0; c < C; c++) out[o + c] += x[xi + c];
                }
            }
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dOut, int[] lengths, int B, int T, int C) {
        th.parallelFor(B, sampleGrain(T, C), (chunk, lo, hi) -> {
            for (int b = lo; b < hi; b++) {
                int len = checkLength(lengths, b, T);
                for (int t = 0; t < len; t++) System.arraycopy(dOut, b * C, dx, (b * T + t) * C, C);
                Arrays.fill(dx, (b * T + len) * C, (b + 1) * T * C, 0f);
            }
        });
    }
}
