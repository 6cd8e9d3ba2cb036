package io.augur.backend.cuda;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What makes the emulated GPU tests see a kernel that runs past a tensor's end: with
 * {@code -Daugur.cuda.separateAllocations=true} (the emulated test run sets it) every tensor is an
 * allocation of its own, the CPU emulator ends each allocation at a guard page, and a kernel
 * thread's fault there fails its launch with CUDA_ERROR_ILLEGAL_ADDRESS, as on a GPU, naming the
 * kernel, the thread, read or write, and how far past which allocation; the JVM goes on. Without
 * it the same off-by-one lands in the next slice of the one arena allocation and nothing shows
 * (an extra write in the dense gradients' zeroing passed all of CudaTrainingParityTest that way).
 * Each case runs {@link IllegalAccessProbe} in a JVM of its own, since the fault leaves the
 * context unusable. Emulator only: on a GPU a few bytes past an allocation are usually mapped, and
 * compute-sanitizer (gpu-check.sh SANITIZE=1) is what sees them there.
 */
@Tag("emulator")   // not "gpu": gpu-check.sh runs that tag on a GPU, where these skip
class EmulatorGuardTest {

    @Test
    void theEmulatedRunGivesEveryTensorItsOwnAllocation() {
        GpuTesting.assumeGpu();
        org.junit.jupiter.api.Assumptions.assumeTrue(Boolean.getBoolean("augur.test.emulator"), "only the emulated test run sets it (pom.xml)");
        assertTrue(GpuTesting.backend().separateAllocations(), "-D" + CudaBackend.SEPARATE_ALLOCATIONS + "=true in the gpu-emulated execution");
    }

    @ParameterizedTest
    @ValueSource(strings = {"write", "read"})
    void oneFloatPastATensorFailsTheLaunch(String access) throws IOException, InterruptedException {
        String verb = access.equals("write") ? "wrote" : "read";
        assertIllegalAddress(probe(access), "sigmoid_forward_kernel", ") " + verb + " at 0x", "0 bytes past the end of the 4000-byte allocation");
    }

    /** Before a tensor's start the page is mapped: a write there is found after the launch, a read gives a NaN. */
    @ParameterizedTest
    @ValueSource(strings = {"write-before", "read-before"})
    void theFloatBeforeATensor(String access) throws IOException, InterruptedException {
        String out = probe(access);
        if (access.equals("write-before")) {
            assertIllegalAddress(out, "sigmoid_forward_kernel", "a write 4 bytes before the start of the 4000-byte allocation");
        } else {
            assertTrue(out.contains("no error") && out.contains("y[0] = NaN"), "the float before the input reads as a NaN:\n" + out);
        }
    }

    /** Two {@code __restrict__} parameters, one written through, naming one tensor: the launch is refused. */
    @Test
    void aTensorPassedAsTwoRestrictedParametersIsRefused() throws IOException, InterruptedException {
        String out = probe("alias");
        assertTrue(out.contains("sigmoid_forward_kernel: its __restrict__ pointer parameters 0 and 1 point to the same tensor"), out);
        assertTrue(out.contains("threw: cuLaunchKernel(sigmoid_forward_kernel): CUDA_ERROR_INVALID_VALUE"), out);
    }

    /** A launch given less dynamic shared memory than its threads use fails at the first float past it. */
    @Test
    void aThreadPastTheDynamicSharedMemoryFailsTheLaunch() throws IOException, InterruptedException {
        assertIllegalAddress(probe("shared"), "activation_unit_pool_forward_kernel", ") wrote dynamic shared memory 0 bytes past the end of the launch's 32 bytes");
    }

    /**
     * A GPU counts a kernel's static shared memory against the same 48 KiB as its dynamic part (the
     * planner's ATT_STATIC_SHARED is for that): a launch whose two parts together pass it fails here too.
     */
    @Test
    void staticAndDynamicSharedMemoryTogetherPastTheLimitFailTheLaunch() throws IOException, InterruptedException {
        String out = probe("static");
        assertTrue(out.contains("threw: ") && out.contains("CUDA_ERROR_LAUNCH_FAILED"), "the launch did not fail:\n" + out);
        assertTrue(out.contains("activation_unit_pool_forward_kernel <<<"), "the emulator names the kernel:\n" + out);
        assertTrue(out.contains("bytes beside 49024 bytes of dynamic shared memory: more than the 49152 bytes a block has without cuFuncSetAttribute"),
                out);
    }

    /**
     * The fused tower tries its cluster launches before it takes them: on a device that cannot
     * place clusters of 8 (AUGUR_EMU_MAX_CLUSTER=4) the Amazon tower at batch 2048 takes the
     * layer-by-layer ops, and clusters of 4 still run at 1024; without the limit, 8 at 2048.
     * Clusters of 16 (above the portable size) are refused for a kernel not opted in, as a GPU
     * refuses them (CUDA_ERROR_INVALID_CLUSTER_SIZE, 912); asked for, the backend opts the kernels
     * in and runs them where the device places them, and takes the ops where it does not.
     */
    @Test
    void aClusterTheDeviceCannotPlaceSendsTheTowerToTheOps() throws IOException, InterruptedException {
        String limited = run(TowerClusterProbe.class, "4");
        assertTrue(limited.contains("batch 128: cluster 1") && limited.contains("batch 1024: cluster 4") && limited.contains("batch 2048: cluster 0"),
                limited);
        assertTrue(limited.contains("tower_forward_cluster8_kernel: launch refused: clusters of 8 blocks"), limited);
        assertTrue(limited.contains("batch 2048 asked for 16: cluster 0"), limited);
        String free = run(TowerClusterProbe.class, "");
        assertTrue(free.contains("batch 2048: cluster 8"), free);
        assertTrue(free.contains("cluster16 without opt-in: 912"), free);
        assertTrue(free.contains("above the portable 8, and the kernel was not opted in"), free);
        assertTrue(free.contains("batch 2048 asked for 16: cluster 16"), free);
    }

    /**
     * The built-in GEMM puts row tiles on the grid's x dimension: a product with more of them than y takes (65,535 on a
     * GPU, lowered here to 16 by AUGUR_EMU_MAX_GRID_Y) runs and matches the CPU. With the rows on y it was refused
     * ("grid y or z above 16"), as a GPU refuses a product over B * T = 4,194,304 rows or more.
     */
    @Test
    void aProductWithMoreRowTilesThanGridYTakesRuns() throws IOException, InterruptedException {
        String out = GpuTesting.emulatedJvm(GemmGridProbe.class, Map.of("AUGUR_EMU_MAX_GRID_Y", "16"), 120, "16");
        assertTrue(out.contains("rows 1089, 18 row tiles, grid y limit 16") && out.contains("the JVM goes on"), out);
        for (String r : new String[] {"y", "dx", "dW", "db"}) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^" + r + ": largest difference (\\S+)$").matcher(out);
            assertTrue(m.find(), "no result for " + r + ":\n" + out);
            assertTrue(Double.parseDouble(m.group(1)) < 1e-4, r + " differs from the CPU's:\n" + out);
        }
    }

    /** The launch failed as a GPU's faulting one does, and the emulator's message names the kernel and says each of {@code where}. */
    private static void assertIllegalAddress(String out, String kernel, String... where) {
        assertTrue(out.contains("threw: ") && out.contains("CUDA_ERROR_ILLEGAL_ADDRESS"), "the launch did not fail:\n" + out);
        assertTrue(out.contains(kernel + " <<<"), "the emulator names the kernel:\n" + out);
        for (String w : where) assertTrue(out.contains(w), "the emulator says \"" + w + "\":\n" + out);
    }

    /**
     * Runs {@link IllegalAccessProbe} in a JVM of its own (skipped unless the device is the
     * emulator) and returns its output, once it has said that the JVM survived the launch.
     */
    private static String probe(String access) throws IOException, InterruptedException {
        String out = run(IllegalAccessProbe.class, null, access);
        assertTrue(out.contains("separate allocations: true"), out);
        return out;
    }

    /** {@code main} in a JVM of its own, with AUGUR_EMU_MAX_CLUSTER set where {@code maxCluster} is not null. */
    private static String run(Class<?> main, String maxCluster, String... args) throws IOException, InterruptedException {
        // an abnormal end would be a fault the emulator did not catch
        String out = GpuTesting.emulatedJvm(main, maxCluster == null ? Map.of() : Map.of("AUGUR_EMU_MAX_CLUSTER", maxCluster), 120, args);
        assertTrue(out.contains("the JVM goes on"), "the JVM did not survive the launch:\n" + out);
        return out;
    }
}
