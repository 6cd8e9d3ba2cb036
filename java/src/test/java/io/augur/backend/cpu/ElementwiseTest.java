package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ElementwiseTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void addIntoAddsAndLeavesTheTail() {
        float[] y = {1, 2, 3, 4}, x = {10, 20, 30, 40};
        Elementwise.addIntoRef(y, x, 3);
        assertEquals(11f, y[0]);
        assertEquals(33f, y[2]);
        assertEquals(4f, y[3], "past n untouched");
        int n = 100_003;
        SplittableRandom rng = new SplittableRandom(301);
        float[] a = uniformPoisoned(rng, n, n + 7, -1, 1), b = uniform(rng, n + 7, -1, 1);
        float[] ref = a.clone(), fast = a.clone();
        Elementwise.addIntoRef(ref, b, n);
        Elementwise.addInto(th, fast, b, n);
        assertSameBits("y", ref, fast, 0, n);
        assertPoisoned("y past n", fast, n, n + 7);
    }

    @Test
    void scaleSequenceGradient() {
        int B = 4, T = 5, C = 3;
        SplittableRandom rng = new SplittableRandom(302);
        int[] len = lengths(rng, B, T);
        float[] x = uniform(rng, B * T * C, -1, 1), w = uniform(rng, B * T, -1, 1);
        float[] out = new float[B * T * C], dX = new float[B * T * C], dW = new float[B * T];
        GradCheck gc = new GradCheck(303);
        float[] dOut = gc.output("out", out, B * T * C);
        gc.wrt("x", x, dX, B * T * C).wrt("w", w, dW, B * T);
        gc.run(() -> Elementwise.scaleSequenceRef(out, x, w, len, B, T, C),
               () -> Elementwise.scaleSequenceBackwardRef(dX, dW, dOut, x, w, len, B, T, C)).assertOk();
    }

    @Test
    void scaleSequenceByHand() {
        // B = 1, T = 3, C = 2, length 2: position 2 is padding and must come out as +0 whatever it held
        float[] x = {1, 2, 3, 4, Float.NaN, Float.NaN}, w = {0.5f, -2f, Float.NaN};
        float[] out = poisoned(6);
        Elementwise.scaleSequenceRef(out, x, w, new int[] {2}, 1, 3, 2);
        assertEquals(0.5f, out[0]);
        assertEquals(1f, out[1]);
        assertEquals(-6f, out[2]);
        assertEquals(-8f, out[3]);
        assertEquals(0, Float.floatToRawIntBits(out[4]));
        assertEquals(0, Float.floatToRawIntBits(out[5]));
        float[] dX = poisoned(6), dW = poisoned(3);
        Elementwise.scaleSequenceBackwardRef(dX, dW, new float[] {1, 1, 1, -1, 5, 5}, x, w, new int[] {2}, 1, 3, 2);
        assertEquals(3f, dW[0]);
        assertEquals(-1f, dW[1]);
        assertEquals(0f, dW[2]);
        assertEquals(-2f, dX[2]);
        assertEquals(2f, dX[3]);
        assertEquals(0f, dX[4]);
        assertThrows(IllegalArgumentException.class,
                () -> Elementwise.scaleSequenceRef(out, x, w, new int[] {4}, 1, 3, 2), "length past T");
    }

    @Test
    void scaleSequenceFastMatchesReference() {
        int B = 67, planned = 80, T = 30, C = 36;
        assertEquals(THREADS, th.chunksFor(B, Elementwise.sampleGrain(T, C)));
        SplittableRandom rng = new SplittableRandom(304);
        int[] len = lengths(rng, B, T);
        float[] x = poisoned(planned * T * C), w = poisoned(planned * T), dOut = poisoned(planned * T * C);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < len[b]; t++) {
                w[b * T + t] = (float) rng.nextDouble();
                for (int c = 0; c < C; c++) {
                    x[(b * T + t) * C + c] = (float) (2 * rng.nextDouble() - 1);
                    dOut[(b * T + t) * C + c] = (float) (2 * rng.nextDouble() - 1);
                }
            }
        }
        float[] outRef = poisoned(planned * T * C), outFast = poisoned(planned * T * C);
        Elementwise.scaleSequenceRef(outRef, x, w, len, B, T, C);
        Elementwise.scaleSequence(th, outFast, x, w, len, B, T, C);
        assertSameBits("out", outRef, outFast, 0, planned * T * C);
        assertFinite("out", outFast, 0, B * T * C);
        assertPoisoned("out past B", outFast, B * T * C, planned * T * C);
        float[] dxRef = poisoned(planned * T * C), dxFast = poisoned(planned * T * C);
        float[] dwRef = poisoned(planned * T), dwFast = poisoned(planned * T);
        Elementwise.scaleSequenceBackwardRef(dxRef, dwRef, dOut, x, w, len, B, T, C);
        Elementwise.scaleSequenceBackward(th, dxFast, dwFast, dOut, x, w, len, B, T, C);
        assertSameBits("dX", dxRef, dxFast, 0, planned * T * C);
        assertSameBits("dW", dwRef, dwFast, 0, planned * T);
        assertFinite("dX", dxFast, 0, B * T * C);
        assertFinite("dW", dwFast, 0, B * T);
        assertPoisoned("dW past B", dwFast, B * T, planned * T);
    }
}
