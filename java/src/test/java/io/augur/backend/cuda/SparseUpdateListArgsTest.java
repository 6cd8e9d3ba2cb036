package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sparse-update list's launch plan (no GPU needed): the struct's layout as
 * cuda/sparse_update.cu declares it (88-byte entries, 712 bytes in all, checked there by
 * static_assert), 8 tables per launch, blocks of 1024 elements, untouched tables left out.
 */
class SparseUpdateListArgsTest {

    private static SparseUpdateListArgs.Entry entry(long base, int D, int bound) {
        return new SparseUpdateListArgs.Entry(base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8, D, bound, 500);
    }

    @Test
    void layoutMatchesTheCudaStruct() {
        assertEquals(88, SparseUpdateListArgs.ENTRY_BYTES);
        assertEquals(712, SparseUpdateListArgs.BYTES);
        List<EntryListArgs.Launch> l = SparseUpdateListArgs.plan(List.of(entry(0x1000, 18, 100), entry(0x2000, 18, 0), entry(0x3000, 7, 3)));
        assertEquals(1, l.size());
        ByteBuffer b = l.get(0).args();
        assertEquals(SparseUpdateListArgs.BYTES, b.remaining());
        for (int p = 0; p < 9; p++) assertEquals(0x1000 + p, b.getLong(8 * p), "pointer " + p + " of entry 0");
        assertEquals(0x3000, b.getLong(88), "the untouched table is left out: the third is second");
        int[] ints = {18, 100, 500, 0};
        for (int i = 0; i < ints.length; i++) assertEquals(ints[i], b.getInt(72 + 4 * i), "int " + i + " of entry 0");
        // 100 * 18 = 1,800 elements: 2 blocks of 1024; the next entry starts at block 2 and needs 1
        assertEquals(2, b.getInt(88 + 72 + 12));
        assertEquals(2, b.getInt(8 * 88));
        assertEquals(3, b.getInt(8 * 88 + 4));
        assertEquals(3, l.get(0).blocks());
    }

    @Test
    void longListsSplitInEights() {
        List<SparseUpdateListArgs.Entry> es = new ArrayList<>();
        for (int k = 0; k < 17; k++) es.add(entry(0x100L * (k + 1), 8 + k, 1 + 90 * k));
        List<EntryListArgs.Launch> l = SparseUpdateListArgs.plan(es);
        assertEquals(3, l.size());
        int total = 0;
        for (EntryListArgs.Launch x : l) {
            int count = x.args().getInt(8 * 88);
            assertTrue(count >= 1 && count <= 8);
            total += count;
            long blocks = 0;
            for (int k = 0; k < count; k++) {
                assertEquals(blocks, x.args().getInt(k * 88 + 72 + 12), "first block of entry " + k);
                blocks += ((long) x.args().getInt(k * 88 + 72) * x.args().getInt(k * 88 + 76) + 1023) / 1024;
            }
            assertEquals(blocks, x.blocks());
        }
        assertEquals(17, total);
    }
}
