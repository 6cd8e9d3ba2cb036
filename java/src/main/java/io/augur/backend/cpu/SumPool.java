package io.augur.backend.cpu;

/** Placeholder: being written. */
final class SumPool {
    private SumPool() {}

    static void forwardRef(float[] out, float[] x, int[] lengths, int B, int T, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void forward(CpuThreads th, float[] out, float[] x, int[] lengths, int B, int T, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backwardRef(float[] dx, float[] dOut, int[] lengths, int B, int T, int C) { throw new UnsupportedOperationException("not written yet"); }
    static void backward(CpuThreads th, float[] dx, float[] dOut, int[] lengths, int B, int T, int C) { throw new UnsupportedOperationException("not written yet"); }
}
