package io.augur.backend.cpu;

/**
 * Adam (Kingma and Ba) on a dense parameter, with L2 weight decay added to the gradient (not
 * decoupled), bias-corrected at the 1-based global step t.
 * <pre>
 *   g  = grad + wd p
 *   m  = b1 m + (1 - b1) g
 *   v  = b2 v + (1 - b2) g^2
 *   p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * p, grad, m, v (n)         grad is read, not cleared
 * </pre>
 * Elementwise: the fast path runs the same per-element code over chunks, so it matches the
 * reference bit for bit.
 */
final class Adam {
    private Adam() {}

    static final int GRAIN = 16 * 1024;

    static void stepRef(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd, int step) {
        checkStep(step);
        range(p, g, m, v, 0, n, lr, b1, b2, eps, wd, step);
    }

    static void step(CpuThreads th, float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd, int step) {
        checkStep(step);
        th.parallelFor(n, GRAIN, (chunk, lo, hi) -> range(p, g, m, v, lo, hi, lr, b1, b2, eps, wd, step));
    }

    static void checkStep(int step) {
        if (step < 1) throw new IllegalArgumentException("adam: step is 1-based, got " + step);
    }

    /** Elements [lo, hi). */
    private static void range(float[] p, float[] g, float[] m, float[] v, int lo, int hi,
                              float lr, float b1, float b2, float eps, float wd, int step) {
        float bc1 = (float) (1.0 - Math.pow(b1, step));
        float bc2 = (float) (1.0 - Math.pow(b2, step));
        for (int i = lo; i < hi; i++) {
            float gi = g[i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            float mHat = m[i] / bc1, vHat = v[i] / bc2;
            p[i] -= lr * mHat / ((float) Math.sqrt(vHat) + eps);
        }
    }
}
