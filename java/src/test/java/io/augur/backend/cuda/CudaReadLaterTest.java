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
