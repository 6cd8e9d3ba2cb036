package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.Precision;
import io.augur.backend.cpu.CpuBackend;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.CudaProbe;
import io.augur.backend.cuda.CudaRuntime;
import io.augur.backend.cuda.GpuTesting;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.train.Optimizer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole models trained for 50 steps on the GPU and on the CPU fast path from the same seed and
 * batches (sizes vary, partial batches included): the losses agree step by step. SKIPPED where
 * no GPU is usable. Tagged {@code gpu}: scripts/gpu-check.sh runs the tests of that tag.
 *
 * <p>Tolerance: the two backends sum in different orders (fp32), and Adam turns last-bit
 * differences of small gradients into differences of whole learning-rate steps, so the
 * trajectories drift apart slowly: the first 10 losses within {@link #EARLY} (relative), all 50
 * within {@link #LATE}, and both runs have learned (the last loss at most {@link #LEARNED} of the
 * first). The labels are a function of the history (ModelParityTest.data), but 50 steps over five
 * small batches only start to fit them: the CPU reference goes from 0.698 to about 0.58 for DIN
 * and from 0.695 to about 0.40 for BaseModel, so 0.9 checks that both moved without asking for
 * more than they do (an earlier "below half", never run, asked for more).
 */
@Tag("gpu")
class CudaTrainingParityTest {
    static final double EARLY = 1e-3, LATE = 2e-2, LEARNED = 0.9;
    static final int STEPS = 50;

    @BeforeEach
    void gpu() { GpuTesting.assumeGpu(); }

    /**
     * {@code graphs}: the GPU run goes through {@link CtrModel#trainStep}, so each batch size's step
     * is captured into a CUDA graph on its second call and replayed after, a graph for each of the input staging's
     * two slots (the step's first launch reads its batch there), and the test checks it was: of the 30 size-32
     * steps the first (its inputs uploaded before the staging existed) and each slot's first two are not replays,
     * 25 are; of each other size's 10, 6); otherwise the steps are issued one op at a time.
     */
    @ParameterizedTest
    @CsvSource({"DIN, SIGMOID, true, true", "DIN, SIGMOID, false, false", "DIN, PRELU, true, true", "DIN, SIGMOID, true, false", "DIN, DICE, true, true",
            "DIN, DICE, false, false",
            "BASE, SIGMOID, false, true", "BASE, SIGMOID, false, false"})
    void fiftyStepsMatchTheCpu(ModelConfig.Kind kind, Activation att, boolean softmax, boolean graphs) {
        ModelConfig cfg = new ModelConfig(kind, 6, List.of(16, 8), att, softmax, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        java.util.Map<String, float[]> cpuGrads = new java.util.LinkedHashMap<>(), gpuGrads = new java.util.LinkedHashMap<>();
        float[] cpu = train(new CpuBackend(false, 2), cfg, true, false, DEFAULT_SIZES, STEPS, cpuGrads);
        float[] gpu = train(GpuTesting.backend(), cfg, false, graphs, DEFAULT_SIZES, STEPS, gpuGrads);
        assertFirstGradientsMatch(kind + "/" + att, cpuGrads, gpuGrads);
        for (int s = 0; s < STEPS; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpu[s]));
            assertEquals(cpu[s], gpu[s], tol, kind + " loss at step " + (s + 1) + "; CPU " + java.util.Arrays.toString(cpu) + "\nGPU "
                    + java.util.Arrays.toString(gpu));
        }
        assertTrue(cpu[STEPS - 1] < LEARNED * cpu[0], "the CPU run learns: " + cpu[0] + " -> " + cpu[STEPS - 1]);
        assertTrue(gpu[STEPS - 1] < LEARNED * gpu[0], "the GPU run learns: " + gpu[0] + " -> " + gpu[STEPS - 1]);
    }

    /**
     * DIN with its sigmoid or PReLU unit layer by layer (-Daugur.attention.fused=off), as {@link #fiftyStepsMatchTheCpu}:
     * PReLU's slope gradients (summed over row slices) through CUDA graphs, and sigmoid op by op.
     */
    @ParameterizedTest
    @CsvSource({"PRELU, true, true", "SIGMOID, false, false"})
    void dinWithTheUnitLayerByLayerMatchesTheCpu(Activation att, boolean softmax, boolean graphs) {
        layerByLayer(graphs, () -> fiftyStepsMatchTheCpu(ModelConfig.Kind.DIN, att, softmax, graphs));
    }

    /**
     * Runs body with -Daugur.attention.fused=off and checks that the unit's layer-by-layer kernels ran and the fused
     * ones did not: for a run through CUDA graphs, {@link #train} checks the captured step's launches; an eager run
     * is timed per kernel here (timing runs every step eagerly, so not with graphs).
     */
    private static void layerByLayer(boolean graphs, Runnable body) {
        CudaBackend gb = GpuTesting.backend();
        if (graphs) {
            GpuTesting.withSetting(gb, io.augur.backend.cuda.KernelTuning.FUSED, "off", body);
            return;
        }
        io.augur.backend.cuda.CudaRuntime rt = gb.runtime();
        rt.resetTimes();
        rt.setTiming(true);
        try {
            GpuTesting.withSetting(gb, io.augur.backend.cuda.KernelTuning.FUSED, "off", body);
            java.util.Set<String> ran = rt.collectTimes().keySet();
            assertTrue(ran.contains(io.augur.backend.cuda.Kernels.ACTIVATION_UNIT_INPUT_FORWARD), ran.toString());
            assertFalse(ran.contains(io.augur.backend.cuda.Kernels.ACTIVATION_UNIT_FORWARD), ran.toString());
            assertFalse(ran.contains(io.augur.backend.cuda.Kernels.ACTIVATION_UNIT_FORWARD_SPLIT), ran.toString());
        } finally {
            rt.setTiming(false);
            rt.resetTimes();
        }
    }

    /** With -Daugur.attention.fused=off, a captured step ran a sigmoid or PReLU unit layer by layer, as asked. */
    private static void assertUnitForm(CudaBackend cb, ModelConfig cfg, List<String> ops) {
        if (cb.tuning().attentionFused() || cfg.attActivation() == Activation.DICE || cfg.kind() == ModelConfig.Kind.BASE) return;
        assertTrue(ops.stream().anyMatch(o -> o.startsWith(io.augur.backend.cuda.Kernels.ACTIVATION_UNIT_INPUT_FORWARD + "<<<"))
                && ops.stream().noneMatch(o -> o.startsWith(io.augur.backend.cuda.Kernels.ACTIVATION_UNIT_FORWARD + "<<<")), String.join("\n", ops));
    }

    /**
     * DIEN (GRU extractor with the auxiliary loss, attention, each evolution cell) and the
     * two-layer GRU-attention baseline on the GPU against the CPU, 50 steps, through CUDA graphs
     * (DIEN's padded to its auxiliary row count), and DIEN once op by op (whose first step's sparse
     * gradients, the negatives' included, are then compared too); same tolerances. The auxiliary network starts
     * near zero output, so these losses barely see it: its row-count ops have their own parity
     * test (CudaOpsParityTest.rowCountedBatchNormAndBce).
     */
    @ParameterizedTest
    @CsvSource({"DIEN, AUGRU, SIGMOID, true", "DIEN, AGRU, SIGMOID, true", "DIEN, AIGRU, SIGMOID, true", "GRU_ATT, AUGRU, SIGMOID, true",
            "DIEN, AUGRU, DICE, true", "DIEN, AUGRU, SIGMOID, false"})
    void recurrentModelsMatchTheCpu(ModelConfig.Kind kind, ModelConfig.Evolution evolution, Activation att, boolean graphs) {
        ModelConfig cfg = new ModelConfig(kind, 6, List.of(16, 8), att, true, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f,
                new ModelConfig.Sequence(7, evolution, 1f, List.of(12, 6)));
        java.util.Map<String, float[]> cpuGrads = new java.util.LinkedHashMap<>(), gpuGrads = new java.util.LinkedHashMap<>();
        float[] cpu = train(new CpuBackend(false, 2), cfg, true, false, DEFAULT_SIZES, STEPS, cpuGrads);
        float[] gpu = train(GpuTesting.backend(), cfg, false, graphs, DEFAULT_SIZES, STEPS, gpuGrads);
        assertFirstGradientsMatch(kind + "/" + evolution + "/" + att, cpuGrads, gpuGrads);
        for (int s = 0; s < STEPS; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpu[s]));
            assertEquals(cpu[s], gpu[s], tol, kind + "/" + evolution + "/" + att + " loss at step " + (s + 1) + "; CPU " + java.util.Arrays.toString(cpu)
                    + "\nGPU " + java.util.Arrays.toString(gpu));
        }
        assertTrue(cpu[STEPS - 1] < LEARNED * cpu[0], "the CPU run learns: " + cpu[0] + " -> " + cpu[STEPS - 1]);
        assertTrue(gpu[STEPS - 1] < LEARNED * gpu[0], "the GPU run learns: " + gpu[0] + " -> " + gpu[STEPS - 1]);
    }

    /**
     * The paths a library GEMM provider (cuBLAS) takes, which no machine here runs with cuBLAS itself (the emulator
     * has none, nor has the H200's CUDA 13): the built-in products behind its interface
     * (GpuTesting.libraryGemmBackend), 50 steps through CUDA graphs, same tolerances as {@link #fiftyStepsMatchTheCpu}.
     * The top tower layer by layer, so that the step has products: their biases broadcast before them, the bias
     * gradients by kernels of their own; DIN's Dice unit over dense rows; DIEN's recurrences and auxiliary network.
     * Each case checks that the captured step broadcast a bias.
     */
    @ParameterizedTest
    @CsvSource({"DIN, SIGMOID, off", "DIN, DICE, off", "DIN, DICE, auto", "DIEN, SIGMOID, off"})
    void aLibraryGemmProviderMatchesTheCpu(ModelConfig.Kind kind, Activation att, String towerFused) {
        ModelConfig cfg = kind == ModelConfig.Kind.DIEN
                ? new ModelConfig(kind, 6, List.of(16, 8), att, true, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f,
                        new ModelConfig.Sequence(7, ModelConfig.Evolution.AUGRU, 1f, List.of(12, 6)))
                : new ModelConfig(kind, 6, List.of(16, 8), att, true, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        float[] cpu = train(new CpuBackend(false, 2), cfg, true, false);
        CudaBackend lib = GpuTesting.libraryGemmBackend();
        lib.setTuning(lib.tuning().with(io.augur.backend.cuda.KernelTuning.TOWER_FUSED, towerFused));
        float[] gpu = train(lib, cfg, false, true);
        for (int s = 0; s < STEPS; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpu[s]));
            assertEquals(cpu[s], gpu[s], tol, lib.gemm().name() + ": " + kind + "/" + att + " loss at step " + (s + 1) + "; CPU "
                    + java.util.Arrays.toString(cpu) + "\nGPU " + java.util.Arrays.toString(gpu));
        }
        assertTrue(gpu[STEPS - 1] < LEARNED * gpu[0], "the GPU run learns: " + gpu[0] + " -> " + gpu[STEPS - 1]);
        String ops = lib.graphReplays().keySet().stream().filter(k -> k.contains("/train/")).flatMap(k -> lib.graphOps(k).stream())
                .collect(java.util.stream.Collectors.joining("\n"));
        assertTrue(ops.contains(io.augur.backend.cuda.Kernels.BIAS_BROADCAST + "<<<"), "the captured steps broadcast a bias:\n" + ops);
    }

    /** DIEN's attention (the unit's weights alone, into AUGRU's gates) layer by layer (-Daugur.attention.fused=off), through CUDA graphs. */
    @org.junit.jupiter.api.Test
    void dienWithTheUnitLayerByLayerMatchesTheCpu() {
        layerByLayer(true, () -> recurrentModelsMatchTheCpu(ModelConfig.Kind.DIEN, ModelConfig.Evolution.AUGRU, Activation.SIGMOID, true));
    }

    /**
     * The pipelined step (trainStepLater, each loss read after the next step is issued, as the
     * trainer runs) gives the same losses, bit for bit, as the step that waits for its loss.
     */
    @org.junit.jupiter.api.Test
    void pipelinedStepsGiveTheSameLosses() {
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIN, 6, List.of(16, 8), Activation.SIGMOID, true, List.of(20, 10), null, 1e-5f, 1e-8f,
                0.99f, 0.05f);
        float[] waiting = train(GpuTesting.backend(), cfg, false, true);
        CtrModel m = Models.create(GpuTesting.backend(), cfg, ModelParityTest.FEATURES, 32, 5);
        Optimizer opt = ModelParityTest.optimizer(GpuTesting.backend(), m, TrainConfig.defaults());
        int[] sizes = {32, 32, 19, 32, 7};
        List<ModelParityTest.Data> data = new ArrayList<>();
        for (int k = 0; k < sizes.length; k++) data.add(ModelParityTest.data(sizes[k], 200 + k));
        CtrModel.StepLoss[] later = new CtrModel.StepLoss[STEPS];
        for (int s = 0; s < STEPS; s++) {
            ModelParityTest.load(GpuTesting.backend(), m, data.get(s % sizes.length), sizes[s % sizes.length]);
            later[s] = m.trainStepLater(opt::step);
        }
        for (int s = 0; s < STEPS; s++) assertEquals(waiting[s], later[s].loss(), "loss at step " + (s + 1));
        assertTrue(Double.isNaN(later[0].auxLoss()), "DIN has no auxiliary loss");
    }

    /**
     * Programmatic dependent launch (compute capability 9.0 and cuLaunchKernelEx) changes when a
     * kernel's blocks start, never what they compute: DIN's 50 steps through CUDA graphs give the
     * same losses, bit for bit, with it and without, and with it every kernel of the step after the
     * first goes out programmatically. On the emulator the programmatic launches' first blocks run
     * with the memory of the kernel before protected until they pass griddepcontrol.wait.
     */
    @org.junit.jupiter.api.Test
    void programmaticLaunchesChangeNoBits() {
        io.augur.backend.cuda.CudaRuntime rt = GpuTesting.backend().runtime();
        org.junit.jupiter.api.Assumptions.assumeTrue(rt.programmaticAvailable(), "programmatic dependent launch: " + rt.programmaticLaunch());
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIN, 6, List.of(16, 8), Activation.SIGMOID, true, List.of(20, 10), null, 1e-5f, 1e-8f,
                0.99f, 0.05f);
        try {
            rt.setProgrammatic(false);
            long before = rt.programmaticLaunches();
            float[] plain = train(GpuTesting.backend(), cfg, false, true);
            assertEquals(before, rt.programmaticLaunches(), "launches went out programmatically while it was off");
            rt.setProgrammatic(true);
            float[] programmatic = train(GpuTesting.backend(), cfg, false, true);
            assertTrue(rt.programmaticLaunches() > before, "no launch went out programmatically");
            for (String k : new String[] {"activation_unit_pool_forward_kernel", "activation_unit_reduce_gather_kernel", "optimizer_step_kernel"})
                assertTrue(rt.programmaticKernels().contains(k), k + " never went out programmatically: " + rt.programmaticKernels());
            // the forward's split-K form where a tile has at most 16 rows (this batch's), else the plain one
            assertTrue(rt.programmaticKernels().contains("activation_unit_forward_kernel")
                    || rt.programmaticKernels().contains("activation_unit_forward_split_kernel"), "the unit's forward never went out programmatically: "
                    + rt.programmaticKernels());
            assertTrue(rt.programmaticKernels().contains("activation_unit_backward_kernel")
                    || rt.programmaticKernels().contains("activation_unit_backward_3blocks_kernel"), "the unit's backward never went out programmatically: "
                    + rt.programmaticKernels());
            for (int s = 0; s < STEPS; s++) assertEquals(plain[s], programmatic[s], "loss at step " + (s + 1));
        } finally {
            rt.setProgrammatic(true);
        }
    }

    /**
     * Batches of more than 256 rows, where the dense layers' column reductions run sliced
     * (BatchNorm, the top MLP's Dice or PReLU, the bias gradients), inside captured steps: 20
     * steps over batches of 300, 300 and 270 rows (the last a partial batch under the same
     * graphs' sizes), same tolerances; with the top tower fused, which these layers fit at 300
     * rows; and fused in clusters of 4 blocks of 75 rows (compute capability 9.0).
     */
    @ParameterizedTest
    @CsvSource({"DIN, SIGMOID, false, 0", "BASE, SIGMOID, false, 0", "DIN, SIGMOID, true, 0", "DIN, SIGMOID, true, 4"})
    void largeBatchesMatchTheCpu(ModelConfig.Kind kind, Activation att, boolean fusedTower, int towerCluster) {
        if (towerCluster > 1)
            org.junit.jupiter.api.Assumptions.assumeTrue(GpuTesting.backend().runtime().ccMajor >= 9, "thread-block clusters need compute capability 9.0");
        ModelConfig cfg = new ModelConfig(kind, 6, List.of(16, 8), att, true, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        int[] sizes = {300, 300, 270};
        int steps = 20;
        float[] cpu = train(new CpuBackend(false, 2), cfg, true, false, sizes, steps);
        // this tower's layers fit a block at 300 rows: the sliced kernels run with the fused tower off
        CudaBackend gb = GpuTesting.backend();
        io.augur.backend.cuda.KernelTuning before = gb.tuning();
        gb.setTuning(before.with(io.augur.backend.cuda.KernelTuning.TOWER_FUSED, fusedTower ? "auto" : "off")
                .with(io.augur.backend.cuda.KernelTuning.TOWER_CLUSTER, towerCluster == 0 ? "auto" : Integer.toString(towerCluster)));
        float[] gpu;
        try {
            gpu = train(gb, cfg, false, true, sizes, steps);
        } finally {
            gb.setTuning(before);
        }
        for (int s = 0; s < steps; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpu[s]));
            assertEquals(cpu[s], gpu[s], tol, kind + " loss at step " + (s + 1) + "; CPU " + java.util.Arrays.toString(cpu) + "\nGPU "
                    + java.util.Arrays.toString(gpu));
        }
    }

    /**
     * {@code --precision tf32}: the same 50 steps with the linear layers' and the fused unit's
     * products on the TF32 tensor cores (a backend of its own on the shared context; with {@code fused}
     * off, the unit layer by layer, whose products the built-in GEMM's rule gives to gemm_tf32_kernel
     * where they are too big for gemm_small_kernel), against the
     * fp32 CPU run, with fp32's tolerances: TF32 keeps 10 mantissa bits, but a loss averages its
     * batch's rounding errors away (the emulator's runs: the first 10 losses within 2e-4 of the
     * CPU's, relative, against EARLY = 1e-3), and the drift that LATE allows is Adam's, as in fp32.
     * {@code --precision tf32x3} (the fused unit's products on split operands, the rest fp32) the same
     * way. Skipped below compute capability 8.0.
     */
    @ParameterizedTest
    @CsvSource({"DIN, SIGMOID, true, auto, TF32", "DIN, PRELU, false, auto, TF32", "DIN, DICE, true, auto, TF32", "BASE, SIGMOID, false, auto, TF32",
            "DIN, SIGMOID, true, off, TF32", "DIN, SIGMOID, true, auto, TF32X3", "DIN, PRELU, false, auto, TF32X3"})
    void tf32StaysNearTheCpu(ModelConfig.Kind kind, Activation att, boolean softmax, String fused, Precision precision) {
        CudaRuntime rt = GpuTesting.backend().runtime();
        org.junit.jupiter.api.Assumptions.assumeTrue(rt.ccMajor >= 8, "no TF32 tensor cores below compute capability 8.0");
        ModelConfig cfg = new ModelConfig(kind, 6, List.of(16, 8), att, softmax, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        float[] cpu = train(new CpuBackend(false, 2), cfg, true, false);
        CudaBackend tf32 = new CudaBackend(rt, CudaProbe.gemmChoice());   // not closed: it shares the context
        assertEquals(precision, tf32.setPrecision(precision));
        tf32.setTuning(tf32.tuning().with(io.augur.backend.cuda.KernelTuning.FUSED, fused));   // off: the unit's products on gemm_tf32_kernel
        float[] gpu = train(tf32, cfg, false, true);
        for (int s = 0; s < STEPS; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpu[s]));
            assertEquals(cpu[s], gpu[s], tol, precision.label() + " " + kind + "/" + att + " loss at step " + (s + 1) + "; CPU "
                    + java.util.Arrays.toString(cpu) + "\nGPU " + java.util.Arrays.toString(gpu));
        }
        assertTrue(gpu[STEPS - 1] < LEARNED * gpu[0], "the " + precision.label() + " run learns: " + gpu[0] + " -> " + gpu[STEPS - 1]);
    }

    /**
     * The first step starts from the same parameters and batch on both backends, so its dense
     * gradients (and the embedding tables' sparse ones, where the GPU run is not a captured step,
     * whose update clears them) must agree far more closely than the losses of later steps: each within
     * {@link #FIRST_GRAD} of the CPU's norm, plus 1e-7, in the Euclidean norm (the op parity
     * tests' 1e-5 per element, over a dozen ops summing in different orders; the absolute term is
     * for gradients that are zero but for rounding, as a softmax's score bias). Against the
     * emulator the closest any gradient comes is 2% of that bound. The 50-step losses alone miss
     * a dropped partial sum (cuda/emu/README.md, "Planted bugs": this check fails 8 runs on it).
     */
    static void assertFirstGradientsMatch(String what, java.util.Map<String, float[]> cpu, java.util.Map<String, float[]> gpu) {
        assertTrue(cpu.keySet().containsAll(gpu.keySet()), what + ": the same parameters");
        assertTrue(gpu.keySet().stream().filter(k -> !k.endsWith(" (sparse)")).count() == cpu.keySet().stream().filter(k -> !k.endsWith(" (sparse)")).count(),
                what + ": the same dense parameters");
        for (var e : gpu.entrySet()) {
            float[] c = cpu.get(e.getKey()), g = e.getValue();
            double diff = 0, norm = 0;
            for (int i = 0; i < c.length; i++) {
                diff += (double) (g[i] - c[i]) * (g[i] - c[i]);
                norm += (double) c[i] * c[i];
            }
            diff = Math.sqrt(diff);
            norm = Math.sqrt(norm);
            assertTrue(diff <= FIRST_GRAD * norm + 1e-7, what + ": first-step gradient of " + e.getKey() + " differs by " + diff + " (norm " + norm + ")");
        }
    }

    static final double FIRST_GRAD = 1e-4;

    /** Losses of STEPS steps; batches cycle through sizes 32, 32, 19, 32, 7 (a fixed set of data seeds). */
    static float[] train(Backend be, ModelConfig cfg, boolean close, boolean graphs) {
        return train(be, cfg, close, graphs, DEFAULT_SIZES, STEPS);
    }

    static final int[] DEFAULT_SIZES = {32, 32, 19, 32, 7};

    /** Losses of {@code steps} steps; batches cycle through {@code sizes} (the first the largest; a fixed set of data seeds). */
    static float[] train(Backend be, ModelConfig cfg, boolean close, boolean graphs, int[] sizes, int steps) {
        return train(be, cfg, close, graphs, sizes, steps, null);
    }

    /** ... and, when {@code firstGrads} is given, every dense parameter's gradient after the first step into it. */
    static float[] train(Backend be, ModelConfig cfg, boolean close, boolean graphs, int[] sizes, int steps,
                         java.util.Map<String, float[]> firstGrads) {
        try {
            CtrModel m = Models.create(be, cfg, ModelParityTest.FEATURES, sizes[0], 5);
            Optimizer opt = ModelParityTest.optimizer(be, m, TrainConfig.defaults());
            List<ModelParityTest.Data> data = new ArrayList<>();
            for (int k = 0; k < sizes.length; k++) data.add(ModelParityTest.data(sizes[k], 200 + k));
            float[] losses = new float[steps];
            for (int s = 0; s < steps; s++) {
                int k = s % sizes.length;
                ModelParityTest.load(be, m, data.get(k), sizes[k]);
                if (graphs) {
                    losses[s] = m.trainStep(opt::step);
                } else {
                    m.zeroGrads();
                    m.forward(true);
                    losses[s] = m.loss();
                    m.backward();
                    if (s == 0 && firstGrads != null) {   // the embedding tables' gradients, which the update clears
                        for (Param p : m.params()) {
                            if (p.kind() != Param.Kind.EMBEDDING) continue;
                            float[] g = new float[p.value().size()];
                            be.downloadGrad(p.sparseGrad(), g);
                            firstGrads.put(p.name() + " (sparse)", g);
                        }
                    }
                    opt.step();
                }
                if (s == 0 && firstGrads != null) {   // the gradients stay until the next step zeroes them
                    for (Param p : m.params()) {
                        if (p.kind() != Param.Kind.DENSE) continue;
                        float[] g = new float[p.grad().size()];
                        be.download(p.grad(), g, g.length);
                        firstGrads.put(p.name(), g);
                    }
                }
            }
            be.synchronize();
            // DIEN's auxiliary network has as many rows as the batch has pairs: its steps are keyed
            // by the padded row count as well, so each (batch size, padded count) is a graph of its
            // own; every one of them must be replayed, none dropped.
            if (graphs && be instanceof CudaBackend cb && cfg.kind().recurrent()) {
                String prefix = m.stepKey("eval", 0).replace("/eval/0", "/train/");
                java.util.Map<String, Long> mine = new java.util.TreeMap<>();
                cb.graphReplays().forEach((k, v) -> { if (k.startsWith(prefix)) mine.put(k, v); });
                long replayed = mine.values().stream().mapToLong(Long::longValue).sum();
                // 50 steps over 5 batches: the first step is eager (its inputs went up before the staging existed), and
                // each key's first two steps from each staging slot are eager and captured
                assertTrue(replayed >= STEPS - 1 - 4L * mine.size() && !mine.isEmpty(), "replays of " + prefix + "*: " + mine);
                assertTrue(mine.size() <= 5, "at most one graph per batch: " + mine);
                for (String k : mine.keySet()) assertUnitForm(cb, cfg, cb.graphOps(k));
                assertFalse(java.util.Arrays.stream(cb.stepSummary().split(";")).anyMatch(part -> part.contains(prefix) && part.contains("eager since")),
                        "a graph of " + prefix + "* was dropped: " + cb.stepSummary());
            }
            if (graphs && be instanceof CudaBackend cb && sizes != DEFAULT_SIZES && cb.tuning().towerFused()) {   // the tower fused at 300 rows
                String all = String.join("\n", cb.graphOps(m.stepKey("train", sizes[0])));
                int s = Math.max(1, cb.tuning().towerCluster());
                for (String k : new String[] {io.augur.backend.cuda.Kernels.towerForward(s), io.augur.backend.cuda.Kernels.towerBackward(s)})
                    assertTrue(all.contains(k + "<<<"), "the step at " + sizes[0] + " rows launches " + k + ":\n" + all);
                assertFalse(all.contains("batch_norm"), "the BatchNorm runs inside the tower's launches:\n" + all);
            } else if (graphs && be instanceof CudaBackend cb && sizes != DEFAULT_SIZES) {   // the large batches' step: sliced, and replayed
                String all = String.join("\n", cb.graphOps(m.stepKey("train", sizes[0])));
                String act = cfg.kind() == ModelConfig.Kind.DIN ? "dice_sliced_backward_kernel" : "prelu_sliced_backward_kernel";
                // the bias gradients: sliced where the GEMM provider leaves them to the backend (cuBLAS)
                String bias = cb.gemm().name().startsWith("built-in") ? act : "bias_grad_partials_kernel";
                for (String k : new String[] {"sliced_statistics_kernel", "batch_norm_sliced_backward_kernel", bias, act})
                    assertTrue(all.contains(k + "<<<"), "the step at " + sizes[0] + " rows launches " + k + ":\n" + all);
                if (cb.gemm().name().startsWith("built-in")) assertFalse(all.contains("bias_grad_partials"), "the built-in GEMM sums the bias gradients:\n" + all);
                assertTrue(cb.graphReplays().getOrDefault(m.stepKey("train", sizes[0]), 0L) > 0, "replays: " + cb.graphReplays());
            }
            if (graphs && be instanceof CudaBackend cb && !cfg.kind().recurrent() && sizes == DEFAULT_SIZES && steps == STEPS) {
                java.util.Map<String, Long> replays = cb.graphReplays();
                assertEquals(25L, replays.get(m.stepKey("train", 32)), "replays of the size-32 step's graphs: " + replays);
                assertEquals(6L, replays.get(m.stepKey("train", 19)), "replays of the size-19 step's graphs: " + replays);
                assertEquals(6L, replays.get(m.stepKey("train", 7)), "replays of the size-7 step's graphs: " + replays);
                // The launch budget of a step (each graph node costs about a microsecond on the
                // device, which at batch 128 is most of a step): dense gradients zeroed in one
                // launch, every field's embedding lookup in one and their backwards in one, Adam
                // on all dense parameters in one, every table's sparse update in one (emptying
                // the touched lists itself). A change that adds launches to the step shows here.
                // The fused unit was 5 launches: prepare, MLP forward and the per-sample pool, MLP
                // backward (the pool's backward at each chunk's positions inside it) and the reduce
                // (the pool launch, which a single per-sample kernel did not need, lets the MLP
                // spread a sample's chunks over blocks).
                // The unit with Dice runs layer by layer: 9 launches forward and up to 21 backward
                // (Dice and the bias gradients over B * T rows in two stages each, and with a library
                // GEMM each of its three products' bias broadcast first) instead of the fused unit's 5. The history's
                // sum pool runs inside the interest block's launches (pooledInterestConcat), forward
                // and backward: 2 fewer for every model.
                // The built-in GEMM sums each linear layer's bias gradient in its weight gradient's
                // pass (an extra row of ones): 3 launches fewer for the top MLP, and the Dice
                // unit's 3 sliced bias gradients (2 launches each) go too; cuBLAS cannot. With it the
                // Dice unit also packs its rows, the valid positions alone, which takes one launch
                // (activation_unit_row_starts_kernel) and leaves B T - sum(len) rows idle everywhere.
                // Its split K is summed inside gemm_kernel (no reduce launch): 3 fewer again.
                boolean builtin = cb.gemm().name().startsWith("built-in");
                int budget = cfg.kind() != ModelConfig.Kind.DIN ? 27 : cfg.attActivation() == Activation.DICE ? 32 - 5 + 30 : 32;
                if (builtin) budget -= cfg.kind() != ModelConfig.Kind.DIN ? 3 : cfg.attActivation() == Activation.DICE ? 3 + 6 - 1 + 3 : 3;
                // and a top MLP of sigmoid or PReLU layers applies each in its product's epilogue
                if (builtin && cfg.topActivation() != Activation.DICE) budget -= cfg.mlpHidden().size();

                // The top tower fused (tower.cu; fp32, batches whose layers fit a block): a launch per hidden
                // layer each way, instead of the BatchNorm, each layer's product, activation and their
                // backwards, the logit's product and the loss (the top layer's forward makes the logits and
                // the loss, its backward the logit's weight and bias gradients): 3 L + 5 fewer with a Dice
                // tower of L layers, 2 L + 5 with sigmoid or PReLU.
                // With a library GEMM the tower's own launches take in its products' bias gradients (L + 1) and a
                // sigmoid or PReLU tower's activations (L) too. Layer by layer, a library GEMM adds no bias: each
                // of the top MLP's L + 1 products (its hidden layers and the logit) has it broadcast into the
                // output first (bias_broadcast_kernel). The library's counts are those of its paths on the
                // built-in products (aLibraryGemmProviderMatchesTheCpu); cuBLAS itself has not run here.
                int L = cfg.mlpHidden().size();
                boolean towerFused = cb.precision() == io.augur.backend.Precision.FP32 && cb.tuning().towerFused();
                if (towerFused) {
                    budget -= cfg.topActivation() == Activation.DICE ? 3 * L + 5 : 2 * L + 5;
                    if (!builtin) budget -= L + 1 + (cfg.topActivation() == Activation.DICE ? 0 : L);
                } else if (!builtin) {
                    budget += L + 1;
                }
                // The dense gradients are zeroed in the lookups' launch, and the optimizer step (every
                // table's sparse update and Adam) is one launch that also advances the step counter
                // (which took a launch of its own): 3 fewer for every model. In DIN the fused unit's
                // forward makes the per-sample terms itself (no prepare launch), its pool launch writes
                // the interest block and its backward launches do the block's backward: 3 fewer again.
                budget -= 3;
                if (cfg.kind() == ModelConfig.Kind.DIN && cfg.attActivation() != Activation.DICE) budget -= 3;
                // A sigmoid or PReLU unit layer by layer (-Daugur.attention.fused=off) takes 18 launches where the
                // fused one takes 4. Forward 7: its row starts, z, three products (the activations in their
                // epilogues), the pool, and the interest block's own launch. Backward 11: the interest block's, the
                // pool's, each layer's weight and input gradients (6), the two activations' and z's. PReLU's
                // activations each add their slopes' reduce. With a library GEMM: no row starts, the two activations
                // after their products, and the three bias gradients in two launches each.
                if (cfg.kind() == ModelConfig.Kind.DIN && cfg.attActivation() != Activation.DICE && !cb.tuning().attentionFused()) {
                    budget += 14 + (cfg.attActivation() == Activation.PRELU ? 2 : 0) + (builtin ? 0 : -1 + 2 + 6);
                }
                // DIN's fused unit sums its partial gradients and adds the lookups' backward in one launch
                // (activation_unit_reduce_gather_kernel, -Daugur.attention.reduceGathers=auto): 1 fewer.
                if (cfg.kind() == ModelConfig.Kind.DIN && cfg.attActivation() != Activation.DICE && cb.tuning().attentionFused()
                        && cb.tuning().attentionReduceGathers()) {
                    budget -= 1;
                }
                java.util.List<String> ops = cb.graphOps(m.stepKey("train", 32));
                assertUnitForm(cb, cfg, ops);
                assertTrue(ops.size() <= budget, cfg.kind() + " step: " + ops.size() + " operations, budget " + budget + ":\n" + String.join("\n", ops));
            }
            for (Param p : m.params()) {
                float[] v = new float[p.value().size()];
                be.download(p.value(), v, v.length);
                for (float x : v) assertTrue(Float.isFinite(x), p.name() + " has a non-finite value after training");
            }
            return losses;
        } finally {
            if (close && !(be instanceof CudaBackend)) be.close();
        }
    }
}
