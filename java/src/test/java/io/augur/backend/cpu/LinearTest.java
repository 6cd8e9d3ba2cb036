package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LinearTest {
    /**
     * Fast (fp32 GEMM, sums in float in blocks of four) against the reference (sums in double).
     * Data are uniform in [-1, 1] and the longest reduction here is 203 terms, each |x w| &lt;= 1:
     * the fp32 error of such a sum stays below about 203 * 2^-24 * 10 = 1.2e-4 in the worst case
     * and near 1e-6 typically; 1e-4 absolute plus 1e-5 relative covers that.
     */
    static final double ATOL = 1e-4, RTOL = 1e-5;

    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradient() {
        int B = 5, in = 7, out = 4;
        SplittableRandom rng = new SplittableRandom(11);
        float[] x = uniform(rng, B * in, -1, 1), W = uniform(rng, in * out, -1, 1), b = uniform(rng, out, -1, 1);
        float[] y = new float[B * out], dx = new float[B * in], dW = new float[in * out], db = new float[out];
        GradCheck gc = new GradCheck(12);
        float[] dy = gc.output("y", y, B * out);
        gc.wrt("x", x, dx, B * in).wrt("W", W, dW, in * out).wrt("b", b, db, out);
        gc.run(() -> Linear.forwardRef(y, x, W, b, B, in, out),
               () -> Linear.backwardRef(dx, dW, db, dy, x, W, B, in, out)).assertOk();
    }

    @Test
    void fastMatchesReference() {
        int B = 203, planned = 256, in = 37, out = 67;
        // every parallel loop really is split into THREADS chunks, and 203 is not a multiple of 3
        assertEquals(THREADS, th.chunksFor(B, Linear.rowGrain(in * out)));
        assertEquals(THREADS, th.chunksFor(in, Linear.rowGrain(B * out)));
        assertEquals(THREADS, th.chunksFor(out, Math.max(1, 4096 / B)));
        parity(B, planned, in, out, true, 21);
    }

    /** The attention's score layer: one output column, no dx. */
    @Test
    void fastMatchesReferenceSingleOutputWithoutDx() {
        parity(150, 160, 40, 1, false, 22);
    }

    @Test
    void emptyBatchTouchesNothing() {
        parity(0, 8, 5, 3, true, 23);
    }

    private static void parity(int B, int planned, int in, int out, boolean withDx, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[] x = uniformPoisoned(rng, B * in, planned * in, -1, 1);
        float[] dy = uniformPoisoned(rng, B * out, planned * out, -1, 1);
        float[] W = uniform(rng, in * out, -1, 1), b = uniform(rng, out, -1, 1);

        float[] yRef = poisoned(planned * out), yFast = poisoned(planned * out);
        Linear.forwardRef(yRef, x, W, b, B, in, out);
        Linear.forward(th, yFast, x, W, b, B, in, out);
        assertClose("y", yRef, yFast, 0, B * out, ATOL, RTOL);
        assertFinite("y", yFast, 0, B * out);
        assertPoisoned("y past B", yFast, B * out, planned * out);

        // parameter gradients are added to: start the fast path from known values, the reference from 0
        float[] dxRef = withDx ? poisoned(planned * in) : null, dxFast = withDx ? poisoned(planned * in) : null;
        float[] dWRef = new float[in * out], dbRef = new float[out];
        float[] dWFast = filled(in * out, 0.5f), dbFast = filled(out, -0.25f);
        Linear.backwardRef(dxRef, dWRef, dbRef, dy, x, W, B, in, out);
        Linear.backward(th, dxFast, dWFast, dbFast, dy, x, W, B, in, out);
        if (withDx) {
            assertClose("dx", dxRef, dxFast, 0, B * in, ATOL, RTOL);
            assertPoisoned("dx past B", dxFast, B * in, planned * in);
        }
        for (int i = 0; i < dWRef.length; i++) dWRef[i] += 0.5f;
        for (int i = 0; i < dbRef.length; i++) dbRef[i] += -0.25f;
        assertClose("dW (+=)", dWRef, dWFast, 0, in * out, ATOL, RTOL);
        assertClose("db (+=)", dbRef, dbFast, 0, out, ATOL, RTOL);
    }
}
