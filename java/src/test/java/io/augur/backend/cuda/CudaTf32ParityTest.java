package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.backend.Precision;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Locale;
import java.util.SplittableRandom;

import static io.augur.backend.cuda.GpuTesting.Pair;
import static io.augur.backend.cuda.GpuTesting.lengths;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --precision tf32} against the fp32 CPU reference: the TF32 GEMM kernel (and cuBLAS's TF32
 * mode where it loads) and the fused activation unit's tensor-core kernels. Each test runs on a
 * CUDA backend of its own, switched to TF32, beside the shared fp32 one. SKIPPED where no GPU is
 * usable, or where the GPU has no TF32 tensor cores (compute capability below 8.0).
 *
 * <p>Three kinds of check:
 * <ul>
 *   <li><b>Exact on small integers.</b> Integers up to 16 in magnitude are exact in TF32, their
 *       products too, and every sum here stays far below 2^24, so fp32 adds them exactly in any
 *       order: the tensor-core result must equal the reference bit for bit. This checks the
 *       fragments' lane layout, the tile edges, split K, the bias and the ones row exactly.
 *   <li><b>Within TF32's error bound on random values.</b> Rounding each operand to TF32 (10
 *       mantissa bits, to nearest) changes it by at most 2^-11 of itself, so a product by at most
 *       about 2^-10 of itself; with the fp32 sum of K terms the error of an output is at most
 *       (2^-10 + (K + 2) 2^-24) sum_k |a_k b_k| (plus the rounding of what it is added to). The
 *       test computes that bound for every element from the inputs.
 *   <li><b>The activation unit, exact</b> on values TF32 holds exactly (see
 *       {@link #activationUnitIsExactOnSmallDyadics}): the tensor-core products' layout, tiles and
 *       edges, bit for bit.
 *   <li><b>The activation unit on random values</b>, whose products feed sigmoid or PReLU layers
 *       and sums over the positions: the forward element by element within {@link #UNIT_F_ATOL} +
 *       {@link #UNIT_F_RTOL} |x| (8 times TF32's unit roundoff 2^-11, about 4.9e-4; the first
 *       layer sums 2W = 72 rounded products); each gradient in the Euclidean norm within
 *       {@link #UNIT_G_NORM} of the reference (40 unit roundoffs). Not element by element: a
 *       pre-activation within TF32's rounding of zero takes the other side of PReLU's kink, and
 *       the few gradient elements that sum over that position then differ by a whole term (the
 *       emulator's runs: PReLU at T = 100 puts 1% of dW2's elements past 1e-2 + 1e-2 |x|, while
 *       the norm's error is 5e-3; sigmoid's is 6e-4). Each check has been seen to fail when the
 *       kernels were wrong, and without the rounding (an emulator built to skip it) the same cases'
 *       norm errors are below 2e-6.
 * </ul>
 */
@Tag("gpu")
class CudaTf32ParityTest {
    static final double UNIT_F_ATOL = 4e-3, UNIT_F_RTOL = 4e-3;
    static final double UNIT_G_NORM = 2e-2;

    CudaBackend tf32;
    SplittableRandom rng;

    @BeforeEach
    void open() {
        GpuTesting.assumeTensorCores();
        rng = new SplittableRandom(7);
    }

    /**
     * A TF32 backend on the shared context, with the GEMM provider asked for. Not closed: closing a
     * backend closes its context, which the shared backend still uses (its arena, a few MiB, stays
     * until the JVM exits, as CudaOpsParityTest's built-in-GEMM backends' do).
     */
    private GpuTesting.Twin twin(String provider) {
        tf32 = new CudaBackend(GpuTesting.backend().runtime(), provider);
        assertEquals(Precision.TF32, tf32.setPrecision(Precision.TF32));
        // the tests' products are small enough for gemm_small_kernel, which stays in fp32 under
        // TF32; these check the tensor-core kernel (theSmallKernelStaysFp32 the other)
        tf32.setTuning(tf32.tuning().with(KernelTuning.GEMM_SMALL, "off"));
        return new GpuTesting.Twin(tf32);
    }

    /**
     * Under TF32 the built-in GEMM's small products still go to gemm_small_kernel, in fp32: random
     * values in [-1, 1] through a linear layer forward and backward within the fp32 tolerances of
     * CudaOpsParityTest (TF32's rounding alone would be 2^-11 of each product), and no TF32 kernel
     * launched.
     */
    @Test
    void theSmallKernelStaysFp32() {
        try (GpuTesting.Twin t = twin("builtin")) {
            BuiltinGemm g = (BuiltinGemm) tf32.gemm();
            tf32.setTuning(tf32.tuning().with(KernelTuning.GEMM_SMALL, "auto"));
            int rows = 37, in = 162, out = 200;
            assertEquals(Kernels.GEMM_SMALL, g.kernel(rows, out, in));
            CudaRuntime rt = tf32.runtime();
            rt.resetTimes();
            rt.setTiming(true);
            java.util.Set<String> ran;
            try {
                Pair x = t.floats("x", GpuTesting.uniform(rng, rows * in, -1, 1)), w = t.floats("W", GpuTesting.uniform(rng, in * out, -1, 1));
                Pair b = t.floats("b", GpuTesting.uniform(rng, out, -1, 1)), y = t.poisoned("y", rows * out);
                Pair dy = t.floats("dy", GpuTesting.uniform(rng, rows * out, -1, 1)), dx = t.poisoned("dx", rows * in);
                Pair dW = t.floats("dW", GpuTesting.uniform(rng, in * out, -1, 1)), db = t.floats("db", GpuTesting.uniform(rng, out, -1, 1));
                t.both(be -> be.linear(y.on(be), x.on(be), w.on(be), b.on(be), rows, in, out));
                t.both(be -> be.linearBackward(dx.on(be), dW.on(be), db.on(be), dy.on(be), x.on(be), w.on(be), rows, in, out));
                ran = new java.util.TreeSet<>(rt.collectTimes().keySet());
                t.assertClose("small kernel under TF32: y", y, CudaOpsParityTest.TIGHT_ATOL, CudaOpsParityTest.TIGHT_RTOL);
                t.assertClose("small kernel under TF32: dx", dx, CudaOpsParityTest.TIGHT_ATOL, CudaOpsParityTest.TIGHT_RTOL);
                t.assertClose("small kernel under TF32: dW", dW, CudaOpsParityTest.LOOSE_ATOL, CudaOpsParityTest.LOOSE_RTOL);
                t.assertClose("small kernel under TF32: db", db, CudaOpsParityTest.LOOSE_ATOL, CudaOpsParityTest.LOOSE_RTOL);
            } finally {
                rt.setTiming(false);
                rt.resetTimes();
            }
            assertTrue(ran.contains(Kernels.GEMM_SMALL) && !ran.contains(Kernels.GEMM_TF32) && !ran.contains(Kernels.GEMM), "kernels: " + ran);
        }
    }

    static float[] integers(SplittableRandom rng, int n, int max) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rng.nextInt(2 * max + 1) - max;
        return a;
    }

    /**
     * A linear layer forward and backward on integers in [-4, 4]: y, dx, dW (+= into integers) and
     * db equal the reference exactly. 2048 rows split dW's K and put the bias gradient in the ones
     * row of the built-in kernel; 37 x 162 x 200 and 130 x 65 x 80 leave partial tiles everywhere.
     */
    @ParameterizedTest
    @CsvSource({"builtin, 37, 162, 200", "builtin, 130, 65, 80", "builtin, 1, 3, 1", "builtin, 2048, 162, 200", "builtin, 1500, 80, 1",
            "auto, 37, 162, 200", "auto, 2048, 162, 200"})
    void linearIsExactOnSmallIntegers(String provider, int rows, int in, int out) {
        try (GpuTesting.Twin t = twin(provider)) {
            float[] x = integers(rng, rows * in, 4), w = integers(rng, in * out, 4), b = integers(rng, out, 4);
            float[] dy = integers(rng, rows * out, 4), dW0 = integers(rng, in * out, 4), db0 = integers(rng, out, 4);
            Pair px = t.floats("x", x), pw = t.floats("W", w), pb = t.floats("b", b), y = t.poisoned("y", rows * out);
            Pair pdy = t.floats("dy", dy), dx = t.poisoned("dx", rows * in), dW = t.floats("dW", dW0), db = t.floats("db", db0);
            t.both(be -> be.linear(y.on(be), px.on(be), pw.on(be), pb.on(be), rows, in, out));
            t.both(be -> be.linearBackward(dx.on(be), dW.on(be), db.on(be), pdy.on(be), px.on(be), pw.on(be), rows, in, out));
            String what = tf32.gemm().name() + " TF32 on integers " + rows + "x" + in + "x" + out + " ";
            for (Pair p : new Pair[] {y, dx, dW, db}) t.assertClose(what + p.cpu().name(), p, 0, 0);
        }
    }

    /** Random values in [-1, 1]: every element of y, dx, dW and db within its own TF32 error bound (see the class comment). */
    @ParameterizedTest
    @CsvSource({"builtin, 37, 162, 200", "builtin, 2048, 162, 200", "builtin, 300, 72, 80", "auto, 300, 72, 80"})
    void linearIsWithinTheTf32Bound(String provider, int rows, int in, int out) {
        try (GpuTesting.Twin t = twin(provider)) {
            float[] x = GpuTesting.uniform(rng, rows * in, -1, 1), w = GpuTesting.uniform(rng, in * out, -1, 1), b = GpuTesting.uniform(rng, out, -1, 1);
            float[] dy = GpuTesting.uniform(rng, rows * out, -1, 1), dW0 = GpuTesting.uniform(rng, in * out, -1, 1), db0 = GpuTesting.uniform(rng, out, -1, 1);
            Pair px = t.floats("x", x), pw = t.floats("W", w), pb = t.floats("b", b), y = t.poisoned("y", rows * out);
            Pair pdy = t.floats("dy", dy), dx = t.poisoned("dx", rows * in), dW = t.floats("dW", dW0), db = t.floats("db", db0);
            t.both(be -> be.linear(y.on(be), px.on(be), pw.on(be), pb.on(be), rows, in, out));
            t.both(be -> be.linearBackward(dx.on(be), dW.on(be), db.on(be), pdy.on(be), px.on(be), pw.on(be), rows, in, out));
            // sum_k |a_k b_k| of every output, and what the output is added to
            double[] sy = new double[rows * out], sdx = new double[rows * in], sdW = new double[in * out], sdb = new double[out];
            for (int r = 0; r < rows; r++)
                for (int i = 0; i < in; i++) {
                    double xa = Math.abs(x[r * in + i]);
                    for (int o = 0; o < out; o++) {
                        double wa = Math.abs(w[i * out + o]), da = Math.abs(dy[r * out + o]);
                        sy[r * out + o] += xa * wa;
                        sdx[r * in + i] += da * wa;
                        sdW[i * out + o] += xa * da;
                    }
                }
            for (int r = 0; r < rows; r++) for (int o = 0; o < out; o++) sdb[o] += Math.abs(dy[r * out + o]);
            String what = tf32.gemm().name() + " TF32 " + rows + "x" + in + "x" + out + " ";
            within(t, what + "y", y, sy, b, in);
            within(t, what + "dx", dx, sdx, null, out);
            within(t, what + "dW", dW, sdW, dW0, rows);
            within(t, what + "db", db, sdb, db0, rows);
        }
    }

    /** Every element within (2^-10 + (K + 2) 2^-24) sums[i] + 2^-23 |added[i]| + 1e-7 of the reference (the GPU's elements all written). */
    private static void within(GpuTesting.Twin t, String what, Pair p, double[] sums, float[] added, int K) {
        int n = sums.length;
        float[] e = new float[n], a = new float[n];
        t.cpu.download(p.cpu(), e, n);
        t.gpu.download(p.gpu(), a, n);
        int failed = 0;
        double worst = 0;
        StringBuilder bad = new StringBuilder();
        for (int i = 0; i < n; i++) {
            double bound = (Math.scalb(1.0, -10) + (K + 2) * Math.scalb(1.0, -24)) * sums[i] + 1e-7
                    + (added == null ? 0 : Math.scalb(Math.abs((double) added[i % added.length]), -23));
            double err = Math.abs((double) e[i] - a[i]);
            if (!(err <= bound) && failed++ < 8) bad.append(String.format(Locale.ROOT, "\n  [%d] expected %.8g, got %.8g, bound %.3g", i, e[i], a[i], bound));
            if (err <= bound) worst = Math.max(worst, err / bound);
        }
        assertTrue(failed == 0, what + ": " + failed + " of " + n + " elements outside the TF32 bound" + bad);
        // the bound is loose by design; an error far below it everywhere would mean no TF32 rounding happened at all
        assertTrue(worst > 1e-4, what + ": the largest error is " + worst + " of its bound: were the products rounded to TF32?");
    }

    /**
     * The fused activation unit with PReLU on values that TF32 holds exactly: keys, query, weights,
     * biases and the incoming gradients in {-1, 0, 1}, every slope 0.5. Every operand of the
     * unit's products is then a multiple of 1/4 below 2^9 (the widths bound them: with W = 16,
     * h1 = 24, h2 = 8, |A1| <= 97 and |dH1| <= 68), exact in TF32's 11 significant bits, and every
     * sum a multiple of 1/4 far below 2^24, exact in fp32 in any order: the GPU must equal the
     * reference bit for bit, forward and backward. With T = 40 the packed tiles of positions cut
     * through samples and hold pieces of several; 16 x 24 x 8 and 13 x 21 x 3 leave partial
     * tensor-core tiles in every product.
     */
    @ParameterizedTest
    @CsvSource({"40, 16, 24, 8, true, auto, auto", "40, 16, 24, 8, false, auto, auto", "9, 13, 21, 3, true, auto, auto", "40, 16, 24, 8, true, 3, auto",
            "40, 16, 24, 8, true, auto, 64"})
    void activationUnitIsExactOnSmallDyadics(int T, int W, int h1, int h2, boolean onChip, String blocksPerSm, String rowsBackward) {
        try (GpuTesting.Twin t = twin("auto")) {
            // the twin's own backend; at 3 blocks an SM the backward held to 80 registers (activation_unit_backward_tf32_3blocks_kernel);
            // at 64 rows the backward's long-K products have as many tiles as the block has warps or more (mma_product_pair's other way)
            t.gpu.setTuning(t.gpu.tuning().with(KernelTuning.PARTIALS_ON_CHIP, Boolean.toString(onChip)).with(KernelTuning.BLOCKS_PER_SM, blocksPerSm)
                    .with(KernelTuning.ROWS_BACKWARD, rowsBackward));
            CudaOpsParityTest.activationUnitCase(t, rng, (r, n, lo, hi) -> lo >= 0 ? filled(n, 0.5f) : integers(r, n, 1), Activation.PRELU, false, T,
                    lengths(rng, CudaOpsParityTest.MAXB, T), W, h1, h2, 0, 0, (what, p) -> t.assertClose("exact " + what, p, 0, 0));
        }
    }

    static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /**
     * The fused activation unit (sigmoid and PReLU) with its MLP on the tensor cores, on random
     * values: the Amazon widths at T = 100 and 7 (and softmax), widths off every tile, T = 1; the
     * per-block partial gradients in shared memory and in global memory. Forward within
     * {@link #UNIT_F_ATOL} + {@link #UNIT_F_RTOL} |x| element by element; each gradient within
     * {@link #UNIT_G_NORM} of its reference in the Euclidean norm (see the class comment).
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, false, 100, 36, 80, 40, true", "PRELU, true, 7, 36, 80, 40, true", "SIGMOID, true, 9, 13, 21, 3, true",
            "PRELU, false, 1, 13, 21, 3, true", "PRELU, true, 100, 36, 80, 40, false"})
    void activationUnitOnTheTensorCores(Activation act, boolean softmax, int T, int W, int h1, int h2, boolean onChip) {
        try (GpuTesting.Twin t = twin("auto")) {
            t.gpu.setTuning(t.gpu.tuning().with(KernelTuning.PARTIALS_ON_CHIP, Boolean.toString(onChip)));   // the twin's own backend
            CudaOpsParityTest.activationUnitCase(t, rng, GpuTesting::uniform, act, softmax, T, lengths(rng, CudaOpsParityTest.MAXB, T), W, h1, h2,
                    UNIT_F_ATOL, UNIT_F_RTOL, (what, p) -> normClose(t, what, p, UNIT_G_NORM));
        }
    }

    /**
     * ||gpu - cpu|| <= rel ||cpu|| over the elements the reference wrote (Euclidean norm); an element
     * the reference left poisoned must be poisoned on the GPU too, and every other one finite.
     */
    static void normClose(GpuTesting.Twin t, String what, Pair p, double rel) {
        double[] d = errorAndNorm(t, what, p);
        assertTrue(d[0] <= rel * d[1] + 1e-6, String.format(Locale.ROOT, "%s: relative error %.3g in the norm, allowed %.3g",
                what, d[0] / Math.max(d[1], 1e-300), rel));
    }

    /**
     * {||gpu - cpu||, ||cpu||} over the elements the reference wrote (Euclidean norms); an element the
     * reference left poisoned must be poisoned on the GPU too, and every other one finite.
     */
    static double[] errorAndNorm(GpuTesting.Twin t, String what, Pair p) {
        int n = p.cpu().size(), poison = Float.floatToRawIntBits(GpuTesting.POISON);
        float[] e = new float[n], a = new float[n];
        t.cpu.download(p.cpu(), e, n);
        t.gpu.download(p.gpu(), a, n);
        double diff = 0, ref = 0;
        for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(e[i]) == poison) {
                assertEquals(poison, Float.floatToRawIntBits(a[i]), what + "[" + i + "] written where the reference did not write");
                continue;
            }
            assertTrue(Float.isFinite(a[i]), what + "[" + i + "] = " + a[i]);
            diff += ((double) a[i] - e[i]) * ((double) a[i] - e[i]);
            ref += (double) e[i] * e[i];
        }
        return new double[] {Math.sqrt(diff), Math.sqrt(ref)};
    }

    /** The TF32 kernels are the ones that run: the unit's forward and backward, and the built-in GEMM's. */
    @Test
    void theTf32KernelsRun() {
        try (GpuTesting.Twin t = twin("builtin")) {
            CudaRuntime rt = tf32.runtime();
            rt.resetTimes();
            rt.setTiming(true);
            java.util.Set<String> ran;
            try {
                CudaOpsParityTest.activationUnitCase(t, rng, GpuTesting::uniform, Activation.SIGMOID, false, 7, lengths(rng, CudaOpsParityTest.MAXB, 7),
                        36, 80, 40, UNIT_F_ATOL, UNIT_F_RTOL, (what, p) -> normClose(t, what, p, UNIT_G_NORM));
                Pair x = t.floats("x", GpuTesting.uniform(rng, 5 * 8, -1, 1)), w = t.floats("W", GpuTesting.uniform(rng, 8 * 3, -1, 1));
                Pair y = t.poisoned("y", 5 * 3);
                t.both(be -> be.linear(y.on(be), x.on(be), w.on(be), null, 5, 8, 3));
                ran = new java.util.TreeSet<>(rt.collectTimes().keySet());
            } finally {
                rt.setTiming(false);
                rt.resetTimes();
            }
            for (String k : new String[] {Kernels.ACTIVATION_UNIT_FORWARD_TF32, Kernels.GEMM_TF32})
                assertTrue(ran.contains(k), k + " did not run; kernels: " + ran);
            assertTrue(ran.contains(Kernels.ACTIVATION_UNIT_BACKWARD_TF32) || ran.contains(Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS),
                    "neither TF32 backward ran; kernels: " + ran);
            for (String k : new String[] {Kernels.ACTIVATION_UNIT_FORWARD, Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS,
                    Kernels.ACTIVATION_UNIT_FORWARD_SCALAR, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR, Kernels.ACTIVATION_UNIT_BACKWARD_SCALAR_3BLOCKS, Kernels.GEMM,
                    Kernels.ACTIVATION_UNIT_FORWARD_SPLIT, Kernels.ACTIVATION_UNIT_FORWARD_SCALAR_SPLIT})
                assertTrue(!ran.contains(k), k + " ran under TF32; kernels: " + ran);
        }
    }
}
