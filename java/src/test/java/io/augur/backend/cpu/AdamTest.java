package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Dense Adam: an optimizer step, so hand-computed values instead of a gradient check. */
class AdamTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    /**
     * Two steps by hand (lr 0.1, b1 0.9, b2 0.999, eps 1e-8). The expected values are worked out
     * in double from the fp32 hyperparameters (0.999f is 0.99900001, so 1 - b2 is 1.3e-5 off
     * 0.001 relative), and compared to 1e-6 relative: a few fp32 roundings per value.
     * Element 0: g = 0.5, no decay; step 1 has m^ = g, v^ = g^2, so p moves by lr (1 - 0.1).
     * Element 1: g = 0.3 with weight decay 0.1 on p = 2: the gradient seen is 0.5, the same step.
     */
    @Test
    void twoStepsByHand() {
        final double b1 = 0.9f, b2 = 0.999f, rel = 1e-6;
        float[] p = {1f, 2f}, g = {0.5f, 0.3f}, m = new float[2], v = new float[2];
        Adam.stepRef(p, g, m, v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 1);
        double m1 = (1 - b1) * 0.5, v1 = (1 - b2) * 0.25;
        assertEquals(m1, m[0], m1 * rel);
        assertEquals(v1, v[0], v1 * rel);
        double p1 = 1 - 0.1 * (m1 / (1 - b1)) / (Math.sqrt(v1 / (1 - b2)) + 1e-8);
        assertEquals(0.9, p1, 1e-7);
        assertEquals(p1, p[0], rel);
        assertEquals(2f, p[1]); // n = 1: element 1 untouched

        float[] pd = {2f}, gd = {0.3f}, md = new float[1], vd = new float[1];
        Adam.stepRef(pd, gd, md, vd, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f, 1);
        double gSeen = 0.3f + 0.1f * 2.0;
        assertEquals((1 - b1) * gSeen, md[0], (1 - b1) * gSeen * rel);
        assertEquals(1.9, pd[0], rel);
        assertEquals(0.3f, gd[0]); // the gradient is read, never cleared or changed

        // step 2, same gradient: the bias corrections 1 - b^2 undo the moments' warm-up again
        Adam.stepRef(p, g, m, v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 2);
        double m2 = b1 * m1 + (1 - b1) * 0.5, v2 = b2 * v1 + (1 - b2) * 0.25;
        assertEquals(m2, m[0], m2 * rel);
        assertEquals(v2, v[0], v2 * rel);
        double p2 = p1 - 0.1 * (m2 / (1 - b1 * b1)) / (Math.sqrt(v2 / (1 - b2 * b2)) + 1e-8);
        assertEquals(0.8, p2, 1e-6);
        assertEquals(p2, p[0], rel);
    }

    @Test
    void stepIsOneBased() {
        assertThrows(IllegalArgumentException.class, () -> Adam.stepRef(new float[1], new float[1], new float[1], new float[1], 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0f, 0));
    }

    /** Elementwise with the same per-element code: bit-for-bit, and nothing past n is touched. */
    @Test
    void fastMatchesReference() {
        int n = 3 * Adam.GRAIN + 7, planned = n + 50;
        assertEquals(THREADS, th.chunksFor(n, Adam.GRAIN));
        SplittableRandom rng = new SplittableRandom(81);
        float[] p0 = uniformPoisoned(rng, n, planned, -1, 1), g = uniformPoisoned(rng, n, planned, -1, 1);
        float[] m0 = uniformPoisoned(rng, n, planned, -0.1f, 0.1f), v0 = uniformPoisoned(rng, n, planned, 0, 0.01f);
        float[] pR = p0.clone(), mR = m0.clone(), vR = v0.clone(), pF = p0.clone(), mF = m0.clone(), vF = v0.clone();
        for (int step = 5; step <= 6; step++) {
            Adam.stepRef(pR, g, mR, vR, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, step);
            Adam.step(th, pF, g, mF, vF, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, step);
        }
        assertSameBits("param", pR, pF, 0, n);
        assertSameBits("m", mR, mF, 0, n);
        assertSameBits("v", vR, vF, 0, n);
        assertPoisoned("param past n", pF, n, planned);
        assertPoisoned("m past n", mF, n, planned);
        assertPoisoned("v past n", vF, n, planned);
    }
}
