package io.augur.backend.cuda;

import io.augur.backend.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /**
     * One batch of many staged inputs (ints and floats, of sizes around copy_multi_kernel's 1,024-word chunks, more of
     * them than one launch takes, MultiTensorArgs.MAX), each tensor's bits as uploaded: NaN payloads, -0 and
     * denormals included. (In the emulated run every tensor is an allocation of its own, so a copy past a tensor's
     * end fails the launch there.)
     */
    @Test
    void aBatchOfManyInputsArrivesBitForBit() {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        int count = MultiTensorArgs.MAX + 6;
        int[] sizes = new int[count];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(7);
        Tensor[] t = new Tensor[count];
        int[][] bits = new int[count][];
        for (int k = 0; k < count; k++) {
            sizes[k] = switch (k % 7) { case 0 -> 1; case 1 -> 1023; case 2 -> 1024; case 3 -> 1025; case 4 -> 2049; case 5 -> 3; default -> 1 + rng.nextInt(3000); };
            t[k] = k % 2 == 0 ? be.ints("staged.i" + k, sizes[k]) : be.floats("staged.f" + k, sizes[k]);
            bits[k] = new int[sizes[k]];
            for (int i = 0; i < sizes[k]; i++) bits[k][i] = rng.nextInt();
            bits[k][0] = k % 3 == 0 ? 0x7fc00bad : k % 3 == 1 ? 0x80000000 : 0x00000001;   // a NaN's payload, -0, a denormal
        }
        for (int k = 0; k < count; k++) be.fill(t[k], 0f, sizes[k]);   // written by a kernel before the batch
        be.synchronize();
        for (int k = 0; k < count; k++) {
            if (k % 2 == 0) {
                be.upload(t[k], bits[k], sizes[k]);
            } else {
                float[] f = new float[sizes[k]];
                for (int i = 0; i < f.length; i++) f[i] = Float.intBitsToFloat(bits[k][i]);
                be.upload(t[k], f, sizes[k]);
            }
        }
        for (int k = 0; k < count; k++) {
            int[] got = new int[sizes[k]];
            if (k % 2 == 0) {
                be.download(t[k], got, sizes[k]);
            } else {
                float[] f = new float[sizes[k]];
                be.download(t[k], f, sizes[k]);
                for (int i = 0; i < f.length; i++) got[i] = Float.floatToRawIntBits(f[i]);
            }
            assertArrayEquals(bits[k], got, "tensor " + k + " of " + sizes[k] + " words");
        }
    }

    /**
     * Batch inputs planned after the staging was made, larger than its slot (bench: DIN at batch 128, then a model of batch
     * 2048 on the same backend): the staging grows between steps, so every later batch travels through it (no synchronous
     * copy, none of the host waiting for the device), and every consumer still sees its own batch. A backend of its own on
     * the shared context, so that its staging is made for the small input.
     */
    @Test
    void batchInputsPlannedLaterGrowTheStaging() {
        GpuTesting.assumeGpu();
        CudaBackend be = new CudaBackend(GpuTesting.backend().runtime(), "builtin");
        Tensor small = be.floats("batch.small", 1000);
        be.upload(small, new float[1000], 1000);
        be.synchronize();   // the first allocation: the staging is made for batch.small
        long slot = be.stagingSlotBytes();
        assertTrue(slot > 0, "a staging after the first allocation");
        int n = (int) (slot / 4) + 12_345, batches = 6;   // more than a whole slot of the first staging
        Tensor x = be.floats("batch.large", n);
        Tensor[] seen = new Tensor[batches];
        for (int k = 0; k < batches; k++) seen[k] = be.floats("seen.large" + k, n);
        for (int k = 0; k < batches; k++) be.fill(seen[k], 0f, n);   // the second allocation: the staging grows here
        float[][] data = new float[batches][n];
        for (int k = 0; k < batches; k++) {
            for (int i = 0; i < n; i += 997) data[k][i] = k * 1_000_000 + i;
            data[k][n - 1] = -k - 1;   // the input's last word, past the first staging's end
            be.upload(x, data[k], n);
            be.addInto(seen[k], x, n);
        }
        be.synchronize();
        assertTrue(be.stagingSlotBytes() >= 4L * n, "a slot of " + be.stagingSlotBytes() + " bytes for an input of " + 4L * n);
        assertEquals(0, be.synchronousBatchUploads(), "batch inputs copied synchronously");
        for (int k = 0; k < batches; k++) {
            float[] got = new float[n];
            be.download(seen[k], got, n);
            assertArrayEquals(data[k], got, "what the kernel after upload " + k + " read");
        }
        // a second model's inputs of the same size (bench's next repeat): the slots hold the largest batch, not the sum
        long grown = be.stagingSlotBytes();
        Tensor y = be.floats("batch.again", n);
        be.synchronize();   // allocates it
        assertEquals(grown, be.stagingSlotBytes(), "the slot after a second input as large as the first");
        be.upload(y, data[1], n);
        float[] got = new float[n];
        be.download(y, got, n);
        assertArrayEquals(data[1], got, "the second model's input");
        assertEquals(0, be.synchronousBatchUploads(), "batch inputs copied synchronously");
    }
}
