package io.augur.backend.cuda;

import io.augur.backend.Profiling;
import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CUDA backend's {@link Profiling} (what {@code augur bench --profile --ceilings} reads on a
 * GPU; SKIPPED without one): with timing on, each launch is counted under its kernel name with a
 * positive device time, nothing is counted with timing off, a reset empties the table; peak device
 * memory is positive and within the device; the ceilings are positive and below what any current
 * GPU reaches (1 PFLOP/s fp32, 20 TB/s).
 */
@Tag("gpu")
class CudaProfilingTest {

    @Test
    void launchesAreTimedPerKernelWhileTimingIsOn() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        SplittableRandom rng = new SplittableRandom(5);
        int B = 33, in = 40, out = 24, V = 50, D = 8;
        Tensor x = be.floats("prof.x", B * in), W = be.floats("prof.W", in * out), b = be.floats("prof.b", out), y = be.floats("prof.y", B * out);
        Tensor table = be.floats("prof.table", V * D), ids = be.ints("prof.ids", B), g = be.floats("prof.g", B * D);
        be.upload(x, GpuTesting.uniform(rng, B * in, -1, 1), B * in);
        be.upload(W, GpuTesting.uniform(rng, in * out, -1, 1), in * out);
        be.upload(b, GpuTesting.uniform(rng, out, -1, 1), out);
        be.upload(table, GpuTesting.uniform(rng, V * D, -1, 1), V * D);
        be.upload(ids, GpuTesting.ids(rng, B, V), B);

        be.resetOpStats();
        be.linear(y, x, W, b, B, in, out);                                   // untimed: timing is off
        assertTrue(be.opStats().isEmpty(), be.opStats().toString());

        be.setOpTiming(true);
        for (int i = 0; i < 3; i++) {
            be.embeddingGather(g, ids, null, table, B, 1, D, D, 0);
            be.linear(y, x, W, b, B, in, out);
        }
        be.setOpTiming(false);
        Map<String, Profiling.OpStats> s = be.opStats();
        Profiling.OpStats gather = s.get(Kernels.EMBEDDING_GATHER_FORWARD);
        assertEquals(3, gather == null ? 0 : gather.calls(), s.toString());
        assertTrue(gather.seconds() > 0 && gather.seconds() < 1, s.toString());
        String gemmName = be.gemm() instanceof BuiltinGemm builtin ? builtin.kernel(B, out, in) : "cublasSgemm";   // a product this small: gemm_small_kernel by default
        assertEquals(3, s.get(gemmName).calls(), s.toString());

        be.resetOpStats();
        assertTrue(be.opStats().isEmpty());
    }

    /** Tagged {@code real-gpu}: scripts/gpu-check.sh leaves it out when the device is the emulator. */
    @Test
    @Tag("real-gpu")
    void peakMemoryAndCeilingsArePlausible() {
        GpuTesting.assumeRealGpu("the ceilings time a 4096-cubed GEMM and expect a GPU's rates");
        CudaBackend be = GpuTesting.backend();
        be.resetPeakDeviceBytes();
        long peak = be.peakDeviceBytes();
        assertTrue(peak > 0 && peak <= be.runtime().totalMemory, "peak " + peak);

        be.resetOpStats();
        Profiling.Ceilings c = be.measureCeilings();
        assertTrue(c.fp32FlopsPerS() > 1e11 && c.fp32FlopsPerS() < 1e15, c.toString());
        assertTrue(c.bytesPerS() > 1e10 && c.bytesPerS() < 2e13, c.toString());
        assertFalse(c.how().isEmpty());
        assertTrue(be.opStats().isEmpty(), "the ceilings' own launches are not counted as ops: " + be.opStats());
    }
}
