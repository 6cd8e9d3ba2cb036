package io.augur.backend.cpu;

import io.augur.backend.Backend;
import io.augur.backend.Tensor;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Helpers of the CPU op tests: random data, poisoned buffers (to prove that rows past B are
 * neither read nor written), and comparisons that name the first mismatches.
 */
final class OpTesting {
    private OpTesting() {}

    /**
     * Threads of the parity tests. Three, so that batches can be split into a chunk count that
     * does not divide them (the development machine has two cores; correctness does not care).
     */
    static final int THREADS = 3;

    /** A quiet NaN with a recognisable payload. Ops must leave it in place past B; any arithmetic on it gives NaN. */
    static final float POISON = Float.intBitsToFloat(0x7fc00bad);

    static float[] uniform(SplittableRandom rng, int n, float lo, float hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float) rng.nextDouble();
        return a;
    }

    /** n values uniform in [lo, hi], then the rest of a planned-size array poisoned. */
    static float[] uniformPoisoned(SplittableRandom rng, int n, int planned, float lo, float hi) {
        float[] a = new float[planned];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float) rng.nextDouble();
        Arrays.fill(a, n, planned, POISON);
        return a;
    }

    /** Values in +-[minAbs, maxAbs]: away from zero, for ops with a kink there. */
    static float[] awayFromZero(SplittableRandom rng, int n, float minAbs, float maxAbs) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            float m = minAbs + (maxAbs - minAbs) * (float) rng.nextDouble();
            a[i] = rng.nextBoolean() ? m : -m;
        }
        return a;
    }

    static float[] poisoned(int n) {
        float[] a = new float[n];
        Arrays.fill(a, POISON);
        return a;
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    /**
     * Lengths of B samples over T positions: 0, 1 and T first, the rest uniform in [0, T].
     */
    static int[] lengths(SplittableRandom rng, int B, int T) {
        int[] len = new int[B];
        for (int b = 0; b < B; b++) {
            len[b] = switch (b) {
                case 0 -> 0;
                case 1 -> 1;
                case 2 -> T;
                default -> rng.nextInt(T + 1);
            };
        }
        return len;
    }

    static float[] copy(float[] a) { return a == null ? null : a.clone(); }

    /** |expected - actual| &lt;= atol + rtol |expected| on [from, to), else fails naming the first mismatches. */
    static void assertClose(String what, float[] expected, float[] actual, int from, int to, double atol, double rtol) {
        StringBuilder bad = new StringBuilder();
        int failed = 0;
        for (int i = from; i < to; i++) {
            double e = expected[i], a = actual[i];
            double err = Math.abs(e - a);
            if (!(err <= atol + rtol * Math.abs(e)) && failed++ < 8) {
                bad.append(String.format(Locale.ROOT, "\n  [%d] expected %.8g, got %.8g", i, e, a));
            }
        }
        if (failed > 0) {
            throw new AssertionError(String.format(Locale.ROOT, "%s: %d of %d elements outside %.1e + %.1e |expected|%s",
                    what, failed, to - from, atol, rtol, bad));
        }
    }

    /** Bit-for-bit equality on [from, to). */
    static void assertSameBits(String what, float[] expected, float[] actual, int from, int to) {
        for (int i = from; i < to; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(String.format(Locale.ROOT, "%s: first difference at [%d]: expected %.9g, got %.9g",
                        what, i, expected[i], actual[i]));
            }
        }
    }

    /** Every element of [from, to) still holds {@link #POISON}: untouched. */
    static void assertPoisoned(String what, float[] a, int from, int to) {
        int bits = Float.floatToRawIntBits(POISON);
        for (int i = from; i < to; i++) {
            if (Float.floatToRawIntBits(a[i]) != bits) throw new AssertionError(what + ": element " + i + " past the batch was written: " + a[i]);
        }
    }

    /** No NaN or infinity in [from, to) (a poisoned value that leaked in shows here). */
    static void assertFinite(String what, float[] a, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!Float.isFinite(a[i])) throw new AssertionError(what + ": element " + i + " is " + a[i]);
        }
    }

    /** A backend tensor holding a copy of a. */
    static Tensor up(Backend be, float[] a) {
        Tensor t = be.floats("t", a.length);
        be.upload(t, a, a.length);
        return t;
    }

    /** A backend tensor of n values v. */
    static Tensor filled(Backend be, int n, float v) {
        Tensor t = be.floats("t", n);
        be.fill(t, v, n);
        return t;
    }

    /** All of t, downloaded. */
    static float[] down(Backend be, Tensor t) {
        float[] a = new float[t.size()];
        be.download(t, a, a.length);
        return a;
    }
}
