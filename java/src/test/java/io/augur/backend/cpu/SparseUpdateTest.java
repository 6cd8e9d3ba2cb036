package io.augur.backend.cpu;

import io.augur.backend.SparseOptimizer;
import io.augur.backend.SparseOptimizer.Kind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The sparse embedding update with MBAR: hand-computed steps of each optimizer, the rows it must
 * leave alone, the clearing of the gradient, and fast-vs-reference parity. Expected values are
 * worked out in double from the fp32 inputs and compared to 1e-6 (relative, or absolute on the O(1)
 * table values): a few fp32 roundings.
 */
class SparseUpdateTest {
    static final double REL = 1e-6;

    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    /** A (4, 2) table: row 0 padding, rows 1..3 = (1, -2), (0.5, 0.25), (3, 3). */
    private static float[] table() { return new float[] {0.5f, -0.5f, 1f, -2f, 0.5f, 0.25f, 3f, 3f}; }

    /** Gradient 0.2, -0.4 on row 1 and 7, 7 on row 0; rows 2 and 3 untouched. */
    private static CpuSparseGrad grad() {
        CpuSparseGrad g = new CpuSparseGrad("t", 4, 2, 8);
        g.touch(1);
        g.values[2] = 0.2f;
        g.values[3] = -0.4f;
        g.touch(0);
        g.values[0] = 7f;
        g.values[1] = 7f;
        return g;
    }

    private static final int[] COUNTS = {0, 2, 5, 9};

    private static void assertCleared(CpuSparseGrad g) {
        assertEquals(0, g.touchedRows());
        for (int j = 0; j < g.rows(); j++) assertFalse(g.isTouched(j), "row " + j + " still marked");
        for (int i = 0; i < g.values.length; i++) assertEquals(0, Float.floatToRawIntBits(g.values[i]), "grad element " + i + " not cleared");
    }

    /** Rows other than 1 keep their bits: row 0 (padding, touched) and rows 2, 3 (not touched). */
    private static void assertOnlyRow1Changed(float[] before, float[] after) {
        assertSameBits("row 0 (padding)", before, after, 0, 2);
        assertSameBits("untouched rows", before, after, 4, 8);
    }

    @Test
    void sgdWithMbar() {
        float[] w = table(), w0 = w.clone();
        CpuSparseGrad g = grad();
        SparseUpdate.updateRef(w, null, null, g, COUNTS, new SparseOptimizer(Kind.SGD, 0.1f, 0.5f, 0.9f, 0.999f, 1e-8f), 1);
        // g' = g + lambda w / n_1 = (0.2 + 0.5 * 1 / 2, -0.4 + 0.5 * -2 / 2) = (0.45, -0.9)
        assertEquals(1 - 0.1 * (0.2f + 0.25), w[2], REL);
        assertEquals(-2 - 0.1 * (-0.4f - 0.5), w[3], REL);
        assertOnlyRow1Changed(w0, w);
        assertCleared(g);
    }

    @Test
    void sgdWithoutMbarNeedsNoCounts() {
        float[] w = table();
        CpuSparseGrad g = grad();
        SparseUpdate.updateRef(w, null, null, g, null, new SparseOptimizer(Kind.SGD, 0.1f, 0f, 0.9f, 0.999f, 1e-8f), 1);
        assertEquals(1 - 0.1 * 0.2f, w[2], REL);
        assertEquals(-2 + 0.1 * 0.4f, w[3], REL);
        assertCleared(g);
    }

