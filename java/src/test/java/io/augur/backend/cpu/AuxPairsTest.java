package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AuxPairsTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    /** pairStart as the op documents it; returns P, the number of pairs. */
    static int pairStart(int[] len, int B, int[] start) {
        int p = 0;
        for (int b = 0; b < B; b++) {
            start[b] = p;
            p += Math.max(len[b] - 1, 0);
        }
        return p;
    }

    @Test
    void referenceGradient() {
        int B = 5, T = 4, H = 3, E = 2;
        SplittableRandom rng = new SplittableRandom(311);
        int[] len = lengths(rng, B, T), start = new int[B];
        int P = pairStart(len, B, start);
        float[] h = uniform(rng, B * T * H, -1, 1), pos = uniform(rng, B * T * E, -1, 1), neg = uniform(rng, B * T * E, -1, 1);
        float[] out = new float[2 * P * (H + E)];
        float[] dH = new float[B * T * H], dPos = new float[B * T * E], dNeg = new float[B * T * E];
        GradCheck gc = new GradCheck(312);
        float[] dOut = gc.output("out", out, out.length);
        gc.wrt("h", h, dH, h.length).wrt("pos", pos, dPos, pos.length).wrt("neg", neg, dNeg, neg.length);
        gc.run(() -> AuxPairs.forwardRef(out, h, pos, neg, start, len, B, T, H, E),
               () -> AuxPairs.backwardRef(dH, dPos, dNeg, dOut, start, len, B, T, H, E)).assertOk();
    }

    @Test
    void layoutByHand() {
        // B = 2, T = 3, H = 1, E = 1; lengths 3 and 2: pairs (0,1), (0,2), (1,1)
        int[] len = {3, 2}, start = {0, 2};
        float[] h = {1, 2, 3, 4, 5, 6}, pos = {10, 20, 30, 40, 50, 60}, neg = {-10, -20, -30, -40, -50, -60};
        float[] out = poisoned(2 * 3 * 2 + 2);
        AuxPairs.forwardRef(out, h, pos, neg, start, len, 2, 3, 1, 1);
        float[] expected = {1, 20, 1, -20, 2, 30, 2, -30, 4, 50, 4, -50};
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], out[i], "out[" + i + "]");
        assertPoisoned("rows past 2P", out, 12, 14);

        float[] dOut = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        float[] dH = filled(6, 100f), dPos = filled(6, 100f), dNeg = poisoned(6);
        AuxPairs.backwardRef(dH, dPos, dNeg, dOut, start, len, 2, 3, 1, 1);
        assertEquals(104f, dH[0], "h[0,0] feeds pair (0,1): 1 + 3 added");
        assertEquals(112f, dH[1], "h[0,1] feeds pair (0,2): 5 + 7 added");
        assertEquals(100f, dH[2], "the last state feeds no pair");
        assertEquals(120f, dH[3]);
        assertEquals(100f, dH[4]);
        assertEquals(100f, dPos[0], "position 0 is never a target");
        assertEquals(102f, dPos[1]);
        assertEquals(106f, dPos[2]);
        assertEquals(110f, dPos[4]);
        assertEquals(100f, dPos[5], "padded position untouched");
        float[] dNegExpected = {0, 4, 8, 0, 12, 0};
        for (int i = 0; i < 6; i++) assertEquals(dNegExpected[i], dNeg[i], "dNeg[" + i + "] (overwritten, 0 where unused)");
    }

    @Test
    void badPairStartIsAnError() {
        float[] z = new float[64];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AuxPairs.forwardRef(z, z, z, z, new int[] {0, 1}, new int[] {3, 2}, 2, 3, 1, 1));
        assertEquals(true, e.getMessage().contains("pairStart[1] = 1, expected 2"), e.getMessage());
    }

    @Test
    void fastMatchesReference() {
        int B = 61, planned = 64, T = 40, H = 36, E = 36, W = H + E;
        assertEquals(THREADS, th.chunksFor(B, AuxPairs.sampleGrain(T, H, E)));
        SplittableRandom rng = new SplittableRandom(313);
        int[] len = lengths(rng, B, T), start = new int[B];
        int P = pairStart(len, B, start), rows = 2 * planned * (T - 1);
        float[] h = poisoned(planned * T * H), pos = poisoned(planned * T * E), neg = poisoned(planned * T * E);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < len[b]; t++) {
                for (int c = 0; c < H; c++) h[(b * T + t) * H + c] = (float) rng.nextDouble();
                for (int c = 0; c < E; c++) {
                    pos[(b * T + t) * E + c] = (float) rng.nextDouble();
                    neg[(b * T + t) * E + c] = (float) rng.nextDouble();
                }
            }
        }
        float[] outRef = poisoned(rows * W), outFast = poisoned(rows * W);
        AuxPairs.forwardRef(outRef, h, pos, neg, start, len, B, T, H, E);
        AuxPairs.forward(th, outFast, h, pos, neg, start, len, B, T, H, E);
        assertSameBits("out", outRef, outFast, 0, rows * W);
        assertFinite("out", outFast, 0, 2 * P * W);
        assertPoisoned("out past 2P", outFast, 2 * P * W, rows * W);

        // a fixed-shape step's padding: rows 2P to `padded` zeroed, the rest untouched
        int padded = 2 * P + 5;
        AuxPairs.zeroPadding(outFast, start, len, B, W, padded);
        for (int i = 2 * P * W; i < padded * W; i++) assertEquals(0f, outFast[i], "padded row element " + i);
        assertPoisoned("out past the padded rows", outFast, padded * W, rows * W);
        AuxPairs.zeroPadding(outRef, start, len, B, W, 2 * P);
        assertPoisoned("out past 2P when there is no padding", outRef, 2 * P * W, rows * W);

        float[] dOut = uniformPoisoned(rng, 2 * P * W, rows * W, -1, 1);
        float[] base = uniform(rng, planned * T * H, -1, 1), baseE = uniform(rng, planned * T * E, -1, 1);
        float[] dhRef = base.clone(), dhFast = base.clone(), dpRef = baseE.clone(), dpFast = baseE.clone();
        float[] dnRef = poisoned(planned * T * E), dnFast = poisoned(planned * T * E);
        AuxPairs.backwardRef(dhRef, dpRef, dnRef, dOut, start, len, B, T, H, E);
        AuxPairs.backward(th, dhFast, dpFast, dnFast, dOut, start, len, B, T, H, E);
        assertSameBits("dH", dhRef, dhFast, 0, planned * T * H);
        assertSameBits("dPos", dpRef, dpFast, 0, planned * T * E);
        assertSameBits("dNeg", dnRef, dnFast, 0, planned * T * E);
        assertFinite("dNeg", dnFast, 0, B * T * E);
        assertPoisoned("dNeg past B", dnFast, B * T * E, planned * T * E);
    }
}
