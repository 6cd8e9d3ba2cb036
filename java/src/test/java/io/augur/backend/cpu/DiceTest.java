package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DiceTest {
    /**
     * Fast against reference: the statistics differ by about an ulp (double sums in a different
     * order, rounded to fp32), and the fast backward reuses p from its first pass where the
     * reference recomputes it (same expression, same value). 1e-5 covers an ulp of drift through
     * the sigmoid and the normalisation on O(1) values.
     */
    static final double ATOL = 1e-5, RTOL = 1e-5;
    /** DESIGN.md §3: Dice's epsilon. */
    static final float EPS = 1e-8f;

    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradientThroughBatchStatistics() {
        int B = 6, C = 4;
        SplittableRandom rng = new SplittableRandom(41);
        float[] x = uniform(rng, B * C, -2, 2), alpha = uniform(rng, C, -0.5f, 0.5f);
        float[] y = new float[B * C], mean = new float[C], invStd = new float[C], runMean = new float[C], runVar = filled(C, 1);
        float[] dx = new float[B * C], dAlpha = new float[C];
        GradCheck gc = new GradCheck(42);
        float[] dy = gc.output("y", y, B * C);
        gc.wrt("x", x, dx, B * C).wrt("alpha", alpha, dAlpha, C);
        gc.run(() -> Dice.forwardRef(y, mean, invStd, x, alpha, runMean, runVar, B, C, true, 0.99f, EPS),
               () -> Dice.backwardRef(dx, dAlpha, dy, mean, invStd, x, alpha, B, C)).assertOk();
    }

    /** y = p x + (1 - p) alpha x with p the sigmoid of the standardised x; running statistics as BatchNorm. */
    @Test
    void forwardByHand() {
        float[] x = {-1, 0, 1, 4}, y = new float[4], mean = new float[1], invStd = new float[1];
        float[] runMean = {0f}, runVar = {1f};
        float alpha = 0.25f;
        Dice.forwardRef(y, mean, invStd, x, new float[] {alpha}, runMean, runVar, 4, 1, true, 0.99f, EPS);
        double mu = 1.0, var = (4 + 1 + 0 + 9) / 4.0;
        assertEquals(mu, mean[0], 1e-7);
        assertEquals(1 / Math.sqrt(var), invStd[0], 1e-6);
        for (int i = 0; i < 4; i++) {
            double p = 1 / (1 + Math.exp(-(x[i] - mu) / Math.sqrt(var)));
            assertEquals(p * x[i] + (1 - p) * alpha * x[i], y[i], 1e-6, "y[" + i + "]");
        }
        assertEquals(0.01 * mu, runMean[0], 1e-7);
        assertEquals(0.99 + 0.01 * var * 4 / 3, runVar[0], 1e-6);
    }

    @Test
    void backwardRejectsAliasing() {
        float[] a = new float[4], m = new float[1], s = {1f}, x = new float[4], al = new float[1], da = new float[1];
        assertThrows(IllegalArgumentException.class, () -> Dice.backward(th, a, da, a, m, s, x, al, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> Dice.backwardRef(x, da, a, m, s, x, al, 4, 1));
    }

    @Test
    void fastMatchesReferenceTraining() {
        int B = 403, C = 61;
        assertEquals(THREADS, th.chunksFor(B, BatchNorm.rowGrain(C)));
        parity(B, 512, C, true, 43);
    }

    @Test
    void fastMatchesReferenceInference() {
        parity(403, 512, 61, false, 44);
    }

    @Test
    void fastMatchesReferenceSmallBatch() {
        parity(2, 8, 3, true, 45);
    }

    private static void parity(int B, int planned, int C, boolean training, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = uniformPoisoned(rng, B * C, planned * C, -3, 5);
        float[] alpha = uniform(rng, C, -0.5f, 0.5f);
        float[] runMean0 = uniform(rng, C, -1, 1), runVar0 = uniform(rng, C, 0.5f, 2);
        float[] dy = uniformPoisoned(rng, B * C, planned * C, -1, 1);
        float[][] ref = run(false, x, alpha, runMean0, runVar0, dy, B, planned, C, training);
        float[][] fast = run(true, x, alpha, runMean0, runVar0, dy, B, planned, C, training);
        String[] names = {"y", "mean", "invStd", "runMean", "runVar", "dx", "dAlpha (+=)"};
        int[] valid = {B * C, C, C, C, C, B * C, C};
        for (int k = 0; k < names.length; k++) {
            if (!training && k >= 5) break;
            assertClose(names[k], ref[k], fast[k], 0, valid[k], ATOL, RTOL);
        }
        assertFinite("y", fast[0], 0, B * C);
        assertPoisoned("y past B", fast[0], B * C, planned * C);
        if (training) {
            assertFinite("dx", fast[5], 0, B * C);
            assertPoisoned("dx past B", fast[5], B * C, planned * C);
        }
    }

    /** Forward (and backward when training) on fresh buffers; dAlpha starts at 0.5 to check +=. */
    private static float[][] run(boolean fast, float[] x, float[] alpha, float[] runMean0, float[] runVar0, float[] dy,
                                 int B, int planned, int C, boolean training) {
        float[] y = poisoned(planned * C), mean = new float[C], invStd = new float[C];
        float[] runMean = runMean0.clone(), runVar = runVar0.clone();
        float[] dx = poisoned(planned * C), dAlpha = filled(C, 0.5f);
        float[] dAlphaRef = new float[C];
        if (fast) {
            Dice.forward(th, y, mean, invStd, x, alpha, runMean, runVar, B, C, training, 0.99f, EPS);
            if (training) Dice.backward(th, dx, dAlpha, dy, mean, invStd, x, alpha, B, C);
        } else {
            Dice.forwardRef(y, mean, invStd, x, alpha, runMean, runVar, B, C, training, 0.99f, EPS);
            if (training) Dice.backwardRef(dx, dAlphaRef, dy, mean, invStd, x, alpha, B, C);
            for (int c = 0; c < C; c++) dAlpha[c] = dAlphaRef[c] + 0.5f;
        }
        return new float[][] {y, mean, invStd, runMean, runVar, dx, dAlpha};
    }
}