    @Test
    void mbarWithoutCountsIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> SparseUpdate.updateRef(table(), null, null, grad(), null,
                new SparseOptimizer(Kind.SGD, 0.1f, 0.5f, 0.9f, 0.999f, 1e-8f), 1));
    }

    @Test
    void zeroCountCountsAsOne() {
        float[] w = table();
        CpuSparseGrad g = grad();
        SparseUpdate.updateRef(w, null, null, g, new int[] {0, 0, 0, 0}, new SparseOptimizer(Kind.SGD, 0.1f, 0.5f, 0.9f, 0.999f, 1e-8f), 1);
        assertEquals(1 - 0.1 * (0.2f + 0.5), w[2], REL);
    }

    @Test
    void adagradWithMbar() {
        float[] w = table(), w0 = w.clone(), acc = filled(8, 0.1f), acc0 = acc.clone();
        CpuSparseGrad g = grad();
        SparseUpdate.updateRef(w, acc, null, g, COUNTS, new SparseOptimizer(Kind.ADAGRAD, 0.1f, 0.5f, 0.9f, 0.999f, 1e-8f), 1);
        double g0 = 0.2f + 0.25, g1 = -0.4f - 0.5;
        double a0 = 0.1f + g0 * g0, a1 = 0.1f + g1 * g1;
        assertEquals(a0, acc[2], a0 * REL);
        assertEquals(a1, acc[3], a1 * REL);
        assertEquals(1 - 0.1 * g0 / (Math.sqrt(a0) + 1e-8), w[2], REL);
        assertEquals(-2 - 0.1 * g1 / (Math.sqrt(a1) + 1e-8), w[3], REL);
        assertOnlyRow1Changed(w0, w);
        assertOnlyRow1Changed(acc0, acc);
        assertCleared(g);
    }

    /** Lazy Adam at global step 3: the bias correction uses the global step, not the row's own count of updates. */
    @Test
    void lazyAdamWithMbarUsesTheGlobalStep() {
        float[] w = table(), w0 = w.clone(), m = filled(8, 0.01f), v = filled(8, 0.002f), m0 = m.clone(), v0 = v.clone();
        CpuSparseGrad g = grad();
        final double b1 = 0.9f, b2 = 0.999f;
        SparseUpdate.updateRef(w, m, v, g, COUNTS, new SparseOptimizer(Kind.ADAM, 0.1f, 0.5f, 0.9f, 0.999f, 1e-8f), 3);
        double[] gs = {0.2f + 0.25, -0.4f - 0.5}, w1 = {1, -2};
        for (int d = 0; d < 2; d++) {
            double mm = b1 * 0.01f + (1 - b1) * gs[d], vv = b2 * 0.002f + (1 - b2) * gs[d] * gs[d];
            assertEquals(mm, m[2 + d], Math.abs(mm) * REL);
            assertEquals(vv, v[2 + d], vv * REL);
            double expected = w1[d] - 0.1 * (mm / (1 - Math.pow(b1, 3))) / (Math.sqrt(vv / (1 - Math.pow(b2, 3))) + 1e-8);
            assertEquals(expected, w[2 + d], REL);
        }
        assertOnlyRow1Changed(w0, w);
        assertOnlyRow1Changed(m0, m);
        assertOnlyRow1Changed(v0, v);
        assertCleared(g);
    }

    @Test
    void fastMatchesReferenceForEveryOptimizer() {
        int V = 5000, D = 18, touched = 2000;
        assertEquals(THREADS, th.chunksFor(touched, Math.max(1, SparseUpdate.GRAIN_FLOATS / D)));
        for (Kind kind : Kind.values()) {
            SplittableRandom rng = new SplittableRandom(121 + kind.ordinal());
            float[] w0 = uniform(rng, V * D, -1, 1), s10 = uniform(rng, V * D, 0, 0.1f), s20 = uniform(rng, V * D, 0, 0.01f);
            int[] counts = new int[V];
            for (int j = 0; j < V; j++) counts[j] = rng.nextInt(20);
            CpuSparseGrad gRef = new CpuSparseGrad("ref", V, D, touched), gFast = new CpuSparseGrad("fast", V, D, touched);
            gRef.touch(0); // padding with a gradient: cleared, never applied
            gFast.touch(0);
            while (gRef.touchedRows() < touched) {
                int j = rng.nextInt(V);
                if (gRef.isTouched(j)) continue;
                gRef.touch(j);
                gFast.touch(j);
            }
            for (int k = 0; k < touched; k++) {
                int j = gRef.touchedRow(k);
                for (int d = 0; d < D; d++) gRef.values[j * D + d] = gFast.values[j * D + d] = (float) (2 * rng.nextDouble() - 1);
            }
            float[] wR = w0.clone(), s1R = s10.clone(), s2R = s20.clone(), wF = w0.clone(), s1F = s10.clone(), s2F = s20.clone();
            SparseOptimizer opt = new SparseOptimizer(kind, 0.05f, 0.01f, 0.9f, 0.999f, 1e-8f);
            SparseUpdate.updateRef(wR, s1R, s2R, gRef, counts, opt, 7);
            SparseUpdate.update(th, wF, s1F, s2F, gFast, counts, opt, 7);
            assertSameBits(kind + " table", wR, wF, 0, V * D);
            assertSameBits(kind + " state1", s1R, s1F, 0, V * D);
            assertSameBits(kind + " state2", s2R, s2F, 0, V * D);
            assertSameBits(kind + " padding row", w0, wF, 0, D);
            assertCleared(gFast);
            int changed = 0;
            for (int j = 0; j < V; j++) {
                boolean differs = false;
                for (int d = 0; d < D; d++) differs |= Float.floatToRawIntBits(w0[j * D + d]) != Float.floatToRawIntBits(wF[j * D + d]);
                if (differs) changed++;
            }
            assertEquals(touched - 1, changed, kind + ": exactly the touched rows but padding change");
        }
    }
}
