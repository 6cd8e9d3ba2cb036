package io.augur.backend.cuda;

import io.augur.backend.Activation;
import io.augur.backend.Precision;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static io.augur.backend.cuda.GpuTesting.Pair;
import static io.augur.backend.cuda.GpuTesting.lengths;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --precision tf32x3} against the fp32 CPU reference: the fused activation unit's products on
 * the TF32 tensor cores with every operand split into two TF32 parts (common.cuh's split_tf32, three
 * products for one). SKIPPED where no GPU is usable or the GPU has no TF32 tensor cores.
 *
 * <p>What it has to show is that the split buys back fp32's accuracy, so the unit is held to the
 * tolerances of the fp32 kernels in CudaOpsParityTest (forward 1e-5 + 1e-4 |x|, every gradient
 * element 1e-4 + 1e-3 |x|), which TF32 misses (with the TF32 kernels in their place 3 of the first 5 cases
 * of activationUnitWithinTheFp32Tolerances fail on the emulator: forward values about 2e-4 off at
 * -1.6; CudaTf32ParityTest allows TF32 4e-3 element by element forward and 2e-2 in each gradient's
 * norm), and its errors are compared with TF32's on the
 * same inputs and with the fp32 kernels': within 4 times fp32's (plus 5e-7) in every gradient's norm, and at least
 * 64 times smaller than TF32's where TF32's shows (the split's 2^-20 a product against TF32's 2^-10;
 * on the emulator, which truncates operands as the tensor cores read them, the split's errors are
 * 0.4 to 1.3 times the fp32 kernels' and 200 to 2,000 times smaller than TF32's).
 */
@Tag("gpu")
class CudaTf32x3ParityTest {
    SplittableRandom rng;

    @BeforeEach
    void open() {
        GpuTesting.assumeTensorCores();
        rng = new SplittableRandom(11);
    }

    /** A backend of {@code precision} on the shared context (not closed: closing it would close the context; see CudaTf32ParityTest). */
    private static GpuTesting.Twin twin(Precision precision, String blocksPerSm) {
        return twin(precision, blocksPerSm, "auto", "auto");
    }

    private static GpuTesting.Twin twin(Precision precision, String blocksPerSm, String rowsBackward, String gemmProvider) {
        CudaBackend be = new CudaBackend(GpuTesting.backend().runtime(), gemmProvider);
        assertEquals(precision, be.setPrecision(precision));
        be.setTuning(be.tuning().with(KernelTuning.BLOCKS_PER_SM, blocksPerSm).with(KernelTuning.ROWS_BACKWARD, rowsBackward));
        return new GpuTesting.Twin(be);
    }

    /**
     * The unit (sigmoid and PReLU, with and without softmax) within the fp32 kernels' tolerances: the
     * Amazon widths at T = 100 and 7, widths off every tensor-core tile, T = 1; the backward at the
     * planner's blocks an SM and held to three (activation_unit_backward_tf32x3_3blocks_kernel); at
     * the planner's rows (16 here: each stage's two products shared out between the warps,
     * mma_product_pair) and at 32 (the long-K product has more tiles than the block has warps, and
     * the two run one after the other).
     */
    @ParameterizedTest
    @CsvSource({"SIGMOID, false, 100, 36, 80, 40, auto, auto", "PRELU, true, 7, 36, 80, 40, auto, auto", "SIGMOID, true, 9, 13, 21, 3, auto, auto",
            "PRELU, false, 1, 13, 21, 3, 3, auto", "PRELU, true, 100, 36, 80, 40, 3, auto", "SIGMOID, false, 100, 36, 80, 40, auto, 32"})
    void activationUnitWithinTheFp32Tolerances(Activation act, boolean softmax, int T, int W, int h1, int h2, String blocksPerSm, String rowsBackward) {
        try (GpuTesting.Twin t = twin(Precision.TF32X3, blocksPerSm, rowsBackward, "auto")) {
            CudaOpsParityTest.activationUnitCase(t, rng, GpuTesting::uniform, act, softmax, T, lengths(rng, CudaOpsParityTest.MAXB, T), W, h1, h2,
                    CudaOpsParityTest.TIGHT_ATOL, CudaOpsParityTest.TIGHT_RTOL,
                    (what, p) -> t.assertClose("tf32x3 " + what, p, CudaOpsParityTest.LOOSE_ATOL, CudaOpsParityTest.LOOSE_RTOL));
        }
    }

