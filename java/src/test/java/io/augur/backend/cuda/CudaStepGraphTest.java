package io.augur.backend.cuda;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CudaBackend#runStep}: a step is captured into a CUDA graph on its second call and
 * replayed after; a step whose operations change (here the value of a fill, as a changed
 * hyper-parameter would change a kernel argument) runs eagerly, with the new value, and is
 * captured again; a step may not move data to or from the host. SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaStepGraphTest {

    @Test
    void capturedOnTheSecondCallReplayedAfterAndFollowsAChangedStep() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("graph.test.t", 100);
        Tensor u = be.floats("graph.test.u", 100);
        float[] value = {1f};
        String key = "graph-test/" + System.nanoTime();
        Runnable work = () -> {
            be.fill(t, value[0], 100);
            be.fill(u, 2 * value[0], 50);
        };
        float[] got = new float[100];
        for (int call = 1; call <= 9; call++) {
            value[0] = call <= 4 ? 1f : call == 5 ? 3f : call;   // the 5th call changes the step, and every one after it too
            if (call >= 7) value[0] = 7f;                          // ... until the 7th: from then on the same again
            be.runStep(key, work);
            be.download(t, got, 100);
            float[] want = new float[100];
            Arrays.fill(want, value[0]);
            assertArrayEquals(want, got, "t after call " + call);
            be.download(u, got, 100);
            for (int i = 0; i < 50; i++) assertEquals(2 * value[0], got[i], "u[" + i + "] after call " + call);
        }
        // calls: 1 eager, 2 captured, 3 and 4 replayed, 5 diverged (eager), 6 captured again (value 6),
        // 7 diverged (eager), 8 captured again, 9 replayed
        assertEquals(3L, be.graphReplays().get(key), be.graphReplays().toString());
        assertTrue(be.stepSummary().contains(key + " 3 replayed"), be.stepSummary());
    }

    /**
     * Work the runtime does not launch itself, enqueued on the compute stream by a library (cuBLAS's products, through
     * {@link CudaRuntime#external}; here a raw cuMemsetD32Async): captured with the step, replayed in its graph, and a
     * call whose key changed (the fill's value, as a changed operand would change cuBLAS's call) makes the step
     * eager again and then captured anew, as a kernel argument does. The runtime's replay checks name it.
     */
    @Test
    void aLibrarysCallIsCapturedReplayedAndFollowedWhenItsKeyChanges() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        CudaRuntime rt = be.runtime();
        Tensor t = be.floats("graph.test.external", 64);
        be.synchronize();   // allocated before the raw call reads its address
        long addr = ((CudaTensor) t).address();
        int[] bits = {Float.floatToRawIntBits(1f)};
        String key = "graph-external/" + System.nanoTime();
        Runnable work = () -> {
            int v = bits[0];
            rt.external("test-memset", new long[] {addr, v, 64}, () -> CudaException.check(
                    jcuda.driver.JCudaDriver.cuMemsetD32Async(rt.pointer(addr), v, 64, rt.compute), "cuMemsetD32Async (test)"));
        };
        float[] got = new float[64];
        for (int call = 1; call <= 8; call++) {
            float value = call <= 4 ? 1f : call == 5 ? 5f : 6f;   // 5 changes the call, 6 again; 7 and 8 keep 6's
            bits[0] = Float.floatToRawIntBits(value);
            be.runStep(key, work);
            be.download(t, got, 64);
            for (int i = 0; i < 64; i++) assertEquals(value, got[i], "t[" + i + "] after call " + call);
        }
        // 1 eager, 2 captured, 3 and 4 replayed, 5 diverged (eager), 6 captured again, 7 and 8 replayed
        assertEquals(4L, be.graphReplays().get(key), be.graphReplays().toString());
        assertTrue(be.graphOps(key).stream().anyMatch(o -> o.startsWith("test-memset[")), be.graphOps(key).toString());
    }

    @Test
    void withoutGraphsNothingIsReplayed() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("graph.test.off", 10);
        String key = "graph-off/" + System.nanoTime();
        be.setStepGraphs(false);
        try {
            for (int call = 0; call < 4; call++) be.runStep(key, () -> be.fill(t, 5f, 10));
        } finally {
            be.setStepGraphs(true);
        }
        assertNull(be.graphReplays().get(key));
        float[] got = new float[10];
        be.download(t, got, 10);
        for (float v : got) assertEquals(5f, v);
    }

    @Test
    void aStepMayNotUploadOrDownload() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("graph.test.io", 4);
        for (int call = 1; call <= 3; call++) {   // eager, capture and replay all refuse it
            String key = "graph-io/" + call + "/" + System.nanoTime();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.runStep(key, () -> be.download(t, new float[4], 4)));
            assertTrue(e.getMessage().contains("inside a step"), e.getMessage());
            e = assertThrows(IllegalStateException.class, () -> be.runStep(key, () -> be.upload(t, new float[4], 4)));
            assertTrue(e.getMessage().contains("inside a step"), e.getMessage());
        }
        be.runStep("graph-io/after", () -> be.fill(t, 1f, 4));   // the backend is usable after the refusals
        float[] got = new float[4];
        be.download(t, got, 4);
        assertArrayEquals(new float[] {1f, 1f, 1f, 1f}, got);
    }
}
