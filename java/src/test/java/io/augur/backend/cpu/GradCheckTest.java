package io.augur.backend.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The checker itself: it passes a right gradient and catches wrong or vacuous ones. */
class GradCheckTest {

    /** y_i = x_i^2 a + sin(x_i): dx = dy (2 x a + cos x), da = sum dy x^2. */
    private static void forward(float[] y, float[] x, float[] a) {
        for (int i = 0; i < x.length; i++) y[i] = x[i] * x[i] * a[0] + (float) Math.sin(x[i]);
    }

    private static void backward(float[] dx, float[] da, float[] dy, float[] x, float[] a, boolean breakIndex3) {
        for (int i = 0; i < x.length; i++) {
            dx[i] = dy[i] * (2 * x[i] * a[0] + (float) Math.cos(x[i]));
            da[0] += dy[i] * x[i] * x[i];
        }
        if (breakIndex3) dx[3] *= 1.1f;
    }

    @Test
    void rightGradientPasses() {
        float[] x = {0.3f, -1.2f, 0.7f, 1.5f, -0.4f}, a = {0.8f}, y = new float[5], dx = new float[5], da = new float[1];
        GradCheck gc = new GradCheck(1);
        float[] dy = gc.output("y", y, 5);
        gc.wrt("x", x, dx, 5).wrt("a", a, da, 1);
        GradCheck.Report r = gc.run(() -> forward(y, x, a), () -> backward(dx, da, dy, x, a, false)).assertOk();
        assertEquals(6, r.checked());
        assertTrue(r.maxAbsError() < 1e-3, r.summary());
    }

    @Test
    void wrongElementIsNamed() {
        float[] x = {0.3f, -1.2f, 0.7f, 1.5f, -0.4f}, a = {0.8f}, y = new float[5], dx = new float[5], da = new float[1];
        GradCheck gc = new GradCheck(1);
        float[] dy = gc.output("y", y, 5);
        gc.wrt("x", x, dx, 5).wrt("a", a, da, 1);
        GradCheck.Report r = gc.run(() -> forward(y, x, a), () -> backward(dx, da, dy, x, a, true));
        assertFalse(r.ok());
        assertEquals(1, r.failed());
        assertEquals("x", r.mismatches().get(0).array());
        assertEquals(3, r.mismatches().get(0).index());
        AssertionError e = assertThrows(AssertionError.class, r::assertOk);
        assertTrue(e.getMessage().contains("x[3]"), e.getMessage());
    }

    @Test
    void valuesAreRestoredAndGradientsZeroedBeforeBackward() {
        float[] x = {0.3f, -1.2f, 0.7f, 1.5f, -0.4f}, a = {0.8f}, y = new float[5], dx = new float[5];
        float[] da = {100f}; // a stale value the checker must clear before the backward adds into it
        float[] x0 = x.clone();
        GradCheck gc = new GradCheck(2);
        float[] dy = gc.output("y", y, 5);
        gc.wrt("x", x, dx, 5).wrt("a", a, da, 1);
        gc.run(() -> forward(y, x, a), () -> backward(dx, da, dy, x, a, false)).assertOk();
        org.junit.jupiter.api.Assertions.assertArrayEquals(x0, x);
        assertEquals(0.8f, a[0]);
    }

    @Test
    void identicallyZeroGradientIsRejectedUnlessAllowed() {
        float[] x = {0.5f, 1.5f}, u = {2f}, y = new float[2], dx = new float[2], du = new float[1];
        Runnable fwd = () -> { y[0] = x[0] * x[0]; y[1] = x[1] * x[1]; };        // y does not depend on u
        GradCheck gc = new GradCheck(3);
        float[] dy = gc.output("y", y, 2);
        gc.wrt("x", x, dx, 2).wrt("u", u, du, 1);
        Runnable bwd = () -> { dx[0] = 2 * x[0] * dy[0]; dx[1] = 2 * x[1] * dy[1]; };
        assertFalse(gc.run(fwd, bwd).ok());

        GradCheck allowed = new GradCheck(3);
        float[] dy2 = allowed.output("y", y, 2);
        allowed.wrt("x", x, dx, 2).wrt("u", u, du, 1, true);
        allowed.run(fwd, () -> { dx[0] = 2 * x[0] * dy2[0]; dx[1] = 2 * x[1] * dy2[1]; }).assertOk();
    }

    @Test
    void maxPerArraySamplesIndices() {
        int n = 50;
        float[] x = OpTesting.uniform(new java.util.SplittableRandom(4), n, -1, 1), a = {0.5f}, y = new float[n], dx = new float[n], da = new float[1];
        GradCheck gc = new GradCheck(5).maxPerArray(7);
        float[] dy = gc.output("y", y, n);
        gc.wrt("x", x, dx, n).wrt("a", a, da, 1);
        GradCheck.Report r = gc.run(() -> forward(y, x, a), () -> backward(dx, da, dy, x, a, false)).assertOk();
        assertEquals(8, r.checked());
    }
}
