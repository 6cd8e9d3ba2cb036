package io.augur.backend.cpu;

/** Placeholder: being written. */
final class Adam {
    private Adam() {}

    static void stepRef(float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd, int step) { throw new UnsupportedOperationException("not written yet"); }
    static void step(CpuThreads th, float[] p, float[] g, float[] m, float[] v, int n, float lr, float b1, float b2, float eps, float wd, int step) { throw new UnsupportedOperationException("not written yet"); }
}
