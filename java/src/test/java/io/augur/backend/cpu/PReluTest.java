package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class PReluTest {
    /** dAlpha: double sums over 403 rows in chunk order against one running sum, rounded once to fp32. */
    static final double ATOL = 1e-6, RTOL = 1e-6;

    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradient() {
        int B = 5, C = 4;
        SplittableRandom rng = new SplittableRandom(51);
        // |x| >= 0.05 keeps every perturbation (h = 1e-2) on one side of the kink at 0
        float[] x = awayFromZero(rng, B * C, 0.05f, 2f), alpha = uniform(rng, C, -0.5f, 0.5f);
        float[] y = new float[B * C], dx = new float[B * C], dAlpha = new float[C];
        GradCheck gc = new GradCheck(52);
        float[] dy = gc.output("y", y, B * C);
        gc.wrt("x", x, dx, B * C).wrt("alpha", alpha, dAlpha, C);
        gc.run(() -> PRelu.forwardRef(y, x, alpha, B, C),
               () -> PRelu.backwardRef(dx, dAlpha, dy, x, alpha, B, C)).assertOk();
    }

    @Test
    void byHand() {
        float[] x = {2f, -2f, 0f}, y = new float[3], dx = new float[3], dAlpha = {1f};
        PRelu.forwardRef(y, x, new float[] {0.25f}, 3, 1);
        assertArrayEquals(new float[] {2f, -0.5f, 0f}, y);
        PRelu.backwardRef(dx, dAlpha, new float[] {1f, 1f, 1f}, x, new float[] {0.25f}, 3, 1);
        assertArrayEquals(new float[] {1f, 0.25f, 0.25f}, dx);
        assertEquals(1f - 2f, dAlpha[0]); // += sum over x <= 0 of x dy
    }

    @Test
    void fastMatchesReference() {
        int B = 403, planned = 512, C = 61;
        assertEquals(THREADS, th.chunksFor(B, BatchNorm.rowGrain(C)));
        SplittableRandom rng = new SplittableRandom(53);
        float[] x = uniformPoisoned(rng, B * C, planned * C, -1, 1), dy = uniformPoisoned(rng, B * C, planned * C, -1, 1);
        float[] alpha = uniform(rng, C, -0.5f, 0.5f);
        float[] yRef = poisoned(planned * C), yFast = poisoned(planned * C);
        PRelu.forwardRef(yRef, x, alpha, B, C);
        PRelu.forward(th, yFast, x, alpha, B, C);
        assertSameBits("y", yRef, yFast, 0, B * C);
        assertPoisoned("y past B", yFast, B * C, planned * C);

        float[] dxRef = poisoned(planned * C), dxFast = poisoned(planned * C), dAlphaRef = new float[C], dAlphaFast = filled(C, 0.5f);
        PRelu.backwardRef(dxRef, dAlphaRef, dy, x, alpha, B, C);
        PRelu.backward(th, dxFast, dAlphaFast, dy, x, alpha, B, C);
        assertSameBits("dx", dxRef, dxFast, 0, B * C);
        assertPoisoned("dx past B", dxFast, B * C, planned * C);
        for (int c = 0; c < C; c++) dAlphaRef[c] += 0.5f;
        assertClose("dAlpha (+=)", dAlphaRef, dAlphaFast, 0, C, ATOL, RTOL);
    }
}
