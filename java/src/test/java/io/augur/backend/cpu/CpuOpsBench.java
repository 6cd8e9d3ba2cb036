package io.augur.backend.cpu;

import java.util.Locale;
import java.util.SplittableRandom;

import static io.augur.backend.cpu.OpTesting.*;

/**
 * A small workbench for the fast CPU ops (not a test): times Linear forward + backward at the top
 * MLP's first layer, the embedding backward (reference and fast), the batch
 * statistics ops, and the DIEN recurrence (GRU and AUGRU) at the Amazon configuration. Run after {@code mvn test-compile}:
 * <pre>
 *   java -cp target/classes:target/test-classes io.augur.backend.cpu.CpuOpsBench [threads]
 * </pre>
 * Each figure is the median of several timed repetitions after a warm-up.
 */
public final class CpuOpsBench {
    private CpuOpsBench() {}

    interface Body { void run(); }

    /** Median seconds per call over {@code reps} timed batches of {@code inner} calls. */
    static double time(Body body, int warm, int reps, int inner) {
        for (int i = 0; i < warm; i++) body.run();
        double[] t = new double[reps];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            for (int i = 0; i < inner; i++) body.run();
            t[r] = (System.nanoTime() - t0) * 1e-9 / inner;
        }
        java.util.Arrays.sort(t);
        return t[reps / 2];
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        System.out.printf(Locale.ROOT, "CPU ops bench: %d threads, %d cores, Java %s%n", threads, Runtime.getRuntime().availableProcessors(), Runtime.version());
        try (CpuThreads th = new CpuThreads(threads); CpuThreads one = new CpuThreads(1)) {
            linear(th, one, 1024, 162, 200);
            linear(th, one, 128, 162, 200);
            embeddingBackward(one, 128, 100);
            embeddingBackward(one, 2048, 100);
            statistics(th, one, 1024, 200);
            recurrence(th, one, io.augur.backend.Recurrence.GRU, 128, 100, 21, 36, 36);
            recurrence(th, one, io.augur.backend.Recurrence.AUGRU, 128, 100, 21, 36, 36);
        }
    }

    static void linear(CpuThreads th, CpuThreads one, int B, int in, int out) {
        SplittableRandom rng = new SplittableRandom(1);
        float[] x = uniform(rng, B * in, -1, 1), W = uniform(rng, in * out, -1, 1), b = uniform(rng, out, -1, 1);
        float[] y = new float[B * out], dy = uniform(rng, B * out, -1, 1), dx = new float[B * in], dW = new float[in * out], db = new float[out];
        double flops = 3.0 * 2 * B * in * out; // forward, dx, dW
        for (CpuThreads t : new CpuThreads[] {one, th}) {
            double fwd = time(() -> Linear.forward(t, y, x, W, b, B, in, out), 200, 9, 10);
            double bwd = time(() -> Linear.backward(t, dx, dW, db, dy, x, W, B, in, out), 200, 9, 10);
            System.out.printf(Locale.ROOT, "linear B=%d in=%d out=%d, %d thread(s): forward %.3f ms, backward %.3f ms, forward+backward %.2f GFLOP/s%n",
                    B, in, out, t.threads(), fwd * 1e3, bwd * 1e3, flops / (fwd + bwd) * 1e-9);
        }
        double ref = time(() -> { Linear.forwardRef(y, x, W, b, B, in, out); Linear.backwardRef(dx, dW, db, dy, x, W, B, in, out); }, 3, 3, 1);
        System.out.printf(Locale.ROOT, "linear B=%d reference (double sums): %.2f GFLOP/s%n", B, flops / ref * 1e-9);
    }

    /** Forward + backward of the recurrence, lengths uniform in [1, 2 meanLen - 1] (mean meanLen), both outputs contracted. */
    static void recurrence(CpuThreads th, CpuThreads one, io.augur.backend.Recurrence kind, int B, int T, int meanLen, int E, int H) {
        SplittableRandom rng = new SplittableRandom(3);
        int G = 3 * H;
        int[] len = new int[B];
        long sum = 0;
        for (int b = 0; b < B; b++) sum += len[b] = 1 + rng.nextInt(2 * meanLen - 1);
        float[] x = uniform(rng, B * T * E, -1, 1), att = uniform(rng, B * T, 0, 1);
        float[] wx = uniform(rng, E * G, -0.3f, 0.3f), wh = uniform(rng, H * G, -0.3f, 0.3f), bx = uniform(rng, G, -0.1f, 0.1f), bh = uniform(rng, G, -0.1f, 0.1f);
        io.augur.backend.RecurrenceParams p = new io.augur.backend.RecurrenceParams(CpuTensor.wrap("wx", wx, E, G), CpuTensor.wrap("wh", wh, H, G),
                CpuTensor.wrap("bx", bx, G), CpuTensor.wrap("bh", bh, G));
        io.augur.backend.RecurrenceParams g = new io.augur.backend.RecurrenceParams(CpuTensor.wrap("gwx", new float[E * G], E, G),
                CpuTensor.wrap("gwh", new float[H * G], H, G), CpuTensor.wrap("gbx", new float[G], G), CpuTensor.wrap("gbh", new float[G], G));
        float[] hOut = new float[B * T * H], hLast = new float[B * H], dx = new float[B * T * E], dAtt = new float[B * T];
        float[] dHOut = uniform(rng, B * T * H, -1, 1), dHLast = uniform(rng, B * H, -1, 1);
        float[] a = kind.usesAttention() ? att : null, da = kind.usesAttention() ? dAtt : null;
        Recurrence.CpuWorkspace ws = new Recurrence.CpuWorkspace(B, T, E, H);
        for (CpuThreads t : new CpuThreads[] {one, th}) {
            double s = time(() -> {
                Recurrence.forward(t, hOut, hLast, ws, x, a, len, p, kind, B, T, E, H);
                Recurrence.backward(t, dx, da, g, dHOut, dHLast, ws, x, a, len, p, kind, B, T, E, H);
            }, 50, 5, 4);
            System.out.printf(Locale.ROOT, "%s B=%d T=%d mean len %.1f E=%d H=%d, %d thread(s): forward+backward %.3f ms (median of 5)%n",
                    kind, B, T, (double) sum / B, E, H, t.threads(), s * 1e3);
        }
        double ref = time(() -> {
            Recurrence.forwardRef(hOut, hLast, ws, x, a, len, p, kind, B, T, E, H);
            Recurrence.backwardRef(dx, da, g, dHOut, dHLast, ws, x, a, len, p, kind, B, T, E, H);
        }, 3, 3, 1);
        System.out.printf(Locale.ROOT, "%s reference: forward+backward %.3f ms%n", kind, ref * 1e3);
    }

    static void embeddingBackward(CpuThreads one, int B, int T) {
        int V = 300_000, D = 18, rows = B * T, stride = 2 * D;
        SplittableRandom rng = new SplittableRandom(2);
        int[] ids = new int[rows], len = lengths(rng, B, T);
        for (int r = 0; r < rows; r++) ids[r] = 1 + (int) Math.min(V - 2, Math.abs(rng.nextGaussian()) * 20000); // skewed, with repeats
        float[] dOut = uniform(rng, rows * stride, -1, 1);
        CpuSparseGrad g = new CpuSparseGrad("item", V, D, rows);
        double ref = time(() -> { Embedding.gatherBackwardRef(g, dOut, ids, len, rows, T, D, stride, 0); g.clear(); }, 30, 9, 5);
        double seq = time(() -> { Embedding.gatherBackward(one, g, dOut, ids, len, rows, T, D, stride, 0); g.clear(); }, 30, 9, 5);
        System.out.printf(Locale.ROOT, "embedding backward rows=%d D=%d (+ clear): reference %.3f ms, fast %.3f ms%n",
                rows, D, ref * 1e3, seq * 1e3);
    }

    static void statistics(CpuThreads th, CpuThreads one, int B, int C) {
        SplittableRandom rng = new SplittableRandom(3);
        float[] x = uniform(rng, B * C, -2, 2), y = new float[B * C], dy = uniform(rng, B * C, -1, 1), dx = new float[B * C];
        float[] mean = new float[C], invStd = new float[C], g = filled(C, 1), be = new float[C], rm = new float[C], rv = filled(C, 1);
        float[] dg = new float[C], db = new float[C], alpha = filled(C, 0.1f), da = new float[C];
        for (CpuThreads t : new CpuThreads[] {one, th}) {
            double bn = time(() -> { BatchNorm.forward(t, y, mean, invStd, x, g, be, rm, rv, B, C, true, 0.99f, 1e-5f);
                                     BatchNorm.backward(t, dx, dg, db, dy, mean, invStd, x, g, B, C); }, 200, 9, 10);
            double dice = time(() -> { Dice.forward(t, y, mean, invStd, x, alpha, rm, rv, B, C, true, 0.99f, 1e-8f);
                                       Dice.backward(t, dx, da, dy, mean, invStd, x, alpha, B, C); }, 200, 9, 10);
            System.out.printf(Locale.ROOT, "B=%d C=%d, %d thread(s): batch norm fwd+bwd %.3f ms, dice fwd+bwd %.3f ms%n", B, C, t.threads(), bn * 1e3, dice * 1e3);
        }
    }
}