    /**
     * The same inputs through FP32, TF32 and TF32X3 (sigmoid, so that no pre-activation near zero
     * takes the other side of a kink), each gradient's relative error norm against the CPU: under
     * TF32X3 within 4 times the fp32 kernels' own plus 5e-7 (their sums' order differs from the
     * CPU's, which sets the floor: 7e-9 to 7e-7 on the emulator, where TF32X3's errors are 0.4 to 1.3
     * times fp32's). The emulator rounds each mma.sync's sum once; how a tensor core rounds its fp32
     * additions is not specified (Fasi, Higham, Mikaitis and Pranesh, "Numerical behavior of NVIDIA
     * tensor cores", PeerJ CS 2021, measured V100, T4 and A100 rounding toward zero), and a K of 80
     * is 30 of them into each output here, so the bound leaves a GPU 5e-7, about four units of 2^-23,
     * below TF32's errors in the weight gradients (3e-6 to 1.2e-4). And TF32X3's error is at
     * most 1/64 of TF32's wherever TF32's is above 1e-5 (the weight gradients' 3e-6 to 1.2e-4 here; the
     * split's are 200 to 2,000 times smaller on the emulator). The table goes to the test's report.
     */
    @ParameterizedTest
    @CsvSource({"100, 36, 80, 40", "9, 13, 21, 3"})
    void theSplitIsAsCloseAsFp32AndFarCloserThanTf32(int T, int W, int h1, int h2) {
        Map<String, Double> fp32 = errors(Precision.FP32, T, W, h1, h2), tf32 = errors(Precision.TF32, T, W, h1, h2),
                x3 = errors(Precision.TF32X3, T, W, h1, h2);
        assertEquals(fp32.keySet(), x3.keySet());
        assertEquals(tf32.keySet(), x3.keySet());
        StringBuilder all = new StringBuilder();
        for (String k : x3.keySet())
            all.append(String.format(Locale.ROOT, "\n  %s: fp32 %.3g, tf32 %.3g, tf32x3 %.3g", k, fp32.get(k), tf32.get(k), x3.get(k)));
        java.util.Set<String> compared = new java.util.TreeSet<>();
        for (String k : x3.keySet()) {
            assertTrue(x3.get(k) <= 4 * fp32.get(k) + 5e-7, k + ": the split is not as close to the CPU as the fp32 kernels" + all);
            if (!(tf32.get(k) > 1e-5)) continue;
            compared.add(k);
            assertTrue(x3.get(k) <= tf32.get(k) / 64, k + ": the split is not far closer than TF32" + all);
        }
        assertTrue(compared.containsAll(java.util.List.of("gw2", "gw3")), "compared with TF32 only " + compared + all);
        System.out.println("relative error norms, T=" + T + " W/h1/h2=" + W + "/" + h1 + "/" + h2 + ":" + all);   // in the test report
    }

    /** Each gradient's relative error norm ||gpu - cpu|| / ||cpu||, by name, for one unit case at this precision (the same inputs each call). */
    private static Map<String, Double> errors(Precision precision, int T, int W, int h1, int h2) {
        Map<String, Double> out = new TreeMap<>();
        SplittableRandom r = new SplittableRandom(23);
        try (GpuTesting.Twin t = twin(precision, "auto")) {
            // forward within TF32's tolerance here (both precisions); the gradients are what is compared
            CudaOpsParityTest.activationUnitCase(t, r, GpuTesting::uniform, Activation.SIGMOID, true, T, lengths(r, CudaOpsParityTest.MAXB, T), W, h1, h2,
                    CudaTf32ParityTest.UNIT_F_ATOL, CudaTf32ParityTest.UNIT_F_RTOL, (what, p) -> {
                        double[] d = CudaTf32ParityTest.errorAndNorm(t, what, p);
                        out.put(p.cpu().name(), d[1] == 0 ? d[0] : d[0] / d[1]);
                    });
        }
        return out;
    }

