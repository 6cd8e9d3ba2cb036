package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Embedding {
    private Embedding() {}

    static void gatherRef(float[] out, int[] ids, int[] lengths, float[] table, int rows, int T, int D, int outStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void gather(CpuThreads th, float[] out, int[] ids, int[] lengths, float[] table, int rows, int T, int D, int outStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void gatherBackwardRef(CpuSparseGrad g, float[] dOut, int[] ids, int[] lengths, int rows, int T, int D, int outStride, int off) { throw new UnsupportedOperationException("not written yet"); }
    static void gatherBackward(CpuThreads th, CpuSparseGrad g, float[] dOut, int[] ids, int[] lengths, int rows, int T, int D, int outStride, int off) { throw new UnsupportedOperationException("not written yet"); }
}
