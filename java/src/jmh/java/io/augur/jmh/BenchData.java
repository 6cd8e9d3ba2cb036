package io.augur.jmh;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;

import java.util.SplittableRandom;

/**
 * Inputs shaped like the benchmark world (T = 100, ~18 valid behaviours per training sample on
 * average, Amazon config D = 18, E = 36, H = 36), uploaded to a backend.
 */
final class BenchData {
    private BenchData() {}

    static final int T = 100, D = 18, E = 36, H = 36;
    /** Mean valid history length of data/bench's training rows. */
    static final double MEAN_LENGTH = 17.9;

    /** Lengths 0..T, geometric with the given mean (a long tail, like real histories), seeded. */
    static int[] lengths(SplittableRandom rng, int B, double mean) {
        int[] len = new int[B];
        double p = 1.0 / (mean + 1);
        for (int b = 0; b < B; b++) {
            int n = (int) Math.floor(Math.log(1 - rng.nextDouble()) / Math.log(1 - p));
            len[b] = Math.min(T, n);
        }
        return len;
    }

    static long validPositions(int[] len) {
        long n = 0;
        for (int l : len) n += l;
        return n;
    }

    /** A float tensor filled uniformly in [lo, hi). */
    static Tensor uniform(Backend be, SplittableRandom rng, String name, float lo, float hi, int... shape) {
        Tensor t = be.floats(name, shape);
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * (float) rng.nextDouble();
        be.upload(t, v, v.length);
        return t;
    }

    static Tensor ints(Backend be, String name, int[] v, int... shape) {
        Tensor t = be.ints(name, shape);
        be.upload(t, v, v.length);
        return t;
    }
}
