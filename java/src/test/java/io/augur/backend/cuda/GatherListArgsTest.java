package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gather-list launch plan (no GPU needed): the struct's layout as cuda/embedding.cu declares
 * it (104-byte entries, 840 bytes in all, checked there by static_assert), 8 entries per launch,
 * blocks of 2048 elements, empty gathers left out.
 */
class GatherListArgsTest {

    private static GatherListArgs.Entry entry(long base, int rows, int D) {
        return new GatherListArgs.Entry(base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8, rows, 7, D, 50, 99,
                3 * D, D);
    }

    @Test
    void layoutMatchesTheCudaStruct() {
        assertEquals(104, GatherListArgs.ENTRY_BYTES);
        assertEquals(840, GatherListArgs.BYTES);
        List<EntryListArgs.Launch> l = GatherListArgs.plan(List.of(entry(0x1000, 700, 18), entry(0x2000, 0, 18), entry(0x3000, 10, 18)));
        assertEquals(1, l.size());
        ByteBuffer b = l.get(0).args();
        assertEquals(GatherListArgs.BYTES, b.remaining());
        for (int p = 0; p < 9; p++) assertEquals(0x1000 + p, b.getLong(8 * p), "pointer " + p + " of entry 0");
        assertEquals(0x3000, b.getLong(104), "the empty entry is left out: the third is second");
        int[] ints = {700, 7, 18, 50, 99, 54, 18, 0};
        for (int i = 0; i < ints.length; i++) assertEquals(ints[i], b.getInt(72 + 4 * i), "int " + i + " of entry 0");
        // 700 * 18 = 12,600 elements: 7 blocks of 2048; the next entry starts at block 7
        assertEquals(7, b.getInt(104 + 72 + 28));
        assertEquals(2, b.getInt(8 * 104));
        assertEquals(8, b.getInt(8 * 104 + 4));
        assertEquals(8, l.get(0).blocks());
    }

    @Test
    void longListsSplitInEights() {
        List<GatherListArgs.Entry> es = new ArrayList<>();
        for (int k = 0; k < 19; k++) es.add(entry(0x100L * (k + 1), 1 + 37 * k, 18));
        List<EntryListArgs.Launch> l = GatherListArgs.plan(es);
        assertEquals(3, l.size());
        int total = 0;
        for (EntryListArgs.Launch x : l) {
            int count = x.args().getInt(8 * 104);
            assertTrue(count >= 1 && count <= 8);
            total += count;
            long blocks = 0;
            for (int k = 0; k < count; k++) {
                assertEquals(blocks, x.args().getInt(k * 104 + 72 + 28), "first block of entry " + k);
                blocks += ((long) x.args().getInt(k * 104 + 72) * 18 + 2047) / 2048;
            }
            assertEquals(blocks, x.blocks());
        }
        assertEquals(19, total);
    }
}
