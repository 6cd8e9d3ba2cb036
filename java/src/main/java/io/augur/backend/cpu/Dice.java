package io.augur.backend.cpu;

/**
 * Dice, the data-adaptive activation of the DIN paper, per channel c:
 * <pre>
 *   z = (x - mean_c) invStd_c          statistics exactly as {@link BatchNorm} (no affine part)
 *   p = sigmoid(z)
 *   y = p x + (1 - p) alpha_c x
 *
 *   backward (training: y depends on every row through mean and invStd), per channel:
 *   dz_r   = dy_r x_r (1 - alpha) p_r (1 - p_r)
 *   dx_r   = dy_r (alpha + (1 - alpha) p_r)                                   direct term
 *          + invStd (dz_r - (1/B) sum_s dz_s - z_r (1/B) sum_s dz_s z_s)      through z    (=)
 *   dAlpha += sum_r dy_r x_r (1 - p_r)
 * y, x, dy, dx (B, C)     mean, invStd, alpha, runMean, runVar, dAlpha (C)
 * </pre>
 * dx must not alias dy or x (the fast backward keeps p in dx between its two passes).
 */
final class Dice {
    private Dice() {}

    // ================================================================== reference (the spec)

    static void forwardRef(float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean, float[] runVar,
                           int B, int C, boolean training, float momentum, float eps) {
        if (training) {
            if (B <= 0) return;
            BatchNorm.statisticsRef(mean, invStd, x, runMean, runVar, B, C, momentum, eps);
        } else {
            BatchNorm.inferenceStatistics(mean, invStd, runMean, runVar, C, eps);
        }
        for (int r = 0; r < B; r++) {
            for (int c = 0; c < C; c++) {
                int i = r * C + c;
                float p = Sigmoid.sigmoid((x[i] - mean[c]) * invStd[c]);
                y[i] = p * x[i] + (1 - p) * alpha[c] * x[i];
            }
        }
    }

    static void backwardRef(float[] dx, float[] dAlpha, float[] dy, float[] mean, float[] invStd, float[] x, float[] alpha, int B, int C) {
        checkNoAlias(dx, dy, x);
        if (B <= 0) return;
        for (int c = 0; c < C; c++) {
            float a = alpha[c];
            double sumDz = 0, sumDzZ = 0, sumDa = 0;
            for (int r = 0; r < B; r++) {
                int i = r * C + c;
                float z = (x[i] - mean[c]) * invStd[c];
                float p = Sigmoid.sigmoid(z);
                float dz = dy[i] * x[i] * (1 - a) * p * (1 - p);
                sumDz += dz;
                sumDzZ += (double) dz * z;
                sumDa += (double) dy[i] * x[i] * (1 - p);
            }
            dAlpha[c] += (float) sumDa;
            float meanDz = (float) (sumDz / B), meanDzZ = (float) (sumDzZ / B);
            for (int r = 0; r < B; r++) {
                int i = r * C + c;
                float z = (x[i] - mean[c]) * invStd[c];
                float p = Sigmoid.sigmoid(z);
                float dz = dy[i] * x[i] * (1 - a) * p * (1 - p);
                dx[i] = dy[i] * (a + (1 - a) * p) + invStd[c] * (dz - meanDz - z * meanDzZ);
            }
        }
    }

    private static void checkNoAlias(float[] dx, float[] dy, float[] x) {
        if (dx == dy || dx == x) throw new IllegalArgumentException("dice backward: dx must not alias dy or x");
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] y, float[] mean, float[] invStd, float[] x, float[] alpha, float[] runMean, float[] runVar,
                        int B, int C, boolean training, float momentum, float eps) {
        if (training) {
            if (B <= 0) return;
            BatchNorm.statistics(th, mean, invStd, x, runMean, runVar, B, C, momentum, eps);
        } else {
            BatchNorm.inferenceStatistics(mean, invStd, runMean, runVar, C, eps);
        }
        th.parallelFor(B, BatchNorm.rowGrain(C), (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    float xi = x[row + c];
                    float p = Sigmoid.sigmoid((xi - mean[c]) * invStd[c]);
                    y[row + c] = p * xi + (1 - p) * alpha[c] * xi;
                }
            }
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dAlpha, float[] dy, float[] mean, float[] invStd, float[] x, float[] alpha, int B, int C) {
        checkNoAlias(dx, dy, x);
        if (B <= 0) return;
        int grain = BatchNorm.rowGrain(C);
        int chunks = th.chunksFor(B, grain);
        // part[k]: (sum dz, sum dz z, sum dy x (1 - p)) of chunk k, 3C doubles; totals after the last chunk
        double[] part = CpuScratch.partials((chunks + 1) * 3 * C);
        // pass 1: the sums, and p kept in dx so that pass 2 needs no second exp
        th.parallelFor(B, grain, (k, lo, hi) -> {
            int p0 = k * 3 * C, p1 = p0 + C, p2 = p1 + C;
            java.util.Arrays.fill(part, p0, p0 + 3 * C, 0.0);
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    int i = row + c;
                    float a = alpha[c];
                    float z = (x[i] - mean[c]) * invStd[c];
                    float p = Sigmoid.sigmoid(z);
                    float dz = dy[i] * x[i] * (1 - a) * p * (1 - p);
                    part[p0 + c] += dz;
                    part[p1 + c] += (double) dz * z;
                    part[p2 + c] += (double) dy[i] * x[i] * (1 - p);
                    dx[i] = p;
                }
            }
        });
        int tot = chunks * 3 * C;
        BatchNorm.sumChunks(part, chunks, 3 * C, tot);
        for (int c = 0; c < C; c++) {
            dAlpha[c] += (float) part[tot + 2 * C + c];
            part[tot + c] = (float) (part[tot + c] / B);         // mean dz
            part[tot + C + c] = (float) (part[tot + C + c] / B); // mean dz z
        }
        // pass 2: dx from the kept p
        th.parallelFor(B, grain, (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    int i = row + c;
                    float a = alpha[c];
                    float z = (x[i] - mean[c]) * invStd[c];
                    float p = dx[i];
                    float dz = dy[i] * x[i] * (1 - a) * p * (1 - p);
                    float meanDz = (float) part[tot + c], meanDzZ = (float) part[tot + C + c];
                    dx[i] = dy[i] * (a + (1 - a) * p) + invStd[c] * (dz - meanDz - z * meanDzZ);
                }
            }
        });
    }
}
