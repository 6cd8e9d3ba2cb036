package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.cpu.CpuBackend;
import io.augur.backend.cuda.Autotuner;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.GpuTesting;
import io.augur.backend.cuda.KernelTuning;
import io.augur.config.ModelConfig;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static io.augur.model.CudaTrainingParityTest.EARLY;
import static io.augur.model.CudaTrainingParityTest.LATE;
import static io.augur.model.CudaTrainingParityTest.STEPS;
import static io.augur.model.CudaTrainingParityTest.train;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * DIN trained 50 steps on the GPU under each value the autotuner may keep, against the CPU, with the
 * tolerances and the training loop of {@link CudaTrainingParityTest}. A class of its own (it is
 * about 70 s of the emulated run) so that the emulated run's two forks share the work evenly
 * (pom.xml, execution "gpu-emulated"). SKIPPED where no GPU is usable; tagged {@code gpu}.
 */
@Tag("gpu")
class CudaAutotunerParityTest {
    @BeforeEach
    void gpu() { GpuTesting.assumeGpu(); }

    /** Every (setting, value) of Autotuner.AXES other than the built-in one. */
    static Stream<Arguments> autotunerValues() {
        KernelTuning base = KernelTuning.builtIn();
        return Autotuner.AXES.stream().flatMap(a -> a.values().stream()
                .filter(v -> !base.with(a.property(), v).equals(base))
                .map(v -> Arguments.of(a.property(), v)));
    }

    /** The CPU's losses for {@link #everyValueTheAutotunerTriesMatchesTheCpu}, computed once. */
    private static float[] cpuDin;

    /**
     * The autotuner keeps whatever runs fastest, so every value it may try must compute what the defaults compute:
     * DIN trained 50 steps through CUDA graphs under each (on top of the built-in settings; the small GEMM's rule
     * with the tower layer by layer, where DIN's step has GEMMs) matches the CPU within the tolerances of
     * {@link CudaTrainingParityTest#fiftyStepsMatchTheCpu}, and the run consulted the setting (it changed what was planned or launched).
     * Clusters need compute capability 9.0 and PDL a device that takes it; elsewhere those cases are skipped.
     */
    @ParameterizedTest(name = "-D{0}={1}")
    @MethodSource("autotunerValues")
    void everyValueTheAutotunerTriesMatchesTheCpu(String property, String value) {
        CudaBackend gb = GpuTesting.backend();
        assumeTrue(Autotuner.axes(gb).stream().anyMatch(a -> a.property().equals(property)),
                () -> property + " is not tried on this device");
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIN, 6, List.of(16, 8), Activation.SIGMOID, true, List.of(20, 10), null, 1e-5f, 1e-8f,
                0.99f, 0.05f);
        if (cpuDin == null) cpuDin = train(new CpuBackend(false, 2), cfg, true, false);
        KernelTuning before = gb.tuning(), t = KernelTuning.builtIn().with(property, value);
        if (property.equals(KernelTuning.GEMM_SMALL)) t = t.with(KernelTuning.TOWER_FUSED, "off");
        float[] gpu;
        Set<String> read;
        gb.setTuning(t);
        try {
            gb.resetSettingsRead();
            gpu = train(gb, cfg, false, true);
            read = gb.settingsRead();
        } finally {
            gb.setTuning(before);
        }
        assertTrue(read.contains(property), "the run never consulted " + property + ": " + read);
        for (int s = 0; s < STEPS; s++) {
            double tol = (s < 10 ? EARLY : LATE) * Math.max(1.0, Math.abs(cpuDin[s]));
            assertEquals(cpuDin[s], gpu[s], tol, "-D" + property + "=" + value + ": loss at step " + (s + 1) + "; CPU "
                    + Arrays.toString(cpuDin) + "\nGPU " + Arrays.toString(gpu));
        }
    }
}
