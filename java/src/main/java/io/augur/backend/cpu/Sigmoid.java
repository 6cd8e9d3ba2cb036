package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Sigmoid {
    private Sigmoid() {}

    static void forwardRef(float[] y, float[] x, int n) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] y, float[] x, int n) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dy, float[] y, int n) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dy, float[] y, int n) { throw new UnsupportedOperationException("not written yet"); }
}
