package io.augur.backend.cuda;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Double-buffered input copies (DESIGN.md §5): batch i + 1 travels to the device while the step of
 * batch i runs, and the tensors the step reads keep fixed device addresses (so a captured CUDA
 * graph stays valid).
 * <pre>
 *   host      upload(dst, array)   array -&gt; pinned[slot] at the slot's next offset (memcpy)
 *   copy      flush(), once per batch: H2D pinned[slot] -&gt; staging[slot] (one copy), record copyDone[slot]
 *   compute   wait copyDone[slot]; staging[slot] -&gt; each dst (one launch); record d2dDone[slot]; slot ^= 1
 * </pre>
 * A step flushes with {@link #flushForStep} instead: the copies out of staging[slot] are then the step's to issue
 * (in its first launch, where that launch can carry them), and d2dDone[slot] is recorded after the step.
 * The batch's uploads are gathered into one slot; the first op that runs on the device after them
 * flushes the slot. Two slots, so the copy of the next batch needs neither the current step nor
 * the current slot: before the host writes pinned[s] again it waits for copyDone[s] (the H2D of
 * two batches ago, long finished in the steady state), and the copy stream waits for d2dDone[s]
 * before overwriting staging[s]. An upload larger than what is left of a slot returns false, and
 * the caller copies it synchronously (checkpoint loads, parameter initialisation).
 *
 * <p>Pure bookkeeping over {@link Transfers}: the driver calls are the caller's, so the order of
 * waits, copies and records is tested without a GPU.
 */
public final class InputStaging {

    /** The driver side: streams, events, copies. Slots are 0 and 1. */
    public interface Transfers {
        /** The pinned host buffer of a slot, {@code slotBytes} long, native byte order. */
        ByteBuffer pinned(int slot);
        /** Host blocks until the last H2D copy out of pinned[slot] has finished. */
        void hostWaitsCopyDone(int slot);
        /** The copy stream waits until the compute stream has read staging[slot] (d2dDone). */
        void copyStreamWaitsD2dDone(int slot);
        /** Async on the copy stream: pinned[slot][0:bytes] -&gt; staging[slot][0:bytes]. */
        void copyHostToStaging(int slot, long bytes);
        /** Records copyDone[slot] on the copy stream. */
        void recordCopyDone(int slot);
        /** The compute stream waits for copyDone[slot]. */
        void computeWaitsCopyDone(int slot);
        /** Async on the compute stream, the batch's copies together: staging[slot][offset:offset+bytes] -&gt; dst for each. */
        void copyStagingToDevice(int slot, List<Copy> copies);
        /** Records d2dDone[slot] on the compute stream. */
        void recordD2dDone(int slot);
    }

    /** One staged upload: bytes at offset in the slot, for the device address dst. */
    public record Copy(long offset, long dst, long bytes) {}

    private final Transfers transfers;
    private final long slotBytes;
    private final boolean[] slotInFlight = new boolean[2];
    private final List<Copy> pending = new ArrayList<>();
    private int slot;
    private long used;
    private long batches;

    public InputStaging(Transfers transfers, long slotBytes) {
        if (slotBytes <= 0 || slotBytes % Arena.ALIGN != 0) throw new IllegalArgumentException("slot size " + slotBytes + " must be a positive multiple of " + Arena.ALIGN);
        this.transfers = transfers;
        this.slotBytes = slotBytes;
    }

    public long slotBytes() { return slotBytes; }

    /** Batches flushed so far. */
    public long batches() { return batches; }

    /** Whether uploads are waiting for {@link #flush}. */
    public boolean hasPending() { return !pending.isEmpty(); }

    /** Stages src[0:n] for the device address dst; false (nothing done) if the slot has no room left. */
    public boolean stage(long dst, float[] src, int n) {
        ByteBuffer buf = reserve(dst, 4L * n);
        if (buf == null) return false;
        buf.asFloatBuffer().put(src, 0, n);
        return true;
    }

    public boolean stage(long dst, int[] src, int n) {
        ByteBuffer buf = reserve(dst, 4L * n);
        if (buf == null) return false;
        buf.asIntBuffer().put(src, 0, n);
        return true;
    }

    /** The slot's region for bytes more, positioned, or null when it does not fit. */
    private ByteBuffer reserve(long dst, long bytes) {
        long aligned = Arena.align(Math.max(bytes, 1));
        if (used + aligned > slotBytes) return null;
        if (pending.isEmpty() && slotInFlight[slot]) transfers.hostWaitsCopyDone(slot);
        ByteBuffer buf = transfers.pinned(slot).duplicate().order(java.nio.ByteOrder.nativeOrder());
        buf.position((int) used).limit((int) (used + bytes));
        ByteBuffer region = buf.slice().order(java.nio.ByteOrder.nativeOrder());
        pending.add(new Copy(used, dst, bytes));
        used += aligned;
        return region;
    }

    /** Sends the staged uploads (one H2D copy) and orders them before the compute stream's next work. */
    public void flush() {
        Flushed f = flushForStep();
        if (f == null) return;
        transfers.copyStagingToDevice(f.slot(), f.copies());
        copiesIssued(f);
    }

    /**
     * A batch's uploads sent to the device slot, whose copies into their tensors the caller issues on the compute
     * stream itself, then says so ({@link #copiesIssued}).
     */
    public record Flushed(int slot, List<Copy> copies) {}

    /**
     * {@link #flush} up to the copies out of the device slot: the H2D copy goes out and the compute stream waits for it;
     * the caller then issues {@code copies} from the slot on the compute stream, in whatever launch (a step's first
     * launch may carry them: CudaBackend.runStep), and calls {@link #copiesIssued}. Null when nothing is staged.
     */
    public Flushed flushForStep() {
        if (pending.isEmpty()) return null;
        if (slotInFlight[slot]) transfers.copyStreamWaitsD2dDone(slot);
        transfers.copyHostToStaging(slot, used);
        transfers.recordCopyDone(slot);
        transfers.computeWaitsCopyDone(slot);
        Flushed f = new Flushed(slot, List.copyOf(pending));
        slotInFlight[slot] = true;
        pending.clear();
        used = 0;
        slot ^= 1;
        batches++;
        return f;
    }

    /**
     * The copies of {@code f} are on the compute stream: the copy stream may overwrite its slot once the compute stream
     * has passed this point (d2dDone).
     */
    public void copiesIssued(Flushed f) {
        transfers.recordD2dDone(f.slot());
    }
}
