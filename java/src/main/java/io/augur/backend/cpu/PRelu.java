package io.augur.backend.cpu;

/**
 * Parametric ReLU with one slope per channel.
 * <pre>
 *   forward:  y[r, c] = x > 0 ? x : alpha_c x
 *   backward: dx = (x > 0 ? 1 : alpha_c) dy                  (=)
 *             dAlpha_c += sum_r (x > 0 ? 0 : x) dy            (+=)
 * y, x, dy, dx (B, C)     alpha, dAlpha (C)
 * </pre>
 * The fast path reduces dAlpha with per-chunk partial sums added in chunk order.
 */
final class PRelu {
    private PRelu() {}

    // ================================================================== reference (the spec)

    static void forwardRef(float[] y, float[] x, float[] alpha, int B, int C) {
        for (int r = 0; r < B; r++) {
            for (int c = 0; c < C; c++) {
                int i = r * C + c;
                y[i] = x[i] > 0 ? x[i] : alpha[c] * x[i];
            }
        }
    }

    static void backwardRef(float[] dx, float[] dAlpha, float[] dy, float[] x, float[] alpha, int B, int C) {
        for (int c = 0; c < C; c++) {
            double sum = 0;
            for (int r = 0; r < B; r++) {
                int i = r * C + c;
                if (x[i] <= 0) sum += (double) x[i] * dy[i];
            }
            dAlpha[c] += (float) sum;
        }
        for (int r = 0; r < B; r++) {
            for (int c = 0; c < C; c++) {
                int i = r * C + c;
                dx[i] = x[i] > 0 ? dy[i] : alpha[c] * dy[i];
            }
        }
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] y, float[] x, float[] alpha, int B, int C) {
        th.parallelFor(B, BatchNorm.rowGrain(C), (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    float v = x[row + c];
                    y[row + c] = v > 0 ? v : alpha[c] * v;
                }
            }
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dAlpha, float[] dy, float[] x, float[] alpha, int B, int C) {
        if (B <= 0) return;
        int grain = BatchNorm.rowGrain(C);
        int chunks = th.chunksFor(B, grain);
        double[] part = CpuScratch.partials((chunks + 1) * C); // (chunks, C) partial sums of x dy over x <= 0
        th.parallelFor(B, grain, (k, lo, hi) -> {
            int p0 = k * C;
            java.util.Arrays.fill(part, p0, p0 + C, 0.0);
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    float v = x[row + c], g = dy[row + c];
                    if (v > 0) {
                        dx[row + c] = g;
                    } else {
                        dx[row + c] = alpha[c] * g;
                        part[p0 + c] += (double) v * g;
                    }
                }
            }
        });
        int tot = chunks * C;
        BatchNorm.sumChunks(part, chunks, C, tot);
        for (int c = 0; c < C; c++) dAlpha[c] += (float) part[tot + c];
    }
}
