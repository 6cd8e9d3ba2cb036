package io.augur.backend.cpu;

/**
 * Scratch memory of the fast path, one set per calling thread (the thread that invokes an op and
 * waits in {@link CpuThreads#parallelFor}; workers write into disjoint slices of it). Each buffer
 * grows on first use to the largest size asked for and is then reused, so after the first step
 * of a training run no op allocates. Contents are undefined on entry: callers clear what they use.
 *
 * <p>An op must not hold a buffer across a call to another op that uses the same buffer.
 */
final class CpuScratch {
    private static final ThreadLocal<CpuScratch> LOCAL = ThreadLocal.withInitial(CpuScratch::new);

    private double[] partials = new double[0];
    private float[] matrix = new float[0];

    private CpuScratch() {}

    /** Per-chunk partial sums of a batch reduction (BatchNorm, Dice, PReLU): at least n doubles. */
    static double[] partials(int n) {
        CpuScratch s = LOCAL.get();
        if (s.partials.length < n) s.partials = new double[n];
        return s.partials;
    }

    /** A matrix-sized buffer (Linear's transposed weight): at least n floats. */
    static float[] matrix(int n) {
        CpuScratch s = LOCAL.get();
        if (s.matrix.length < n) s.matrix = new float[n];
        return s.matrix;
    }
}
