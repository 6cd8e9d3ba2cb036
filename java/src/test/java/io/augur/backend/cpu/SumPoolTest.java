package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SumPoolTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradient() {
        int B = 5, T = 4, C = 3;
        SplittableRandom rng = new SplittableRandom(101);
        int[] len = lengths(rng, B, T);
        float[] x = uniform(rng, B * T * C, -1, 1), out = new float[B * C], dx = new float[B * T * C];
        GradCheck gc = new GradCheck(102);
        float[] dOut = gc.output("out", out, B * C);
        gc.wrt("x", x, dx, B * T * C);
        gc.run(() -> SumPool.forwardRef(out, x, len, B, T, C), () -> SumPool.backwardRef(dx, dOut, len, B, T, C)).assertOk();
    }

    @Test
    void lengthOutsideRangeIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> SumPool.forwardRef(new float[2], new float[4], new int[] {3}, 1, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> SumPool.backward(th, new float[4], new float[2], new int[] {-1}, 1, 2, 2));
    }

    /** Same summation order (t ascending per element): bit-for-bit. */
    @Test
    void fastMatchesReference() {
        int B = 37, planned = 48, T = 50, C = 36;
        assertEquals(THREADS, th.chunksFor(B, SumPool.sampleGrain(T, C)));
        SplittableRandom rng = new SplittableRandom(103);
        int[] len = lengths(rng, B, T);
        // x: positions at or past the length (and samples past B) are poisoned: they must not be read
        float[] x = poisoned(planned * T * C);
        for (int b = 0; b < B; b++) {
            for (int i = b * T * C; i < (b * T + len[b]) * C; i++) x[i] = (float) (2 * rng.nextDouble() - 1);
        }
        float[] outRef = poisoned(planned * C), outFast = poisoned(planned * C);
        SumPool.forwardRef(outRef, x, len, B, T, C);
        SumPool.forward(th, outFast, x, len, B, T, C);
        assertSameBits("out", outRef, outFast, 0, B * C);
        assertFinite("out", outFast, 0, B * C);
        assertPoisoned("out past B", outFast, B * C, planned * C);
        for (int c = 0; c < C; c++) assertEquals(0f, outFast[c], "length 0 pools to 0");

        float[] dOut = uniformPoisoned(rng, B * C, planned * C, -1, 1);
        float[] dxRef = poisoned(planned * T * C), dxFast = poisoned(planned * T * C);
        SumPool.backwardRef(dxRef, dOut, len, B, T, C);
        SumPool.backward(th, dxFast, dOut, len, B, T, C);
        assertSameBits("dx", dxRef, dxFast, 0, B * T * C);
        assertPoisoned("dx past B", dxFast, B * T * C, planned * T * C);
        for (int b = 0; b < B; b++) {
            for (int i = (b * T + len[b]) * C; i < (b + 1) * T * C; i++) {
                assertEquals(0, Float.floatToRawIntBits(dxFast[i]), "padded dx must be exactly +0 at " + i);
            }
        }
    }
}
