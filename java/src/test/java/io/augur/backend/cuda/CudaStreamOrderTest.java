package io.augur.backend.cuda;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The input pipeline's stream order ({@link InputStaging}): batches uploaded back to back, each
 * read by a kernel before the next is uploaded, with nothing synchronising the host in between.
 * Every consumer must see its own batch: the compute stream waits for the copy of its batch
 * (read after write), the copy stream does not overwrite a staging slot the compute stream has
 * not read yet, and the host does not refill a pinned slot whose copy has not run (writes after
 * reads). On a GPU the copy stream runs beside the compute stream; under the CPU emulator each
 * stream's operations wait in a queue and run in a seeded random interleaving that only the
 * events constrain, so a missing wait shows there too (each of the three, removed, fails this
 * test). SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaStreamOrderTest {

    @Test
    void everyConsumerSeesItsOwnBatch() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        int n = 4096, batches = 64;
        Tensor x = be.floats("batch.x", n);
        Tensor[] seen = new Tensor[batches];
        for (int k = 0; k < batches; k++) seen[k] = be.floats("seen." + k, n);
        for (int k = 0; k < batches; k++) be.fill(seen[k], 0f, n);
        float[][] data = new float[batches][n];
        for (int k = 0; k < batches; k++) {
            for (int i = 0; i < n; i++) data[k][i] = k * 10_000 + i;
            be.upload(x, data[k], n);          // staged: pinned slot, then the copy stream
            be.addInto(seen[k], x, n);         // the compute stream reads batch k
        }
        be.synchronize();
        for (int k = 0; k < batches; k++) {
            float[] got = new float[n];
            be.download(seen[k], got, n);
            assertArrayEquals(data[k], got, "what the kernel after upload " + k + " read");
        }
    }
}
