package io.augur.backend.cpu;

/**
 * Batch normalisation over the B rows, per channel, with an affine part.
 * <pre>
 *   training:  mean_c = (1/B) sum_r x[r, c]
 *              var_c  = (1/B) sum_r (x[r, c] - mean_c)^2          (biased, used to normalise)
 *              invStd_c = 1 / sqrt(var_c + eps)
 *              runMean = m runMean + (1 - m) mean
 *              runVar  = m runVar  + (1 - m) var B / (B - 1)     (unbiased; var itself when B = 1)
 *   inference: mean = runMean, invStd = 1 / sqrt(runVar + eps)   (written to mean / invStd)
 *   y[r, c] = gamma_c (x[r, c] - mean_c) invStd_c + beta_c
 *
 *   backward (training), with xhat = (x - mean) invStd:
 *              dBeta  += sum_r dy
 *              dGamma += sum_r dy xhat
 *              dx = gamma invStd (dy - (1/B) sum_r dy - xhat (1/B) sum_r dy xhat)     (=)
 * y, x, dy, dx (B, C)      mean, invStd, gamma, beta, runMean, runVar, dGamma, dBeta (C)
 * </pre>
 * The reference sums in double. The fast path splits the rows into chunks, keeps per-chunk
 * partial sums (double) in {@link CpuScratch} and adds them in chunk order, so its result does not
 * depend on thread timing. {@link Dice} shares the statistics code.
 */
final class BatchNorm {
    private BatchNorm() {}

    /** Elements per chunk of the row loops. */
    static final int MIN_CHUNK_ELEMS = 8 * 1024;

