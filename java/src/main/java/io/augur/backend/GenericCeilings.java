package io.augur.backend;

import java.util.Locale;

/**
 * Ceilings measured through the {@link Backend} ops themselves, for a backend without
 * {@link Profiling}: the fp32 GEMM rate of {@link Backend#linear} on square matrices (the GEMM the
 * models use, on every thread the backend has) and the streaming bandwidth of
 * {@link Backend#addInto} (y += x reads 8 and writes 4 bytes per value) on arrays far larger than
 * the caches. Each figure is the best of several timed rounds.
 */
public final class GenericCeilings {
    private GenericCeilings() {}

    /**
     * @param small a quick, cache-sized measurement (smoke tests); the figures then say little
     */
    public static Profiling.Ceilings measure(Backend be, boolean small) {
        int n = small ? 128 : 1024;
        int m = small ? 1 << 18 : 1 << 25;          // 1 MiB or 128 MiB per array
        double minSeconds = small ? 0.02 : 0.3;
        int rounds = small ? 2 : 5;

        Tensor x = be.floats("ceiling.gemm.x", n, n), w = be.floats("ceiling.gemm.w", n, n);
        Tensor b = be.floats("ceiling.gemm.b", n), y = be.floats("ceiling.gemm.y", n, n);
        be.fill(x, 0.5f, n * n);
        be.fill(w, 0.25f, n * n);
        double gemm = best(() -> be.linear(y, x, w, b, n, n, n), be, rounds, minSeconds) ;
        double flops = 2.0 * n * n * n / gemm;

        Tensor sx = be.floats("ceiling.stream.x", m), sy = be.floats("ceiling.stream.y", m);
        be.fill(sx, 1e-7f, m);
        double stream = best(() -> be.addInto(sy, sx, m), be, rounds, minSeconds);
        double bytes = 12.0 * m / stream;
        String how = String.format(Locale.ROOT, "GEMM: Backend.linear %dx%dx%d fp32; stream: Backend.addInto (y += x) over %d MiB arrays, "
                + "12 bytes per value; best of %d rounds of >= %.2f s (%s)", n, n, n, (4L * m) >> 20, rounds, minSeconds, be.describe());
        return new Profiling.Ceilings(flops, bytes, how);
    }

    /** The best seconds per call over rounds, each round repeating the call for at least minSeconds. */
    private static double best(Runnable op, Backend be, int rounds, double minSeconds) {
        op.run();
        be.synchronize();
        double best = Double.MAX_VALUE;
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            int calls = 0;
            double dt;
            do {
                op.run();
                calls++;
                be.synchronize();
                dt = (System.nanoTime() - t0) / 1e9;
            } while (dt < minSeconds);
            best = Math.min(best, dt / calls);
        }
        return best;
    }
}
