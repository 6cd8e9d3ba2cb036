package io.augur.backend.cpu;

/** Placeholder: being written. */
final class InterestConcat {
    private InterestConcat() {}

    static void forwardRef(float[] x, float[] ea, float[] s, float[] v, int B, int E, int xStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] x, float[] ea, float[] s, float[] v, int B, int E, int xStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dEa, float[] dS, float[] dV, float[] dx, float[] ea, float[] s, int B, int E, int xStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dEa, float[] dS, float[] dV, float[] dx, float[] ea, float[] s, int B, int E, int xStride, int off) { throw new UnsupportedOperationException("not written yet"); }
}
