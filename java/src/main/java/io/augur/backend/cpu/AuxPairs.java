package io.augur.backend.cpu;

/**
 * The packed input rows of DIEN's auxiliary network (see {@code Backend.auxPairs}).
 * <pre>
 *   for b &lt; B, 1 &lt;= t &lt; len_b, r = pairStart[b] + t - 1:
 *     forward:  out[2r]     = [h[b, t-1, :], pos[b, t, :]]
 *               out[2r + 1] = [h[b, t-1, :], neg[b, t, :]]
 *     backward: dH[b, t-1, :] += dOut[2r, :H] + dOut[2r + 1, :H]                  (+=)
 *               dPos[b, t, :] += dOut[2r, H:]                                      (+=)
 *               dNeg[b, t, :]  = dOut[2r + 1, H:]; 0 at t = 0 and t &gt;= len_b    (=)
 * out, dOut (2P, H + E)     h, dH (B, T, H)     pos, neg, dPos, dNeg (B, T, E)
 * pairStart, lengths (B); pairStart[b] = sum_{b' &lt; b} max(len_b' - 1, 0)
 * </pre>
 * Each sample owns its rows and its positions, so the fast path splits the samples and matches the
 * reference bit for bit.
 */
final class AuxPairs {
    private AuxPairs() {}

    static final int GRAIN_FLOATS = 16 * 1024;

    static int sampleGrain(int T, int H, int E) {
        return Math.max(1, GRAIN_FLOATS / Math.max(1, 2 * T * (H + E)));
    }

    /** The length of sample b, checked, and that pairStart packs the rows as documented. */
    static int checkSample(int[] pairStart, int[] lengths, int b, int T) {
        int len = SumPool.checkLength(lengths, b, T);
        int expected = b == 0 ? 0 : pairStart[b - 1] + Math.max(lengths[b - 1] - 1, 0);
        if (pairStart[b] != expected) {
            throw new IllegalArgumentException("aux pairs: pairStart[" + b + "] = " + pairStart[b] + ", expected " + expected
                    + " (the running sum of max(len - 1, 0))");
        }
        return len;
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] out, float[] h, float[] pos, float[] neg, int[] pairStart, int[] lengths, int B, int T, int H, int E) {
        forwardRows(out, h, pos, neg, pairStart, lengths, 0, B, T, H, E);
    }

    static void backwardRef(float[] dH, float[] dPos, float[] dNeg, float[] dOut, int[] pairStart, int[] lengths, int B, int T, int H, int E) {
        backwardRows(dH, dPos, dNeg, dOut, pairStart, lengths, 0, B, T, H, E);
    }

    private static void forwardRows(float[] out, float[] h, float[] pos, float[] neg, int[] pairStart, int[] lengths,
                                    int lo, int hi, int T, int H, int E) {
        int W = H + E;
        for (int b = lo; b < hi; b++) {
            int len = checkSample(pairStart, lengths, b, T);
            for (int t = 1; t < len; t++) {
                int r = pairStart[b] + t - 1;
                int click = 2 * r * W, noClick = click + W;
                int hPrev = (b * T + t - 1) * H, e = (b * T + t) * E;
                System.arraycopy(h, hPrev, out, click, H);
                System.arraycopy(pos, e, out, click + H, E);
                System.arraycopy(h, hPrev, out, noClick, H);
                System.arraycopy(neg, e, out, noClick + H, E);
            }
        }
    }

    private static void backwardRows(float[] dH, float[] dPos, float[] dNeg, float[] dOut, int[] pairStart, int[] lengths,
                                     int lo, int hi, int T, int H, int E) {
        int W = H + E;
        for (int b = lo; b < hi; b++) {
            int len = checkSample(pairStart, lengths, b, T);
            java.util.Arrays.fill(dNeg, b * T * E, (b * T + 1) * E, 0f);
            for (int t = 1; t < len; t++) {
                int r = pairStart[b] + t - 1;
                int click = 2 * r * W, noClick = click + W;
                int hPrev = (b * T + t - 1) * H, e = (b * T + t) * E;
                for (int c = 0; c < H; c++) dH[hPrev + c] += dOut[click + c] + dOut[noClick + c];
                for (int c = 0; c < E; c++) {
                    dPos[e + c] += dOut[click + H + c];
                    dNeg[e + c] = dOut[noClick + H + c];
                }
            }
            java.util.Arrays.fill(dNeg, (b * T + Math.max(len, 1)) * E, (b + 1) * T * E, 0f);
        }
    }

    /** Zeroes rows 2P to {@code rows} of out (W floats a row): the padding of a fixed-shape step. */
    static void zeroPadding(float[] out, int[] pairStart, int[] lengths, int B, int W, int rows) {
        int P = B == 0 ? 0 : pairStart[B - 1] + Math.max(lengths[B - 1] - 1, 0);
        if (rows > 2 * P) java.util.Arrays.fill(out, 2 * P * W, rows * W, 0f);
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] out, float[] h, float[] pos, float[] neg, int[] pairStart, int[] lengths,
                        int B, int T, int H, int E) {
        th.parallelFor(B, sampleGrain(T, H, E), (chunk, lo, hi) -> forwardRows(out, h, pos, neg, pairStart, lengths, lo, hi, T, H, E));
    }

    static void backward(CpuThreads th, float[] dH, float[] dPos, float[] dNeg, float[] dOut, int[] pairStart, int[] lengths,
                         int B, int T, int H, int E) {
        th.parallelFor(B, sampleGrain(T, H, E), (chunk, lo, hi) -> backwardRows(dH, dPos, dNeg, dOut, pairStart, lengths, lo, hi, T, H, E));
    }
}
