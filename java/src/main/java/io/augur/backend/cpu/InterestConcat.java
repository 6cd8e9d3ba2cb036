package io.augur.backend.cpu;

/**
 * Writes the interest block of the feature vector and splits its gradient.
 * <pre>
 *   forward:  x[b, off      : off +  E] = ea[b]
 *             x[b, off +  E : off + 2E] = s[b]
 *             x[b, off + 2E : off + 3E] = ea[b] * s[b]
 *             x[b, off + 3E : off + 3E + V] = v[b]              (only when v is non-null)
 *   backward: dEa = dx[ea] + dx[ea * s] * s                      (=)
 *             dS  = dx[s]  + dx[ea * s] * ea                     (=)
 *             dV  = dx[v]                                        (=, when dV is non-null)
 * x, dx (B, xStride)     ea, s, dEa, dS (B, E)     v, dV (B, V)
 * </pre>
 * Other columns of x are untouched. Elementwise per sample; the fast path splits the samples and
 * matches the reference bit for bit.
 */
final class InterestConcat {
    private InterestConcat() {}

    static final int GRAIN_FLOATS = 16 * 1024;

    static int sampleGrain(int E, int V) {
        return Math.max(1, GRAIN_FLOATS / Math.max(1, 3 * E + V));
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] x, float[] ea, float[] s, float[] v, int B, int E, int V, int xStride, int off) {
        forwardRows(x, ea, s, v, 0, B, E, V, xStride, off);
    }

    static void backwardRef(float[] dEa, float[] dS, float[] dV, float[] dx, float[] ea, float[] s, int B, int E, int V, int xStride, int off) {
        backwardRows(dEa, dS, dV, dx, ea, s, 0, B, E, V, xStride, off);
    }

    /** Samples [lo, hi) of the forward. */
    private static void forwardRows(float[] x, float[] ea, float[] s, float[] v, int lo, int hi, int E, int V, int xStride, int off) {
        for (int b = lo; b < hi; b++) {
            int o = b * xStride + off;
            for (int e = 0; e < E; e++) {
                float a = ea[b * E + e], si = s[b * E + e];
                x[o + e] = a;
                x[o + E + e] = si;
                x[o + 2 * E + e] = a * si;
            }
            if (v != null) System.arraycopy(v, b * V, x, o + 3 * E, V);
        }
    }

    /** Samples [lo, hi) of the backward. */
    private static void backwardRows(float[] dEa, float[] dS, float[] dV, float[] dx, float[] ea, float[] s, int lo, int hi,
                                     int E, int V, int xStride, int off) {
        for (int b = lo; b < hi; b++) {
            int o = b * xStride + off;
            for (int e = 0; e < E; e++) {
                int i = b * E + e;
                float dProd = dx[o + 2 * E + e];
                dEa[i] = dx[o + e] + dProd * s[i];
                dS[i] = dx[o + E + e] + dProd * ea[i];
            }
            if (dV != null) System.arraycopy(dx, o + 3 * E, dV, b * V, V);
        }
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] x, float[] ea, float[] s, float[] v, int B, int E, int V, int xStride, int off) {
        th.parallelFor(B, sampleGrain(E, V), (chunk, lo, hi) -> forwardRows(x, ea, s, v, lo, hi, E, V, xStride, off));
    }

    static void backward(CpuThreads th, float[] dEa, float[] dS, float[] dV, float[] dx, float[] ea, float[] s, int B, int E, int V, int xStride, int off) {
        th.parallelFor(B, sampleGrain(E, V), (chunk, lo, hi) -> backwardRows(dEa, dS, dV, dx, ea, s, lo, hi, E, V, xStride, off));
    }
}