    /**
     * On values TF32 holds exactly (CudaTf32ParityTest.activationUnitIsExactOnSmallDyadics: every
     * operand a multiple of 1/4 below 2^9) each split's small part is zero and the unit must equal
     * the reference bit for bit: the fragments, tiles and edges of the three-product form, with each
     * stage's products shared out between the warps (the planner's rows) and one after the other (64
     * rows: 8 and 12 tiles of the long-K products for 8 warps).
     */
    @ParameterizedTest
    @CsvSource({"40, 16, 24, 8, auto, auto", "9, 13, 21, 3, 3, auto", "40, 16, 24, 8, auto, 64"})
    void activationUnitIsExactOnSmallDyadics(int T, int W, int h1, int h2, String blocksPerSm, String rowsBackward) {
        try (GpuTesting.Twin t = twin(Precision.TF32X3, blocksPerSm, rowsBackward, "auto")) {
            CudaOpsParityTest.activationUnitCase(t, rng, (r, n, lo, hi) -> lo >= 0 ? CudaTf32ParityTest.filled(n, 0.5f) : CudaTf32ParityTest.integers(r, n, 1), Activation.PRELU, false, T,
                    lengths(rng, CudaOpsParityTest.MAXB, T), W, h1, h2, 0, 0, (what, p) -> t.assertClose("exact " + what, p, 0, 0));
        }
    }

    /** The split kernels are what runs, and the linear layers stay on the built-in fp32 GEMM (gemm_kernel, not gemm_tf32_kernel). */
    @Test
    void theSplitKernelsRunAndTheLinearLayersStayFp32() {
        try (GpuTesting.Twin t = twin(Precision.TF32X3, "auto", "auto", "builtin")) {
            t.gpu.setTuning(t.gpu.tuning().with(KernelTuning.GEMM_SMALL, "off"));   // the 64 x 64 tiles, which TF32 would give gemm_tf32_kernel
            CudaRuntime rt = t.gpu.runtime();
            rt.resetTimes();
            rt.setTiming(true);
            java.util.Set<String> ran;
            try {
                CudaOpsParityTest.activationUnitCase(t, rng, GpuTesting::uniform, Activation.SIGMOID, false, 7, lengths(rng, CudaOpsParityTest.MAXB, 7),
                        36, 80, 40, CudaOpsParityTest.TIGHT_ATOL, CudaOpsParityTest.TIGHT_RTOL,
                        (what, p) -> t.assertClose(what, p, CudaOpsParityTest.LOOSE_ATOL, CudaOpsParityTest.LOOSE_RTOL));
                int rows = 300, in = 162, out = 200;
                Pair x = t.floats("x", GpuTesting.uniform(rng, rows * in, -1, 1)), w = t.floats("W", GpuTesting.uniform(rng, in * out, -1, 1));
                Pair y = t.poisoned("y", rows * out);
                t.both(be -> be.linear(y.on(be), x.on(be), w.on(be), null, rows, in, out));
                t.assertClose("linear under tf32x3: y", y, CudaOpsParityTest.TIGHT_ATOL, CudaOpsParityTest.TIGHT_RTOL);
                ran = new java.util.TreeSet<>(rt.collectTimes().keySet());
            } finally {
                rt.setTiming(false);
                rt.resetTimes();
            }
            assertTrue(ran.contains(Kernels.ACTIVATION_UNIT_FORWARD_TF32X3), "the split forward did not run; kernels: " + ran);
            assertTrue(ran.contains(Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3) || ran.contains(Kernels.ACTIVATION_UNIT_BACKWARD_TF32X3_3BLOCKS),
                    "neither split backward ran; kernels: " + ran);
            for (String k : new String[] {Kernels.ACTIVATION_UNIT_FORWARD_TF32, Kernels.ACTIVATION_UNIT_BACKWARD_TF32, Kernels.ACTIVATION_UNIT_BACKWARD_TF32_3BLOCKS,
                    Kernels.ACTIVATION_UNIT_FORWARD, Kernels.ACTIVATION_UNIT_BACKWARD, Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS, Kernels.GEMM_TF32})
                assertTrue(!ran.contains(k), k + " ran under tf32x3; kernels: " + ran);
            assertTrue(ran.contains(Kernels.GEMM), "gemm_kernel did not run for the linear layer; kernels: " + ran);
        }
    }
}
