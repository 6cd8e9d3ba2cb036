package io.augur.backend.cuda;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A plan the device cannot hold: a {@link DeviceMemoryException} that names the device, the sizes and the largest
 * tensors, the context usable after it; and on the command line one line and exit status 2, not a stack trace.
 * The last two need a device of a few MiB, which only the emulator can be (AUGUR_EMU_MEMORY_MIB): tagged
 * {@code emulator}, so that scripts/gpu-check.sh leaves them out on a GPU instead of counting them as skipped.
 */
@Tag("gpu")
class DeviceMemoryTest {

    /**
     * On a GPU, here; on the emulator, in a JVM of its own whose device has 256 MiB (AUGUR_EMU_MEMORY_MIB): the
     * emulated test run gives every tensor an allocation of its own and fills each with NaN, so reaching 16 GiB
     * would fill gigabytes of host memory first.
     */
    @Test
    void aPlanLargerThanTheDeviceIsRefusedByNameAndTheContextGoesOn() throws Exception {
        GpuTesting.assumeGpu();
        if (!GpuTesting.emulated()) {
            planLargerThanTheDevice(GpuTesting.backend());
            return;
        }
        String out = GpuTesting.emulatedJvm(DeviceMemoryProbe.class, Map.of("AUGUR_EMU_MEMORY_MIB", "256"), 120, "plan");
        assertTrue(out.contains("plan check passed"), out);
    }

    /**
     * More than the device's whole memory in tensors of a quarter of it (at most 4 GiB each; larger than the backend's own
     * workspaces, 16 MiB, from a device of 256 MiB up), planned on a backend of its own over {@code shared}'s context.
     */
    static void planLargerThanTheDevice(CudaBackend shared) {
        CudaBackend be = new CudaBackend(shared.runtime(), "builtin");   // not closed: it shares the context
        long total = shared.runtime().totalMemory;
        int cols = (int) Math.min(1 << 10, total / 4 / 4 / (1 << 20));   // rows of 2^20 floats: a quarter of the device, at most 4 GiB
        int n = (int) (total / (4L * cols << 20)) + 2;
        List<Tensor> big = new ArrayList<>();
        for (int i = 0; i < n; i++) big.add(be.floats("too.big." + i, 1 << 20, cols));
        be.floats("too.big.larger", 1 << 20, cols + 1);   // planned last, named first
        DeviceMemoryException e = assertThrows(DeviceMemoryException.class, () -> be.download(big.get(0), new float[1], 1));
        String m = e.getMessage(), quarter = DeviceMemoryException.amount(4L * cols << 20);
        assertTrue(m.startsWith(be.deviceLabel() + ": out of device memory: the planned tensors need "), m);
        // "(Augur holds ... of it)" follows where the backends of the run hold memory (the shared one after other test classes)
        assertTrue(m.contains(" free of " + DeviceMemoryException.amount(total) + ".")
                || m.matches("(?s).* free of " + java.util.regex.Pattern.quote(DeviceMemoryException.amount(total)) + " \\(Augur holds [^)]+ of it\\)\\..*"), m);
        assertTrue(m.contains("The largest planned: too.big.larger " + DeviceMemoryException.amount(4L * (cols + 1) << 20) + ", too.big.0 " + quarter
                + ", too.big.1 " + quarter), m);
        assertTrue(e.requested() > total && e.total() == total && e.free() <= total, m);
        assertTrue(e.getCause() instanceof CudaException c && c.code() == jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY);
        // the plan was given up: its tensors take no more writes, and what is planned after it allocates alone
        IllegalStateException gone = assertThrows(IllegalStateException.class, () -> be.upload(big.get(1), new float[1], 1));
        assertTrue(gone.getMessage().contains("too.big.1: its plan was given up"), gone.getMessage());
        Tensor small = be.floats("after.oom.small", 3);
        be.upload(small, new float[] {7, 8, 9}, 3);
        float[] got = new float[3];
        be.download(small, got, 3);
        assertArrayEquals(new float[] {7, 8, 9}, got);
        // the failure left the context usable: the shared backend still computes
        Tensor a = shared.floats("after.oom", 5);
        shared.upload(a, new float[] {1, 2, 3, 4, 5}, 5);
        float[] back = new float[5];
        shared.download(a, back, 5);
        assertArrayEquals(new float[] {1, 2, 3, 4, 5}, back);
    }

    /**
     * augur bench over three batch sizes on an emulated device of 64 MiB, the middle one too large: it is reported
     * as skipped with the reason, and the batches before and after it are measured (exit status 0).
     */
    @Test
    @Tag("emulator")
    void benchSkipsABatchTheDeviceCannotHoldAndMeasuresTheRest() throws Exception {
        String out = GpuTesting.emulatedJvm(DeviceMemoryProbe.class, Map.of("AUGUR_EMU_MEMORY_MIB", "64"), 300, "bench");
        assertTrue(out.contains("exit 0"), out);
        String table = out.lines().filter(l -> l.startsWith("out: ")).findFirst().orElse("");
        assertTrue(table.matches(".*\\|din +16 +\\d+ .*") && table.matches(".*\\|din +32 +\\d+ .*"), "batches 16 and 32 measured:\n" + out);
        assertTrue(table.contains("|din     20000   skipped: cuda:0 Augur CPU emulator (not a GPU): out of device memory: the planned tensors need "),
                out);
    }

    /** augur train on an emulated device of 64 MiB with a batch that needs more: one line naming the plan, exit status 2. */
    @Test
    @Tag("emulator")
    void theCommandLineSaysItInOneLine() throws Exception {
        String out = GpuTesting.emulatedJvm(DeviceMemoryProbe.class, Map.of("AUGUR_EMU_MEMORY_MIB", "64"), 240, "train");
        assertTrue(out.contains("exit 2"), out);
        List<String> err = out.lines().filter(l -> l.startsWith("err: ")).toList();
        assertEquals(1, err.size(), out);
        String line = err.get(0);
        assertTrue(line.startsWith("err: augur train: cuda:0 Augur CPU emulator (not a GPU): out of device memory: the planned tensors need ")
                && line.contains("the device has 64.0 MiB free of 64.0 MiB.") && line.contains("The largest planned: ")
                && line.endsWith("Lower the batch size (train's --batch-size and --eval-batch-size, bench's --batch-sizes): a step's activations"
                + " and workspaces grow with it."), line);
        assertFalse(out.contains("\tat "), "no stack trace:\n" + out);
    }
}
