package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The double-buffered input pipeline's bookkeeping, against a recording fake of the driver: which
 * waits, copies and records happen, in which order, on which slot.
 */
class InputStagingTest {

    /** Records every call as a short string; the pinned buffers are plain heap buffers. */
    static final class Recorder implements InputStaging.Transfers {
        final List<String> calls = new ArrayList<>();
        final ByteBuffer[] pinned;

        Recorder(int slotBytes) {
            pinned = new ByteBuffer[] {ByteBuffer.allocate(slotBytes).order(ByteOrder.nativeOrder()),
                    ByteBuffer.allocate(slotBytes).order(ByteOrder.nativeOrder())};
        }

        @Override public ByteBuffer pinned(int slot) { return pinned[slot]; }
        @Override public void hostWaitsCopyDone(int slot) { calls.add("hostWait" + slot); }
        @Override public void copyStreamWaitsD2dDone(int slot) { calls.add("copyWaitD2d" + slot); }
        @Override public void copyHostToStaging(int slot, long bytes) { calls.add("h2d" + slot + ":" + bytes); }
        @Override public void recordCopyDone(int slot) { calls.add("recCopy" + slot); }
        @Override public void computeWaitsCopyDone(int slot) { calls.add("computeWait" + slot); }
        @Override public void copyStagingToDevice(int slot, List<InputStaging.Copy> copies) {
            StringBuilder sb = new StringBuilder("d2d" + slot);
            for (InputStaging.Copy c : copies) sb.append(" @").append(c.offset()).append("->").append(c.dst()).append(':').append(c.bytes());
            calls.add(sb.toString());
        }
        @Override public void recordD2dDone(int slot) { calls.add("recD2d" + slot); }
    }

    @Test
    void threeBatchesAlternateSlotsAndWaitOnlyWhenASlotIsReused() {
        Recorder r = new Recorder(4096);
        InputStaging s = new InputStaging(r, 4096);
        // batch 0: two tensors into slot 0
        assertTrue(s.stage(1000, new int[] {1, 2, 3}, 3));
        assertTrue(s.stage(2000, new float[] {0.5f}, 1));
        assertTrue(s.hasPending());
        s.flush();
        assertEquals(List.of("h2d0:512", "recCopy0", "computeWait0", "d2d0 @0->1000:12 @256->2000:4", "recD2d0"), r.calls);
        assertFalse(s.hasPending());
        s.flush(); // nothing staged: no calls
        assertEquals(5, r.calls.size());

        // batch 1: slot 1, first use, no waits
        r.calls.clear();
        s.stage(1000, new int[] {4, 5, 6}, 3);
        s.flush();
        assertEquals(List.of("h2d1:256", "recCopy1", "computeWait1", "d2d1 @0->1000:12", "recD2d1"), r.calls);

        // batch 2: slot 0 again: the host waits for slot 0's old H2D before writing, the copy
        // stream waits for slot 0's old D2D before overwriting the device staging
        r.calls.clear();
        s.stage(1000, new int[] {7, 8, 9}, 3);
        s.stage(3000, new int[] {10}, 1);
        s.flush();
        assertEquals(List.of("hostWait0", "copyWaitD2d0", "h2d0:512", "recCopy0", "computeWait0", "d2d0 @0->1000:12 @256->3000:4", "recD2d0"),
                r.calls);
        assertEquals(3, s.batches());

        int[] slot0 = new int[3];
        r.pinned[0].duplicate().order(ByteOrder.nativeOrder()).asIntBuffer().get(slot0);
        assertArrayEquals(new int[] {7, 8, 9}, slot0, "the third batch's values are in slot 0");
        assertEquals(10, r.pinned[0].duplicate().order(ByteOrder.nativeOrder()).position(256).slice().order(ByteOrder.nativeOrder()).asIntBuffer().get(0));
    }

    @Test
    void anUploadLargerThanWhatIsLeftIsRefusedAndNothingIsStaged() {
        Recorder r = new Recorder(1024);
        InputStaging s = new InputStaging(r, 1024);
        assertTrue(s.stage(1, new float[200], 200));    // 800 bytes -> 1024 aligned: the slot is full
        assertFalse(s.stage(2, new float[1], 1));
        assertFalse(new InputStaging(new Recorder(1024), 1024).stage(3, new int[300], 300), "larger than a whole slot");
        s.flush();
        assertEquals(List.of("h2d0:1024", "recCopy0", "computeWait0", "d2d0 @0->1:800", "recD2d0"), r.calls);
    }

    /**
     * A step's flush: the H2D copy and the compute stream's wait as {@link InputStaging#flush} makes them, the copies
     * out of the device slot handed to the caller instead of issued, d2dDone recorded only when the caller says they are
     * on the compute stream; the next use of the slot waits for that record as before.
     */
    @Test
    void aStepsFlushLeavesTheCopiesToTheStepAndRecordsD2dWhenTold() {
        Recorder r = new Recorder(4096);
        InputStaging s = new InputStaging(r, 4096);
        assertNull(s.flushForStep(), "nothing staged");
        s.stage(1000, new int[] {1, 2, 3}, 3);
        s.stage(2000, new float[] {0.5f}, 1);
        InputStaging.Flushed f = s.flushForStep();
        assertEquals(0, f.slot());
        assertEquals(List.of(new InputStaging.Copy(0, 1000, 12), new InputStaging.Copy(256, 2000, 4)), f.copies());
        assertEquals(List.of("h2d0:512", "recCopy0", "computeWait0"), r.calls);
        assertFalse(s.hasPending());
        s.copiesIssued(f);
        assertEquals(List.of("h2d0:512", "recCopy0", "computeWait0", "recD2d0"), r.calls);

        r.calls.clear();
        s.stage(1000, new int[] {4}, 1);
        InputStaging.Flushed g = s.flushForStep();
        assertEquals(1, g.slot());
        s.copiesIssued(g);
        r.calls.clear();
        s.stage(1000, new int[] {5}, 1);   // slot 0 again: the host and the copy stream wait as a plain flush's would
        s.flush();
        assertEquals(List.of("hostWait0", "copyWaitD2d0", "h2d0:256", "recCopy0", "computeWait0", "d2d0 @0->1000:4", "recD2d0"), r.calls);
        assertEquals(3, s.batches());
    }
}