    static int rowGrain(int C) {
        return Math.max(1, MIN_CHUNK_ELEMS / Math.max(1, C));
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] y, float[] mean, float[] invStd, float[] x, float[] gamma, float[] beta, float[] runMean, float[] runVar,
                           int B, int C, boolean training, float momentum, float eps) {
        if (training) {
            if (B <= 0) return;
            statisticsRef(mean, invStd, x, runMean, runVar, B, C, momentum, eps);
        } else {
            inferenceStatistics(mean, invStd, runMean, runVar, C, eps);
        }
        for (int r = 0; r < B; r++) {
            for (int c = 0; c < C; c++) {
                int i = r * C + c;
                y[i] = (x[i] - mean[c]) * invStd[c] * gamma[c] + beta[c];
            }
        }
    }

    static void backwardRef(float[] dx, float[] dGamma, float[] dBeta, float[] dy, float[] mean, float[] invStd, float[] x, float[] gamma,
                            int B, int C) {
        if (B <= 0) return;
        for (int c = 0; c < C; c++) {
            double sumDy = 0, sumDyXhat = 0;
            for (int r = 0; r < B; r++) {
                int i = r * C + c;
                float xhat = (x[i] - mean[c]) * invStd[c];
                sumDy += dy[i];
                sumDyXhat += (double) dy[i] * xhat;
            }
            dBeta[c] += (float) sumDy;
            dGamma[c] += (float) sumDyXhat;
            float meanDy = (float) (sumDy / B), meanDyXhat = (float) (sumDyXhat / B);
            float scale = gamma[c] * invStd[c];
            for (int r = 0; r < B; r++) {
                int i = r * C + c;
                float xhat = (x[i] - mean[c]) * invStd[c];
                dx[i] = scale * (dy[i] - meanDy - xhat * meanDyXhat);
            }
        }
    }

    /**
     * Training statistics of x (B, C): writes mean and invStd and updates the running statistics.
     * Shared with {@link Dice#forwardRef}.
     */
    static void statisticsRef(float[] mean, float[] invStd, float[] x, float[] runMean, float[] runVar, int B, int C, float momentum, float eps) {
        for (int c = 0; c < C; c++) {
            double sum = 0;
            for (int r = 0; r < B; r++) sum += x[r * C + c];
            mean[c] = (float) (sum / B);
            double sq = 0;
            for (int r = 0; r < B; r++) {
                double d = (double) x[r * C + c] - mean[c];
                sq += d * d;
            }
            finishChannel(c, mean[c], sq / B, invStd, runMean, runVar, B, momentum, eps);
        }
    }

    /** invStd from the biased variance; running statistics from the unbiased one. */
    private static void finishChannel(int c, float mu, double var, float[] invStd, float[] runMean, float[] runVar,
                                      int B, float momentum, float eps) {
        invStd[c] = (float) (1.0 / Math.sqrt(var + eps));
        double unbiased = B > 1 ? var * B / (B - 1) : var;
        runMean[c] = (float) (momentum * (double) runMean[c] + (1 - momentum) * (double) mu);
        runVar[c] = (float) (momentum * (double) runVar[c] + (1 - momentum) * unbiased);
    }

    /** Inference: the running statistics become mean and invStd. Shared with {@link Dice}. */
    static void inferenceStatistics(float[] mean, float[] invStd, float[] runMean, float[] runVar, int C, float eps) {
        for (int c = 0; c < C; c++) {
            mean[c] = runMean[c];
            invStd[c] = (float) (1.0 / Math.sqrt((double) runVar[c] + eps));
        }
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] y, float[] mean, float[] invStd, float[] x, float[] gamma, float[] beta, float[] runMean, float[] runVar,
                        int B, int C, boolean training, float momentum, float eps) {
        if (training) {
            if (B <= 0) return;
            statistics(th, mean, invStd, x, runMean, runVar, B, C, momentum, eps);
        } else {
            inferenceStatistics(mean, invStd, runMean, runVar, C, eps);
        }
        th.parallelFor(B, rowGrain(C), (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) y[row + c] = (x[row + c] - mean[c]) * invStd[c] * gamma[c] + beta[c];
            }
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dGamma, float[] dBeta, float[] dy, float[] mean, float[] invStd, float[] x, float[] gamma,
                         int B, int C) {
        if (B <= 0) return;
        int grain = rowGrain(C);
        int chunks = th.chunksFor(B, grain);
        // part[k]: (sum dy, sum dy xhat) of chunk k, 2C doubles; then the totals after the last chunk
        double[] part = CpuScratch.partials((chunks + 1) * 2 * C);
        th.parallelFor(B, grain, (k, lo, hi) -> {
            int p0 = k * 2 * C, p1 = p0 + C;
            java.util.Arrays.fill(part, p0, p0 + 2 * C, 0.0);
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    float g = dy[row + c];
                    float xhat = (x[row + c] - mean[c]) * invStd[c];
                    part[p0 + c] += g;
                    part[p1 + c] += (double) g * xhat;
                }
            }
        });
        int tot = chunks * 2 * C;
        sumChunks(part, chunks, 2 * C, tot);
        for (int c = 0; c < C; c++) {
            dBeta[c] += (float) part[tot + c];
            dGamma[c] += (float) part[tot + C + c];
            part[tot + c] = (float) (part[tot + c] / B);         // mean dy
            part[tot + C + c] = (float) (part[tot + C + c] / B); // mean dy xhat
        }
        th.parallelFor(B, grain, (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    float xhat = (x[row + c] - mean[c]) * invStd[c];
                    float meanDy = (float) part[tot + c], meanDyXhat = (float) part[tot + C + c];
                    dx[row + c] = gamma[c] * invStd[c] * (dy[row + c] - meanDy - xhat * meanDyXhat);
                }
            }
        });
    }

    /** Fast training statistics: two passes (mean, then squared deviations), per-chunk partials in chunk order. */
    static void statistics(CpuThreads th, float[] mean, float[] invStd, float[] x, float[] runMean, float[] runVar,
                           int B, int C, float momentum, float eps) {
        int grain = rowGrain(C);
        int chunks = th.chunksFor(B, grain);
        double[] part = CpuScratch.partials((chunks + 1) * C);
        int tot = chunks * C;
        th.parallelFor(B, grain, (k, lo, hi) -> {
            int p0 = k * C;
            java.util.Arrays.fill(part, p0, p0 + C, 0.0);
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) part[p0 + c] += x[row + c];
            }
        });
        sumChunks(part, chunks, C, tot);
        for (int c = 0; c < C; c++) mean[c] = (float) (part[tot + c] / B);
        th.parallelFor(B, grain, (k, lo, hi) -> {
            int p0 = k * C;
            java.util.Arrays.fill(part, p0, p0 + C, 0.0);
            for (int r = lo; r < hi; r++) {
                int row = r * C;
                for (int c = 0; c < C; c++) {
                    double d = (double) x[row + c] - mean[c];
                    part[p0 + c] += d * d;
                }
            }
        });
        sumChunks(part, chunks, C, tot);
        for (int c = 0; c < C; c++) finishChannel(c, mean[c], part[tot + c] / B, invStd, runMean, runVar, B, momentum, eps);
    }

    /** part[tot + i] = sum over k in chunk order of part[k * width + i], for i in [0, width). */
    static void sumChunks(double[] part, int chunks, int width, int tot) {
        for (int i = 0; i < width; i++) {
            double s = 0;
            for (int k = 0; k < chunks; k++) s += part[k * width + i];
            part[tot + i] = s;
        }
    }
}
