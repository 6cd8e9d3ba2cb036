package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

class BatchNormTest {
    /**
     * Fast against reference: both sum in double (per-chunk partials vs one running sum), then
     * round the statistics to fp32, so they differ by an ulp or so of mean and invStd; through
     * y = gamma (x - mean) invStd + beta that is a few 1e-7 on O(1) outputs.
     */
    static final double ATOL = 1e-5, RTOL = 1e-5;

    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradientThroughBatchStatistics() {
        int B = 6, C = 4;
        SplittableRandom rng = new SplittableRandom(31);
        float[] x = uniform(rng, B * C, -2, 2), gamma = uniform(rng, C, 0.5f, 1.5f), beta = uniform(rng, C, -1, 1);
        float[] y = new float[B * C], mean = new float[C], invStd = new float[C], runMean = new float[C], runVar = filled(C, 1);
        float[] dx = new float[B * C], dGamma = new float[C], dBeta = new float[C];
        GradCheck gc = new GradCheck(32);
        float[] dy = gc.output("y", y, B * C);
        gc.wrt("x", x, dx, B * C).wrt("gamma", gamma, dGamma, C).wrt("beta", beta, dBeta, C);
        gc.run(() -> BatchNorm.forwardRef(y, mean, invStd, x, gamma, beta, runMean, runVar, B, C, true, 0.9f, 1e-5f),
               () -> BatchNorm.backwardRef(dx, dGamma, dBeta, dy, mean, invStd, x, gamma, B, C)).assertOk();
    }

    /** One channel of 1, 2, 3, 4 by hand: mean 2.5, biased variance 1.25, unbiased 5/3. */
    @Test
    void statisticsByHand() {
        float[] x = {1, 2, 3, 4}, y = new float[4], mean = new float[1], invStd = new float[1];
        float[] runMean = {0f}, runVar = {1f};
        BatchNorm.forwardRef(y, mean, invStd, x, new float[] {2f}, new float[] {0.5f}, runMean, runVar, 4, 1, true, 0.9f, 0f);
        assertEquals(2.5f, mean[0]);
        assertEquals(1 / Math.sqrt(1.25), invStd[0], 1e-7);
        assertEquals(0.1 * 2.5, runMean[0], 1e-7);
        assertEquals(0.9 + 0.1 * 5.0 / 3.0, runVar[0], 1e-6);
        assertEquals(2 * (1 - 2.5) / Math.sqrt(1.25) + 0.5, y[0], 1e-6);

        // inference: the running statistics normalise and are reported as mean / invStd; nothing updates
        float rm = runMean[0], rv = runVar[0];
        BatchNorm.forwardRef(y, mean, invStd, x, new float[] {2f}, new float[] {0.5f}, runMean, runVar, 4, 1, false, 0.9f, 0f);
        assertEquals(rm, mean[0]);
        assertEquals(1 / Math.sqrt(rv), invStd[0], 1e-7);
        assertEquals(rm, runMean[0]);
        assertEquals(rv, runVar[0]);
        assertEquals(2 * (4 - rm) / Math.sqrt(rv) + 0.5, y[3], 1e-6);
    }

    @Test
    void fastMatchesReferenceTraining() {
        int B = 403, C = 61;
        assertEquals(THREADS, th.chunksFor(B, BatchNorm.rowGrain(C)));
        parity(B, 512, C, true, 33);
    }

    @Test
    void fastMatchesReferenceInference() {
        parity(403, 512, 61, false, 34);
    }

    @Test
    void fastMatchesReferenceSmallBatch() {
        parity(3, 16, 5, true, 35);
    }

    private static void parity(int B, int planned, int C, boolean training, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = uniformPoisoned(rng, B * C, planned * C, -3, 5);
        float[] gamma = uniform(rng, C, 0.5f, 1.5f), beta = uniform(rng, C, -1, 1);
        float[] runMean0 = uniform(rng, C, -1, 1), runVar0 = uniform(rng, C, 0.5f, 2);
        float[] dy = uniformPoisoned(rng, B * C, planned * C, -1, 1);
        float[][] ref = run(false, x, gamma, beta, runMean0, runVar0, dy, B, planned, C, training);
        float[][] fast = run(true, x, gamma, beta, runMean0, runVar0, dy, B, planned, C, training);
        String[] names = {"y", "mean", "invStd", "runMean", "runVar", "dx", "dGamma (+=)", "dBeta (+=)"};
        int[] valid = {B * C, C, C, C, C, B * C, C, C};
        for (int k = 0; k < names.length; k++) {
            if (!training && k >= 5) break;
            assertClose(names[k], ref[k], fast[k], 0, valid[k], ATOL, RTOL);
        }
        assertFinite("y", fast[0], 0, B * C);
        assertPoisoned("y past B", fast[0], B * C, planned * C);
        if (training) assertPoisoned("dx past B", fast[5], B * C, planned * C);
    }

    /**
     * Forward (and backward when training) on fresh buffers. The fast path's parameter gradients
     * start at 0.5 / -0.25, the reference's at 0 with those values added after, which checks +=.
     */
    private static float[][] run(boolean fast, float[] x, float[] gamma, float[] beta, float[] runMean0, float[] runVar0, float[] dy,
                                 int B, int planned, int C, boolean training) {
        float[] y = poisoned(planned * C), mean = new float[C], invStd = new float[C];
        float[] runMean = runMean0.clone(), runVar = runVar0.clone();
        float[] dx = poisoned(planned * C), dGamma = filled(C, 0.5f), dBeta = filled(C, -0.25f);
        if (fast) {
            BatchNorm.forward(th, y, mean, invStd, x, gamma, beta, runMean, runVar, B, C, training, 0.99f, 1e-5f);
            if (training) BatchNorm.backward(th, dx, dGamma, dBeta, dy, mean, invStd, x, gamma, B, C);
        } else {
            float[] dGammaRef = new float[C], dBetaRef = new float[C];
            BatchNorm.forwardRef(y, mean, invStd, x, gamma, beta, runMean, runVar, B, C, training, 0.99f, 1e-5f);
            if (training) BatchNorm.backwardRef(dx, dGammaRef, dBetaRef, dy, mean, invStd, x, gamma, B, C);
            for (int c = 0; c < C; c++) {
                dGamma[c] = dGammaRef[c] + 0.5f;
                dBeta[c] = dBetaRef[c] - 0.25f;
            }
        }
        return new float[][] {y, mean, invStd, runMean, runVar, dx, dGamma, dBeta};
    }
}
