package io.augur.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.util.function.LongSupplier;

/**
 * Reads from the device that do not wait ({@code Backend.readLater}, {@code downloadLater}): a
 * ring of {@link #SLOTS} pinned host buffers, each receiving the device status word and then the
 * values through asynchronous copies queued on the compute stream behind the work issued so far,
 * with an event after them. A {@link Later} waits for its event when first asked for; a slot is
 * reused every {@link #SLOTS} reads, after its previous read has been fetched, and its buffer
 * grows (outside any step) when a read outgrows it. An invalid input a kernel reported before the
 * read (the status word) is thrown when the read is completed, and the word is cleared.
 */
final class LaterReads {
    static final int SLOTS = 4;

    private final CudaRuntime rt;
    private final LongSupplier statusAddress;
    private final CudaRuntime.PinnedBuffer[] host = new CudaRuntime.PinnedBuffer[SLOTS];
    private final int[] capacity = new int[SLOTS];
    private final CUevent[] done = new CUevent[SLOTS];
    private final Later[] out = new Later[SLOTS];
    private int next;

    LaterReads(CudaRuntime rt, LongSupplier statusAddress) {
        this.rt = rt;
        this.statusAddress = statusAddress;
    }

    /** Queues the read of n floats at the device address src (into dst, or kept as one value when dst is null). */
    Later queue(long src, int n, float[] dst, String what) {
        if (done[0] == null) for (int i = 0; i < SLOTS; i++) done[i] = rt.event();
        int slot = next;
        next = (next + 1) % SLOTS;
        if (out[slot] != null) out[slot].fetch();
        if (host[slot] == null || capacity[slot] < n) {
            capacity[slot] = Math.max(n, 1);
            host[slot] = rt.allocatePinned(4L * (capacity[slot] + 1));
        }
        Pointer p = host[slot].pointer();
        CudaException.check(JCudaDriver.cuMemcpyDtoHAsync(p, rt.pointer(statusAddress.getAsLong()), 4, rt.compute), "cuMemcpyDtoHAsync(status)",
                rt.lastKernel());
        if (n > 0) {
            CudaException.check(JCudaDriver.cuMemcpyDtoHAsync(p.withByteOffset(4), rt.pointer(src), 4L * n, rt.compute),
                    "cuMemcpyDtoHAsync(" + what + ")", rt.lastKernel());
        }
        CudaException.check(JCudaDriver.cuEventRecord(done[slot], rt.compute), "cuEventRecord");
        Later l = new Later(slot, what, n, dst);
        out[slot] = l;
        return l;
    }

    /** One queued read: fetched (waiting for its event) once, then kept. */
    final class Later {
        private final int slot, n;
        private final String what;
        private final float[] dst;   // null: one value, kept here
        private boolean fetched;
        private float value;
        private int statusBits;

        private Later(int slot, String what, int n, float[] dst) {
            this.slot = slot;
            this.what = what;
            this.n = n;
            this.dst = dst;
        }

        void fetch() {
            if (fetched) return;
            rt.makeCurrent();
            CudaException.check(JCudaDriver.cuEventSynchronize(done[slot]), "cuEventSynchronize(later read of " + what + ")", rt.lastKernel());
            ByteBuffer buf = host[slot].buffer();
            statusBits = buf.getInt(0);
            if (dst != null) buf.duplicate().order(buf.order()).position(4).slice().order(buf.order()).asFloatBuffer().get(dst, 0, n);
            else value = buf.getFloat(4);
            fetched = true;
            if (out[slot] == this) out[slot] = null;
        }

        /** Waits for the read; an invalid input a kernel reported before it is thrown here. */
        void complete() {
            fetch();
            if (statusBits != 0) {
                int bits = statusBits;
                statusBits = 0;
                CudaException.check(JCudaDriver.cuMemsetD32Async(rt.pointer(statusAddress.getAsLong()), 0, 1, rt.compute), "cuMemsetD32Async(status)");
                throw new IllegalStateException("CUDA kernels reported invalid input: " + DeviceStatus.describe(bits));
            }
        }

        double value() {
            complete();
            return value;
        }
    }
}
