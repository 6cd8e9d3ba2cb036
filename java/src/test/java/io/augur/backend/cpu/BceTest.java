package io.augur.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** BCE has only the reference (one column of B values): both backends call it. */
class BceTest {

    @Test
    void referenceGradient() {
        int B = 7;
        SplittableRandom rng = new SplittableRandom(71);
        float[] z = uniform(rng, B, -4, 4), labels = new float[B];
        for (int r = 0; r < B; r++) labels[r] = rng.nextBoolean() ? 1f : 0f;
        float[] loss = new float[1], dz = new float[B], unused = new float[B];
        GradCheck gc = new GradCheck(72);
        float[] dLoss = gc.output("loss", loss, 1);
        gc.wrt("logits", z, dz, B);
        // dL/dz = dLoss * (sigmoid(z) - y) / B: exactly what scale is for
        gc.run(() -> Bce.forwardBackwardRef(loss, unused, z, labels, B, 1f),
               () -> Bce.forwardBackwardRef(loss, dz, z, labels, B, dLoss[0])).assertOk();
    }

    @Test
    void byHandIncludingExtremeLogits() {
        float[] z = {0f, 100f, -100f, 2f}, y = {1f, 0f, 0f, 1f};
        float[] loss = new float[1], dz = poisoned(6);
        Bce.forwardBackwardRef(loss, dz, z, y, 4, 2f);
        double expected = (Math.log(2) + 100 + Math.log1p(Math.exp(-100)) + Math.log1p(Math.exp(-2))) / 4;
        assertEquals(expected, loss[0], 1e-5);
        assertEquals(2 * (0.5 - 1) / 4, dz[0], 1e-7);
        assertEquals(2 * (1.0 - 0) / 4, dz[1], 1e-7);
        assertEquals(0f, dz[2], 1e-7);
        assertEquals(2 * (1 / (1 + Math.exp(-2)) - 1) / 4, dz[3], 1e-7);
        assertPoisoned("dLogits past B", dz, 4, 6);
    }

    @Test
    void emptyBatchHasZeroLoss() {
        float[] loss = {5f};
        Bce.forwardBackwardRef(loss, new float[0], new float[0], new float[0], 0, 1f);
        assertEquals(0f, loss[0]);
    }
}
