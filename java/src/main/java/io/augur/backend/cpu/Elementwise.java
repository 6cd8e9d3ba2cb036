package io.augur.backend.cpu;

/**
 * Small elementwise ops the DIEN family needs.
 * <pre>
 *   addInto:               y[i] += x[i]                                   i &lt; n
 *   scaleSequence:         out[b, t, :] = t &lt; len_b ? w[b, t] * x[b, t, :] : 0
 *   scaleSequenceBackward: dX[b, t, :]  = t &lt; len_b ? w[b, t] * dOut[b, t, :] : 0        (=)
 *                          dW[b, t]     = t &lt; len_b ? sum_c dOut[b, t, c] x[b, t, c] : 0  (=)
 * x, out, dX, dOut (B, T, C)     w, dW (B, T)     lengths (B)
 * </pre>
 * The fast paths split the index range (addInto) or the samples (the sequence ops) and run the
 * reference's loop on each part, so they match it bit for bit.
 */
final class Elementwise {
    private Elementwise() {}

    static final int GRAIN_FLOATS = 16 * 1024;

    static int sampleGrain(int T, int C) {
        return Math.max(1, GRAIN_FLOATS / Math.max(1, T * C));
    }

    // ================================================================== reference (the spec)

    static void addIntoRef(float[] y, float[] x, int n) {
        addRange(y, x, 0, n);
    }

    static void scaleSequenceRef(float[] out, float[] x, float[] w, int[] lengths, int B, int T, int C) {
        scaleRows(out, x, w, lengths, 0, B, T, C);
    }

    static void scaleSequenceBackwardRef(float[] dX, float[] dW, float[] dOut, float[] x, float[] w, int[] lengths, int B, int T, int C) {
        scaleBackwardRows(dX, dW, dOut, x, w, lengths, 0, B, T, C);
    }

    private static void addRange(float[] y, float[] x, int lo, int hi) {
        for (int i = lo; i < hi; i++) y[i] += x[i];
    }

    private static void scaleRows(float[] out, float[] x, float[] w, int[] lengths, int lo, int hi, int T, int C) {
        for (int b = lo; b < hi; b++) {
            int len = SumPool.checkLength(lengths, b, T);
            for (int t = 0; t < T; t++) {
                int o = (b * T + t) * C;
                if (t < len) {
                    float a = w[b * T + t];
                    for (int c = 0; c < C; c++) out[o + c] = a * x[o + c];
                } else {
                    java.util.Arrays.fill(out, o, o + C, 0f);
                }
            }
        }
    }

    private static void scaleBackwardRows(float[] dX, float[] dW, float[] dOut, float[] x, float[] w, int[] lengths,
                                          int lo, int hi, int T, int C) {
        for (int b = lo; b < hi; b++) {
            int len = SumPool.checkLength(lengths, b, T);
            for (int t = 0; t < T; t++) {
                int o = (b * T + t) * C;
                if (t < len) {
                    float a = w[b * T + t], g = 0f;
                    for (int c = 0; c < C; c++) {
                        float d = dOut[o + c];
                        dX[o + c] = a * d;
                        g += d * x[o + c];
                    }
                    dW[b * T + t] = g;
                } else {
                    java.util.Arrays.fill(dX, o, o + C, 0f);
                    dW[b * T + t] = 0f;
                }
            }
        }
    }

    // ================================================================== fast path

    static void addInto(CpuThreads th, float[] y, float[] x, int n) {
        th.parallelFor(n, GRAIN_FLOATS, (chunk, lo, hi) -> addRange(y, x, lo, hi));
    }

    static void scaleSequence(CpuThreads th, float[] out, float[] x, float[] w, int[] lengths, int B, int T, int C) {
        th.parallelFor(B, sampleGrain(T, C), (chunk, lo, hi) -> scaleRows(out, x, w, lengths, lo, hi, T, C));
    }

    static void scaleSequenceBackward(CpuThreads th, float[] dX, float[] dW, float[] dOut, float[] x, float[] w, int[] lengths,
                                      int B, int T, int C) {
        th.parallelFor(B, sampleGrain(T, C), (chunk, lo, hi) -> scaleBackwardRows(dX, dW, dOut, x, w, lengths, lo, hi, T, C));
    }
}
