package io.augur.backend.cpu;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SigmoidTest {
    static CpuThreads th;

    @BeforeAll
    static void start() { th = new CpuThreads(THREADS); }

    @AfterAll
    static void stop() { th.close(); }

    @Test
    void referenceGradient() {
        int n = 20;
        float[] x = uniform(new SplittableRandom(61), n, -4, 4), y = new float[n], dx = new float[n];
        GradCheck gc = new GradCheck(62);
        float[] dy = gc.output("y", y, n);
        gc.wrt("x", x, dx, n);
        gc.run(() -> Sigmoid.forwardRef(y, x, n), () -> Sigmoid.backwardRef(dx, dy, y, n)).assertOk();
    }

    @Test
    void tailsAreFinite() {
        float[] x = {-200f, -20f, 0f, 20f, 200f}, y = new float[5];
        Sigmoid.forwardRef(y, x, 5);
        assertEquals(0f, y[0]);
        assertEquals(2.0611537e-9f, y[1], 1e-15f);
        assertEquals(0.5f, y[2]);
        assertEquals(1f, y[3]);
        assertEquals(1f, y[4]);
    }

    /** Elementwise, same expression: bit-for-bit. */
    @Test
    void fastMatchesReference() {
        int n = 3 * Sigmoid.GRAIN + 5, planned = n + 100;
        assertEquals(THREADS, th.chunksFor(n, Sigmoid.GRAIN));
        SplittableRandom rng = new SplittableRandom(63);
        float[] x = uniformPoisoned(rng, n, planned, -10, 10), dy = uniformPoisoned(rng, n, planned, -1, 1);
        float[] yRef = poisoned(planned), yFast = poisoned(planned);
        Sigmoid.forwardRef(yRef, x, n);
        Sigmoid.forward(th, yFast, x, n);
        assertSameBits("y", yRef, yFast, 0, n);
        assertPoisoned("y past n", yFast, n, planned);
        float[] dxRef = poisoned(planned), dxFast = poisoned(planned);
        Sigmoid.backwardRef(dxRef, dy, yRef, n);
        Sigmoid.backward(th, dxFast, dy, yFast, n);
        assertSameBits("dx", dxRef, dxFast, 0, n);
        assertPoisoned("dx past n", dxFast, n, planned);
    }
}
