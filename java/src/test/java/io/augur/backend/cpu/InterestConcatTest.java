package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

class InterestConcatTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradientWithV() {
        gradCheck(true);
    }

    @Test
    void referenceGradientWithoutV() {
        gradCheck(false);
    }

    private static void gradCheck(boolean withV) {
        int B = 3, E = 4, V = withV ? 5 : 0, stride = 3 * E + V + 3, off = 2;
        SplittableRandom rng = new SplittableRandom(111);
        float[] ea = uniform(rng, B * E, -1, 1), s = uniform(rng, B * E, -1, 1), v = withV ? uniform(rng, B * V, -1, 1) : null;
        float[] x = new float[B * stride], dEa = new float[B * E], dS = new float[B * E], dV = withV ? new float[B * V] : null;
        GradCheck gc = new GradCheck(112);
        float[] dx = gc.output("x", x, B * stride);
        gc.wrt("ea", ea, dEa, B * E).wrt("s", s, dS, B * E);
        if (withV) gc.wrt("v", v, dV, B * V);
        gc.run(() -> InterestConcat.forwardRef(x, ea, s, v, B, E, V, stride, off),
               () -> InterestConcat.backwardRef(dEa, dS, dV, dx, ea, s, B, E, V, stride, off)).assertOk();
    }

    @Test
    void layoutByHand() {
        float[] x = poisoned(2 * 9);
        InterestConcat.forwardRef(x, new float[] {2, 3}, new float[] {5, 7}, null, 2, 1, 0, 9, 1);
        assertEquals(2f, x[1]);
        assertEquals(5f, x[2]);
        assertEquals(10f, x[3]);
        assertEquals(21f, x[9 + 3]);
        assertPoisoned("column 0", x, 0, 1);
        assertPoisoned("columns past the block (no v)", x, 4, 9);
        // with a v of width 2 (wider than E = 1): it follows the three E-wide columns
        InterestConcat.forwardRef(x, new float[] {2, 3}, new float[] {5, 7}, new float[] {11, 13, 17, 19}, 2, 1, 2, 9, 1);
        assertEquals(11f, x[4]);
        assertEquals(13f, x[5]);
        assertEquals(19f, x[9 + 5]);
        assertPoisoned("columns past v", x, 6, 9);
    }

    /** Elementwise with the same code: bit-for-bit; other columns and rows past B untouched. */
    @Test
    void fastMatchesReference() {
        int B = 403, planned = 512, E = 36, V = 20, stride = 4 * E + V + 1, off = E;
        assertEquals(THREADS, th.chunksFor(B, InterestConcat.sampleGrain(E, V)));
        SplittableRandom rng = new SplittableRandom(113);
        float[] ea = uniformPoisoned(rng, B * E, planned * E, -1, 1), s = uniformPoisoned(rng, B * E, planned * E, -1, 1);
        float[] v = uniformPoisoned(rng, B * V, planned * V, -1, 1);
        for (float[] vv : new float[][] {v, null}) {
            float[] xRef = poisoned(planned * stride), xFast = poisoned(planned * stride);
            int w = vv == null ? 0 : V;
            InterestConcat.forwardRef(xRef, ea, s, vv, B, E, w, stride, off);
            InterestConcat.forward(th, xFast, ea, s, vv, B, E, w, stride, off);
            assertSameBits("x (all columns, all planned rows)", xRef, xFast, 0, planned * stride);
            assertPoisoned("x past B", xFast, B * stride, planned * stride);
        }
        float[] dx = uniformPoisoned(rng, B * stride, planned * stride, -1, 1);
        float[][] ref = {poisoned(planned * E), poisoned(planned * E), poisoned(planned * V)};
        float[][] fast = {poisoned(planned * E), poisoned(planned * E), poisoned(planned * V)};
        InterestConcat.backwardRef(ref[0], ref[1], ref[2], dx, ea, s, B, E, V, stride, off);
        InterestConcat.backward(th, fast[0], fast[1], fast[2], dx, ea, s, B, E, V, stride, off);
        String[] names = {"dEa", "dS", "dV"};
        int[] widths = {E, E, V};
        for (int k = 0; k < 3; k++) {
            int w = widths[k];
            assertSameBits(names[k], ref[k], fast[k], 0, planned * w);
            assertFinite(names[k], fast[k], 0, B * w);
            assertPoisoned(names[k] + " past B", fast[k], B * w, planned * w);
        }
        float[] dEa = poisoned(planned * E), dS = poisoned(planned * E);
        InterestConcat.backward(th, dEa, dS, null, dx, ea, s, B, E, 0, stride, off); // dV null: v was null
        assertSameBits("dEa without dV", ref[0], dEa, 0, planned * E);
    }
}
