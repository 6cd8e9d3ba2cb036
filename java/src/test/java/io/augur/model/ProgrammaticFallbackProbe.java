package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.CudaRuntime;
import io.augur.backend.cuda.GpuTesting;
import io.augur.config.ModelConfig;
import java.util.List;

/**
 * DIN trained 49 steps through CUDA graphs, in a JVM of its own, for {@link ProgrammaticFallbackTest}:
 * the emulator is told by AUGUR_EMU_PDL how its driver takes programmatic launches (not at all, not into
 * a capture, not in an instantiated graph). Prints each loss's bits, whether programmatic launches are
 * still on, how many went out, and how many steps each graph replayed.
 */
final class ProgrammaticFallbackProbe {
    private ProgrammaticFallbackProbe() {}

    public static void main(String[] args) {
        CudaBackend be = GpuTesting.backend();
        if (be == null) {
            System.out.println("no device: " + GpuTesting.reason());
            return;
        }
        CudaRuntime rt = be.runtime();
        System.out.println("available at start: " + rt.programmaticAvailable() + " (" + rt.programmaticLaunch() + ")");
        if (args.length > 0 && args[0].equals("off")) rt.setProgrammatic(false);
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIN, 6, List.of(16, 8), Activation.SIGMOID, true, List.of(20, 10), null, 1e-5f, 1e-8f,
                0.99f, 0.05f);
        // 49 steps, not the helper's 50, whose exact replay counts leave no room for the step captured again
        float[] loss = CudaTrainingParityTest.train(be, cfg, false, true, CudaTrainingParityTest.DEFAULT_SIZES, 49);
        StringBuilder sb = new StringBuilder("losses:");
        for (float l : loss) sb.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(l)));
        System.out.println(sb);
        System.out.println("pdl: " + rt.programmaticLaunch());
        System.out.println("programmatic launches: " + rt.programmaticLaunches());
        long replays = be.graphReplays().values().stream().mapToLong(Long::longValue).sum();
        System.out.println("graph replays: " + replays);
    }
}
