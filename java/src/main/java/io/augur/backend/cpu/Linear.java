package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Linear {
    private Linear() {}

    static void forwardRef(float[] y, float[] x, float[] W, float[] b, int B, int in, int out) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] y, float[] x, float[] W, float[] b, int B, int in, int out) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dW, float[] db, float[] dy, float[] x, float[] W, int B, int in, int out) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dW, float[] db, float[] dy, float[] x, float[] W, int B, int in, int out) { throw new UnsupportedOperationException("not written yet"); }
}
