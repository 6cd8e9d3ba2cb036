package io.augur.backend.cpu;

/** Placeholder: being written. */
final class PRelu {
    private PRelu() {}

    static void forwardRef(float[] y, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] y, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dAlpha, float[] dy, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dAlpha, float[] dy, float[] x, float[] alpha, int B, int C) { throw new UnsupportedOperationException("not written yet"); }
}
