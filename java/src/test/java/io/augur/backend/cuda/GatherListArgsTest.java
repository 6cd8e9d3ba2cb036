package io.augur.backend.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The gather-list launch plan (no GPU needed): the struct's layout as cuda/embedding.cu declares
 * it (112-byte entries: 9 pointers and 9 ints padded to 8 bytes; 904 bytes in all, checked there by static_assert), 8 entries per launch,
 * a block per 8 warps' rows (32 * 8 / D rows a warp, from 1 to 32), empty gathers left out.
 */
class GatherListArgsTest {

    private static GatherListArgs.Entry entry(long base, int rows, int D) {
        return new GatherListArgs.Entry(base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7, base + 8, rows, 7, D, 50, 99,
                3 * D, D, (int) (base >> 13) & 1);
    }

    @Test
    void layoutMatchesTheCudaStruct() {
        assertEquals(112, GatherListArgs.ENTRY_BYTES);
        assertEquals(904, GatherListArgs.BYTES);
        List<EntryListArgs.Launch> l = GatherListArgs.plan(List.of(entry(0x1000, 700, 18), entry(0x2000, 0, 18), entry(0x3000, 10, 18)));
        assertEquals(1, l.size());
        ByteBuffer b = l.get(0).args();
        assertEquals(GatherListArgs.BYTES, b.remaining());
        for (int p = 0; p < 9; p++) assertEquals(0x1000 + p, b.getLong(8 * p), "pointer " + p + " of entry 0");
        assertEquals(0x3000, b.getLong(112), "the empty entry is left out: the third is second");
        int[] ints = {700, 7, 18, 50, 99, 54, 18, 0, 0};   // ..., off, zero_padding (0x1000: 0), first_block
        for (int i = 0; i < ints.length; i++) assertEquals(ints[i], b.getInt(72 + 4 * i), "int " + i + " of entry 0");
        assertEquals(1, b.getInt(112 + 72 + 28), "zero_padding of entry 1 (0x3000)");
        // 700 rows of 18: 14 rows a warp, 112 a block, 7 blocks; the next entry starts at block 7
        assertEquals(7, b.getInt(112 + 72 + 32));
        assertEquals(2, b.getInt(8 * 112));
        assertEquals(8, b.getInt(8 * 112 + 4));
        assertEquals(8, l.get(0).blocks());
    }

    /** A warp takes at most 8 elements a lane in a round (32 * 8 / D rows) and one row code a lane (at most 32 rows). */
    @Test
    void rowsAWarpAndABlock() {
        int[][] cases = {{1, 32}, {8, 32}, {9, 28}, {18, 14}, {36, 7}, {128, 2}, {129, 1}, {256, 1}, {300, 1}};
        for (int[] c : cases) {
            assertEquals(c[1], GatherListArgs.warpRows(c[0]), "rows a warp at D = " + c[0]);
            assertEquals(8 * c[1], GatherListArgs.blockRows(c[0]), "rows a block at D = " + c[0]);
        }
    }

    @Test
    void longListsSplitInEights() {
        List<GatherListArgs.Entry> es = new ArrayList<>();
        for (int k = 0; k < 19; k++) es.add(entry(0x100L * (k + 1), 1 + 37 * k, 18));
        List<EntryListArgs.Launch> l = GatherListArgs.plan(es);
        assertEquals(3, l.size());
        int total = 0;
        for (EntryListArgs.Launch x : l) {
            int count = x.args().getInt(8 * 112);
            assertTrue(count >= 1 && count <= 8);
            total += count;
            long blocks = 0;
            for (int k = 0; k < count; k++) {
                assertEquals(blocks, x.args().getInt(k * 112 + 72 + 32), "first block of entry " + k);
                blocks += (x.args().getInt(k * 112 + 72) + 111) / 112;
            }
            assertEquals(blocks, x.blocks());
        }
        assertEquals(19, total);
    }
}
