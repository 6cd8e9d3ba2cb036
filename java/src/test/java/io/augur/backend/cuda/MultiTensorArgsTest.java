package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The multi-tensor launch plan (no GPU needed): the struct's layout as cuda/multi_tensor.cuh
 * declares it (2,568 bytes, checked there by static_assert), one launch per 64 tensors, blocks of
 * 1024 elements per tensor, empty tensors left out.
 */
class MultiTensorArgsTest {
    static final int N_OFF = 4 * 8 * MultiTensorArgs.MAX, FIRST_OFF = N_OFF + 4 * MultiTensorArgs.MAX, COUNT_OFF = FIRST_OFF + 4 * (MultiTensorArgs.MAX + 1);

    @Test
    void layoutMatchesTheCudaStruct() {
        assertEquals(2568, MultiTensorArgs.BYTES);
        List<MultiTensorArgs.Launch> l = MultiTensorArgs.plan(List.of(new MultiTensorArgs.Entry(0x1000, 0x2000, 0x3000, 0x4000, 1025),
                new MultiTensorArgs.Entry(0x5000, 0, 0, 0, 1024), new MultiTensorArgs.Entry(0x6000, 0, 0, 0, 1)));
        assertEquals(1, l.size());
        ByteBuffer b = l.get(0).args();
        assertEquals(MultiTensorArgs.BYTES, b.remaining());
        assertEquals(0x1000, b.getLong(0));
        assertEquals(0x5000, b.getLong(8));
        assertEquals(0x2000, b.getLong(8 * MultiTensorArgs.MAX));
        assertEquals(0x3000, b.getLong(8 * 2 * MultiTensorArgs.MAX));
        assertEquals(0x4000, b.getLong(8 * 3 * MultiTensorArgs.MAX));
        assertEquals(0, b.getLong(8 * (MultiTensorArgs.MAX + 1)), "unused arrays are nullptr");
        assertEquals(1025, b.getInt(N_OFF));
        assertEquals(1024, b.getInt(N_OFF + 4));
        assertEquals(1, b.getInt(N_OFF + 8));
        // 1025 elements: blocks 0-1; 1024: block 2; 1: block 3; 4 blocks in all
        assertEquals(0, b.getInt(FIRST_OFF));
        assertEquals(2, b.getInt(FIRST_OFF + 4));
        assertEquals(3, b.getInt(FIRST_OFF + 8));
        assertEquals(4, b.getInt(FIRST_OFF + 12), "first_block[count] is the grid size");
        assertEquals(3, b.getInt(COUNT_OFF));
        assertEquals(4, l.get(0).blocks());
    }

    @Test
    void longListsSplitAndEmptyTensorsAreLeftOut() {
        List<MultiTensorArgs.Entry> es = new ArrayList<>();
        for (int k = 0; k < 100; k++) es.add(new MultiTensorArgs.Entry(0x100L * (k + 1), 0, 0, 0, k % 10 == 0 ? 0 : 100 * k));
        List<MultiTensorArgs.Launch> l = MultiTensorArgs.plan(es);   // 90 non-empty tensors: 64 + 26
        assertEquals(2, l.size());
        assertEquals(64, l.get(0).args().getInt(COUNT_OFF));
        assertEquals(26, l.get(1).args().getInt(COUNT_OFF));
        long elements = 0, covered = 0;
        for (MultiTensorArgs.Entry e : es) elements += e.n();
        for (MultiTensorArgs.Launch x : l) {
            int count = x.args().getInt(COUNT_OFF);
            for (int k = 0; k < count; k++) {
                int n = x.args().getInt(N_OFF + 4 * k);
                assertTrue(n > 0);
                int blocks = x.args().getInt(FIRST_OFF + 4 * (k + 1)) - x.args().getInt(FIRST_OFF + 4 * k);
                assertEquals((n + MultiTensorArgs.CHUNK - 1) / MultiTensorArgs.CHUNK, blocks, "blocks of tensor " + k);
                covered += n;
            }
            assertEquals(x.blocks(), x.args().getInt(FIRST_OFF + 4 * count));
        }
        assertEquals(elements, covered, "every element of every non-empty tensor is in some launch");
        assertTrue(MultiTensorArgs.plan(List.of()).isEmpty());
        assertTrue(MultiTensorArgs.plan(List.of(new MultiTensorArgs.Entry(1, 0, 0, 0, 0))).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> MultiTensorArgs.plan(List.of(new MultiTensorArgs.Entry(1, 0, 0, 0, -1))));
    }
}
