package io.augur.backend.cuda;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.DoubleSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CudaBackend#readLater}: each value is the tensor as the work issued before the call left
 * it, whatever was issued after and whenever it is read, also with more values outstanding than
 * the pinned ring has slots; an invalid input a kernel reported surfaces when a value is read;
 * not inside a step. SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaReadLaterTest {

    @Test
    void valuesAreTheTensorAsOfTheCallReadInAnyOrder() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("later.t", 8);
        List<DoubleSupplier> later = new ArrayList<>();
        for (int k = 0; k < 11; k++) {   // more than the ring's 4 slots
            be.fill(t, k + 0.5f, 8);
            later.add(be.readLater(t));
        }
        be.fill(t, -1f, 8);
        assertEquals(10.5, later.get(10).getAsDouble());
        for (int k = 0; k < 11; k++) assertEquals(k + 0.5, later.get(k).getAsDouble(), "value " + k);
        assertEquals(3.5, later.get(3).getAsDouble(), "a second read gives the same value");
    }

    /** Arrays too, of growing sizes (the ring's pinned buffers grow), each as of its call. */
    @Test
    void arraysAreTheTensorAsOfTheCall() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("later.array", 5000);
        int[] sizes = {3, 1, 700, 5000, 20, 4096, 0, 9};
        float[][] got = new float[sizes.length][];
        List<Runnable> later = new ArrayList<>();
        for (int k = 0; k < sizes.length; k++) {
            be.fill(t, 0.25f * k, 5000);
            got[k] = new float[sizes[k] + 2];
            got[k][sizes[k]] = -7f;   // past n: untouched
            later.add(be.downloadLater(t, got[k], sizes[k]));
        }
        be.fill(t, -1f, 5000);
        for (int k = sizes.length - 1; k >= 0; k--) {
            later.get(k).run();
            for (int i = 0; i < sizes[k]; i++) assertEquals(0.25f * k, got[k][i], "array " + k + " at " + i);
            assertEquals(-7f, got[k][sizes[k]], "array " + k + " past its n");
        }
    }

    @Test
    void aReportedInvalidInputSurfacesWhenTheValueIsRead() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor table = be.floats("later.table", 5, 4), out = be.floats("later.out", 3 * 4), ids = be.ints("later.ids", 3);
        be.upload(ids, new int[] {1, 7, 2}, 3);   // 7 is outside the 5-row table
        be.embeddingGather(out, ids, null, table, 3, 1, 4, 4, 0);
        DoubleSupplier v = be.readLater(out);
        IllegalStateException e = assertThrows(IllegalStateException.class, v::getAsDouble);
        assertTrue(e.getMessage().contains("invalid input"), e.getMessage());
        be.fill(out, 2f, 12);
        assertEquals(2.0, be.readLater(out).getAsDouble(), "the status word was cleared");
    }

    /**
     * The same through the list gather (embedding_gather_multi_forward_kernel, which keeps each
     * batch's status bits in a register and sets them once): an id outside its table in one entry
     * and a history length past T in another, both named.
     */
    @Test
    void theListGatherReportsBadIdsAndLengths() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        int T = 3, D = 4;
        Tensor table = be.floats("later.listTable", 5, D), ids = be.ints("later.listIds", 2 * T), lens = be.ints("later.listLens", 2);
        Tensor out1 = be.floats("later.listOut1", 2 * D), out2 = be.floats("later.listOut2", 2 * T * D), ids1 = be.ints("later.listIds1", 2);
        be.upload(ids1, new int[] {1, 9}, 2);                  // 9: outside the 5-row table
        be.upload(ids, new int[] {1, 2, 3, 4, 0, 1}, 2 * T);
        be.upload(lens, new int[] {2, T + 4}, 2);               // T + 4: past T
        be.embeddingGather(List.of(io.augur.backend.Backend.Gather.forward(out1, ids1, null, table, 2, 1, D, D, 0),
                io.augur.backend.Backend.Gather.forward(out2, ids, lens, table, 2 * T, T, D, D, 0)));
        IllegalStateException e = assertThrows(IllegalStateException.class, be.readLater(out1)::getAsDouble);
        assertTrue(e.getMessage().contains("embedding id outside its table") && e.getMessage().contains(DeviceStatus.describe(DeviceStatus.BAD_LENGTH)),
                e.getMessage());
    }

    /**
     * The fused activation unit reports a history length outside [0, T] (its pool's forward checks
     * each sample's; the tiles clamp them): T + 4 and -1 in a batch of 3, the third valid.
     */
    @Test
    void theActivationUnitReportsBadLengths() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        int B = 3, T = 4, W = 4, h1 = 8, h2 = 4;
        io.augur.backend.AttentionSpec spec = new io.augur.backend.AttentionSpec(W, h1, h2, io.augur.backend.Activation.SIGMOID, true, 0.99f, 1e-8f);
        io.augur.backend.Workspace ws = be.attentionWorkspace("later.att", spec, B, T);
        Tensor q = be.floats("later.q", B * W), k = be.floats("later.k", B * T * W), lens = be.ints("later.attLens", B);
        Tensor out = be.floats("later.attOut", B * W), weights = be.floats("later.attWeights", B * T);
        io.augur.backend.AttentionParams p = new io.augur.backend.AttentionParams(be.floats("later.w1", 4 * W * h1), be.floats("later.b1", h1), null,
                be.floats("later.w2", h1 * h2), be.floats("later.b2", h2), null, be.floats("later.w3", h2), be.floats("later.b3", 1),
                null, null, null, null);
        be.upload(lens, new int[] {T + 4, -1, 2}, B);
        be.activationUnit(out, weights, ws, q, k, lens, p, spec, B, T, true);
        IllegalStateException e = assertThrows(IllegalStateException.class, be.readLater(out)::getAsDouble);
        assertTrue(e.getMessage().contains(DeviceStatus.describe(DeviceStatus.BAD_LENGTH)), e.getMessage());
    }

    @Test
    void notInsideAStep() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Tensor t = be.floats("later.step", 1);
        String key = "later/" + System.nanoTime();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> be.runStep(key, () -> be.readLater(t)));
        assertTrue(e.getMessage().contains("inside a step"), e.getMessage());
    }
}
