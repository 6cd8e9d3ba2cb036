package io.augur.backend.cpu;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A workbench for the GEMM kernels (not a test): GFLOP/s of {@link ScalarGemm} and
 * {@link VectorGemm} on one thread, on the shapes the models run (M rows x K in -> N out).
 * Run after {@code mvn test-compile}:
 * <pre>
 *   java --add-modules=jdk.incubator.vector -cp target/classes:target/test-classes:$(ls target/lib/*.jar | tr '\n' :) \
 *        io.augur.backend.cpu.CpuGemmBench [reps] [filter]
 * </pre>
 * ({@code -Daugur.gemm.bits=256} measures the vector kernels at 256 bits on an AVX-512 machine.)
 * Each figure is the median of {@code reps} (default 7) timed batches of about 40 ms each,
 * after a warm-up, scalar and vector batches alternating; FLOPs are 2 M N K per call. The main
 * figure divides by the thread's CPU time, which on a shared machine leaves out the time the
 * thread waited for a core; the wall-clock figure is printed next to it.
 */
public final class CpuGemmBench {
    private CpuGemmBench() {}

    /**
     * One shape. {@code tn}: C[K, N] += A^T B with the reduction over M (the batch). zeroRows &gt; 0:
     * that fraction of x's rows is zero, at random; zeroRows &lt; 0: x's rows come in samples of 100
     * positions of which the first 1..41 are valid and the rest zero (padded), as in a history.
     */
    record Shape(String name, boolean tn, int M, int K, int N, double zeroRows) {}

    static List<Shape> shapes() {
        List<Shape> s = new ArrayList<>();
        // nn: y[M, N] = x[M, K] W[K, N]
        s.add(new Shape("aux mlp 1 fwd", false, 5000, 72, 100, 0));
        s.add(new Shape("aux mlp 2 fwd", false, 5000, 100, 50, 0));
        s.add(new Shape("aux mlp 3 fwd", false, 5000, 50, 1, 0));
        s.add(new Shape("aux mlp 1 dx", false, 5000, 100, 72, 0));
        s.add(new Shape("gru step fwd", false, 64, 36, 108, 0));
        s.add(new Shape("gru step fwd small", false, 5, 36, 108, 0));
        s.add(new Shape("gru step bwd dh", false, 64, 108, 36, 0));
        s.add(new Shape("gru input proj", false, 21, 36, 108, 0));
        s.add(new Shape("top mlp 1 fwd b128", false, 128, 162, 200, 0));
        s.add(new Shape("top mlp 1 fwd b1024", false, 1024, 162, 200, 0));
        s.add(new Shape("top mlp 1 fwd K200", false, 1024, 200, 200, 0));
        s.add(new Shape("top mlp 2 fwd", false, 1024, 200, 80, 0));
        s.add(new Shape("top mlp 3 fwd", false, 1024, 80, 1, 0));
        s.add(new Shape("top mlp 1 dx", false, 1024, 200, 162, 0));
        s.add(new Shape("att unit 1 fwd", false, 2500, 72, 80, 0));
        s.add(new Shape("att unit 2 fwd", false, 2500, 80, 40, 0));
        s.add(new Shape("att unit dR", false, 2500, 80, 72, 0));
        // tn: dW[K, N] += x[M, K]^T dy[M, N], reducing over the M batch rows
        s.add(new Shape("aux mlp 1 dW", true, 5000, 72, 100, 0));
        s.add(new Shape("aux mlp 2 dW", true, 5000, 100, 50, 0));
        s.add(new Shape("aux mlp 3 dW", true, 5000, 50, 1, 0));
        s.add(new Shape("top mlp 1 dW b1024", true, 1024, 162, 200, 0));
        s.add(new Shape("top mlp 1 dW b128", true, 128, 162, 200, 0));
        s.add(new Shape("top mlp 2 dW", true, 1024, 200, 80, 0));
        s.add(new Shape("att unit 1 dW", true, 2500, 72, 80, 0));
        s.add(new Shape("att unit 2 dW", true, 2500, 80, 40, 0));
        s.add(new Shape("gru dWx (one sample)", true, 21, 36, 108, 0));
        s.add(new Shape("att unit 1 dW, padded rows", true, 5000, 72, 80, -1));
        s.add(new Shape("aux mlp 1 dW, padded rows", true, 5000, 72, 100, -1));
        s.add(new Shape("top mlp 1 dW, 50% zero rows", true, 1024, 162, 200, 0.5));
        s.add(new Shape("top mlp 1 dW, 90% zero rows", true, 1024, 162, 200, 0.9));
        return s;
    }

    interface Body { void run(); }

    /** Calls of body that take about {@code nanos}, after running it for at least that long (warm-up). */
    static int calibrate(Body body, long nanos) {
        long t0 = System.nanoTime();
        int n = 0;
        while (System.nanoTime() - t0 < nanos || n < 20) { body.run(); n++; }
        return (int) Math.max(1, n * (double) nanos / (System.nanoTime() - t0));
    }

    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    /** {wall, cpu} seconds per call of a batch of calls. */
    static double[] seconds(Body body, int calls) {
        long c = MX.getCurrentThreadCpuTime(), s = System.nanoTime();
        for (int i = 0; i < calls; i++) body.run();
        return new double[] {(System.nanoTime() - s) * 1e-9 / calls, (MX.getCurrentThreadCpuTime() - c) * 1e-9 / calls};
    }

    static double median(double[] x) {
        double[] y = x.clone();
        java.util.Arrays.sort(y);
        return y[y.length / 2];
    }

    /**
     * Median {wall, cpu} seconds per call of each body, over reps rounds; a round times one batch
     * of about 40 ms of each body in turn, so that load from other processes falls on all alike.
     * The CPU time (this thread's, from the JVM) leaves out the time the thread waited for a core.
     */
    static double[][] time(int reps, Body... bodies) {
        int[] calls = new int[bodies.length];
        for (int b = 0; b < bodies.length; b++) calls[b] = calibrate(bodies[b], 300_000_000L) * 40 / 300;
        double[][] wall = new double[bodies.length][reps], cpu = new double[bodies.length][reps];
        for (int r = 0; r < reps; r++) {
            for (int b = 0; b < bodies.length; b++) {
                double[] t = seconds(bodies[b], Math.max(1, calls[b]));
                wall[b][r] = t[0];
                cpu[b][r] = t[1];
            }
        }
        double[][] med = new double[bodies.length][];
        for (int b = 0; b < bodies.length; b++) med[b] = new double[] {median(wall[b]), median(cpu[b])};
        return med;
    }

    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 7;
        String filter = args.length > 1 ? args[1] : "";
        boolean vector = ModuleLayer.boot().findModule(CpuGemm.VECTOR_MODULE).isPresent() && VectorGemm.unsupportedReason() == null;
        System.out.printf(Locale.ROOT, "GEMM bench: 1 thread, Java %s, facade provider %s, vector kernels at %s bits, median of %d%n",
                Runtime.version(), CpuGemm.provider(), vector ? VectorGemm.bits() : "-", reps);
        System.out.printf(Locale.ROOT, "GFLOP/s by thread CPU time (by wall time in brackets)%n");
        System.out.printf(Locale.ROOT, "%-30s %4s %6s %5s %5s %16s %16s %8s%n", "shape", "op", "M", "K", "N", "scalar", "vector", "speedup");
        for (Shape sh : shapes()) {
            if (!sh.name().contains(filter)) continue;
            SplittableRandom rng = new SplittableRandom(5);
            int M = sh.M(), K = sh.K(), N = sh.N();
            float[] x = OpTesting.uniform(rng, M * K, -1, 1), w = OpTesting.uniform(rng, K * N, -1, 1), dy = OpTesting.uniform(rng, M * N, -1, 1);
            if (sh.zeroRows() > 0) {
                for (int r = 0; r < M; r++) if (rng.nextDouble() < sh.zeroRows()) java.util.Arrays.fill(x, r * K, r * K + K, 0f);
            } else if (sh.zeroRows() < 0) {
                for (int r0 = 0; r0 < M; r0 += 100) {
                    int len = 1 + rng.nextInt(41);
                    for (int r = r0 + len; r < Math.min(M, r0 + 100); r++) java.util.Arrays.fill(x, r * K, r * K + K, 0f);
                }
            }
            float[] y = new float[M * N], dW = new float[K * N];
            Body scalar, vec;
            if (!sh.tn()) {
                scalar = () -> ScalarGemm.nn(M, N, K, x, 0, K, w, 0, N, y, 0, N, false);
                vec = () -> VectorGemm.nn(M, N, K, x, 0, K, w, 0, N, y, 0, N, false);
            } else {
                scalar = () -> ScalarGemm.tn(0, K, N, M, x, 0, K, dy, 0, N, dW, 0, N);
                vec = () -> VectorGemm.tn(0, K, N, M, x, 0, K, dy, 0, N, dW, 0, N);
            }
            double flops = 2.0 * M * N * K;
            double[][] t = vector ? time(reps, scalar, vec) : new double[][] {time(reps, scalar)[0], {Double.NaN, Double.NaN}};
            double ts = t[0][1], tv = t[1][1];
            System.out.printf(Locale.ROOT, "%-30s %4s %6d %5d %5d %7.2f (%6.2f) %7.2f (%6.2f) %7.2fx%n", sh.name(), sh.tn() ? "tn" : "nn", M, K, N,
                    flops / ts * 1e-9, flops / t[0][0] * 1e-9, flops / tv * 1e-9, flops / t[1][0] * 1e-9, ts / tv);
        }
    }
}
