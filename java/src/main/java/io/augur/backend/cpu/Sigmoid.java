package io.augur.backend.cpu;

/**
 * Elementwise logistic function.
 * <pre>
 *   forward:  y = 1 / (1 + e^-x)
 *   backward: dx = dy y (1 - y)     (=; uses the saved output y)
 * y, x, dy, dx (n)
 * </pre>
 * Evaluated in double and rounded once, so it neither overflows nor loses the tails.
 */
final class Sigmoid {
    private Sigmoid() {}

    /** Elements per chunk of the fast path. */
    static final int GRAIN = 8 * 1024;

    /** The logistic function of one value (also used by {@link Dice} and {@link Bce}). */
    static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    // ================================================================== reference (the spec)

    static void forwardRef(float[] y, float[] x, int n) {
        for (int i = 0; i < n; i++) y[i] = sigmoid(x[i]);
    }

    static void backwardRef(float[] dx, float[] dy, float[] y, int n) {
        for (int i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
    }

    // ================================================================== fast path

    static void forward(CpuThreads th, float[] y, float[] x, int n) {
        th.parallelFor(n, GRAIN, (chunk, lo, hi) -> {
            for (int i = lo; i < hi; i++) y[i] = sigmoid(x[i]);
        });
    }

    static void backward(CpuThreads th, float[] dx, float[] dy, float[] y, int n) {
        th.parallelFor(n, GRAIN, (chunk, lo, hi) -> {
            for (int i = lo; i < hi; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
        });
    }
}
