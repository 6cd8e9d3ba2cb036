package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddingTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    private static int[] ids(SplittableRandom rng, int n, int V) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.nextInt(V);
        return ids;
    }

    @Test
    void referenceGradient() {
        int V = 6, D = 3, B = 4, T = 3, rows = B * T, outStride = 5, off = 1;
        SplittableRandom rng = new SplittableRandom(91);
        float[] table = uniform(rng, V * D, -1, 1), out = new float[rows * outStride];
        int[] ids = ids(rng, rows, V), len = lengths(rng, B, T);
        CpuSparseGrad g = new CpuSparseGrad("table", V, D, rows);
        GradCheck gc = new GradCheck(92);
        float[] dOut = gc.output("out", out, rows * outStride);
        gc.wrt("table", table, g.values, V * D);
        gc.run(() -> Embedding.gatherRef(out, ids, len, table, rows, T, D, outStride, off),
               () -> { g.clear(); Embedding.gatherBackwardRef(g, dOut, ids, len, rows, T, D, outStride, off); }).assertOk();
    }

    @Test
    void maskAndColumns() {
        int V = 4, D = 2, T = 3, outStride = 5, off = 2;
        float[] table = {0, 0, 1, 2, 3, 4, 5, 6};
        int[] ids = {1, 2, 3, 3, 2, 1};
        float[] out = poisoned(6 * outStride);
        Embedding.gatherRef(out, ids, new int[] {2, 0}, table, 6, T, D, outStride, off);
        float[][] expected = {{1, 2}, {3, 4}, {0, 0}, {0, 0}, {0, 0}, {0, 0}};
        for (int r = 0; r < 6; r++) {
            assertEquals(expected[r][0], out[r * outStride + off], "row " + r);
            assertEquals(expected[r][1], out[r * outStride + off + 1], "row " + r);
            assertPoisoned("columns before off", out, r * outStride, r * outStride + off);
            assertPoisoned("columns after off + D", out, r * outStride + off + D, (r + 1) * outStride);
        }
        // no lengths: every row is gathered
        float[] all = new float[6 * D];
        Embedding.gatherRef(all, ids, null, table, 6, 1, D, D, 0);
        assertEquals(1f, all[10]);
        assertThrows(IndexOutOfBoundsException.class, () -> Embedding.gatherRef(all, new int[] {V}, null, table, 1, 1, D, D, 0));
    }

    @Test
    void backwardSkipsMaskedRowsAndAddsUp() {
        int V = 4, D = 2, T = 2;
        CpuSparseGrad g = new CpuSparseGrad("t", V, D, 10);
        int[] ids = {3, 1, 3, 2};
        float[] dOut = {1, 2, 10, 20, 100, 200, 1000, 2000};
        Embedding.gatherBackwardRef(g, dOut, ids, new int[] {2, 1}, 4, T, D, D, 0); // row 3 (id 2) masked
        Embedding.gatherBackwardRef(g, dOut, ids, new int[] {0, 1}, 4, T, D, D, 0); // only row 2 (id 3)
        assertEquals(2, g.touchedRows());
        assertEquals(3, g.touchedRow(0));
        assertEquals(1, g.touchedRow(1));
        assertEquals(1 + 100 + 100f, g.values[3 * D]);
        assertEquals(2 + 200 + 200f, g.values[3 * D + 1]);
        assertEquals(10f, g.values[D]);
        assertEquals(0f, g.values[2 * D]);
        assertTrue(!g.isTouched(2) && !g.isTouched(0));
    }

    @Test
    void tooManyDistinctRowsIsAnError() {
        CpuSparseGrad g = new CpuSparseGrad("small", 10, 1, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Embedding.gatherBackwardRef(g, new float[3], new int[] {1, 2, 3}, null, 3, 1, 1, 1, 0));
        assertTrue(e.getMessage().contains("small"), e.getMessage());
    }

    @Test
    void fastGatherMatchesReference() {
        int V = 300, D = 18, B = 37, T = 50, planned = 64, rows = B * T, outStride = 40, off = 4;
        int grain = Math.max(1, Embedding.GATHER_GRAIN_FLOATS / D);
        assertEquals(THREADS, th.chunksFor(rows, grain));
        SplittableRandom rng = new SplittableRandom(93);
        float[] table = uniform(rng, V * D, -1, 1);
        int[] ids = ids(rng, planned * T, V), len = lengths(rng, B, T);
        for (int[] lengths : new int[][] {len, null}) {
            float[] ref = poisoned(planned * T * outStride), fast = poisoned(planned * T * outStride);
            Embedding.gatherRef(ref, ids, lengths, table, rows, T, D, outStride, off);
            Embedding.gather(th, fast, ids, lengths, table, rows, T, D, outStride, off);
            assertSameBits("out", ref, fast, 0, planned * T * outStride); // includes the poisoned columns and rows
            assertPoisoned("rows past B", fast, rows * outStride, planned * T * outStride);
        }
    }

    @Test
    void fastBackwardMatchesReference() {
        backwardParity(80, 50, 94);
        backwardParity(9, 20, 95);
    }

    /** Two gathers into one gradient (history, then target), as a model does: same rows, same bits, same order. */
    private static void backwardParity(int B, int T, long seed) {
        int V = 500, D = 18, rows = B * T, outStride = 2 * D;
        SplittableRandom rng = new SplittableRandom(seed);
        int[] hist = ids(rng, rows, V), target = ids(rng, B, V), len = lengths(rng, B, T);
        float[] dHist = uniform(rng, rows * outStride, -1, 1), dTarget = uniform(rng, B * D, -1, 1);
        CpuSparseGrad ref = new CpuSparseGrad("ref", V, D, rows + B), fast = new CpuSparseGrad("fast", V, D, rows + B);
        Embedding.gatherBackwardRef(ref, dHist, hist, len, rows, T, D, outStride, D);
        Embedding.gatherBackwardRef(ref, dTarget, target, null, B, 1, D, D, 0);
        Embedding.gatherBackward(th, fast, dHist, hist, len, rows, T, D, outStride, D);
        Embedding.gatherBackward(th, fast, dTarget, target, null, B, 1, D, D, 0);
        assertEquals(ref.touchedRows(), fast.touchedRows());
        for (int k = 0; k < ref.touchedRows(); k++) assertEquals(ref.touchedRow(k), fast.touchedRow(k), "touched row " + k);
        assertSameBits("grad", ref.values, fast.values, 0, V * D);
        // masked positions contributed nothing: a row only reached through masked positions is untouched
        for (int j = 0; j < V; j++) {
            boolean reached = false;
            for (int b = 0; b < B; b++) {
                if (target[b] == j) reached = true;
                for (int t = 0; t < len[b]; t++) if (hist[b * T + t] == j) reached = true;
            }
            assertEquals(reached, fast.isTouched(j), "row " + j);
        }
    }
}
