package io.augur.backend.cpu;

/** Placeholder: being written. */
final class SparseUpdate {
    private SparseUpdate() {}

    static void updateRef(float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, io.augur.backend.SparseOptimizer opt, int step) { throw new UnsupportedOperationException("not written yet"); }
    static void update(CpuThreads th, float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, io.augur.backend.SparseOptimizer opt, int step) { throw new UnsupportedOperationException("not written yet"); }
}
