package io.augur.data;

import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.WorldConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pieces of {@code train --resident-data} that need no GPU: batches read without histories
 * carry the same rows, lengths and per-sample columns as with them, and the reference
 * {@code historyGather} (the specification of history_gather_kernel) rebuilds from the file's
 * history columns exactly the padded histories the reader copies (the negatives from position 1,
 * as the trainer uses them); a bad row or length is an error naming it.
 */
class HistoryGatherTest {
    @TempDir
    static Path dir;
    static SampleFile train;
    static final int T = 12;

    @BeforeAll
    static void world() throws java.io.IOException {
        SyntheticWorld.generate(WorldConfig.builder().users(150).items(120).categories(7).meanHistory(6).maxBehaviours(30).historyLength(T).build(),
                dir);
        train = Dataset.open(dir).train();
    }

    @Test
    void theGatherRebuildsWhatTheReaderCopies() {
        SampleFile.HistoryColumns h = train.historyColumns();
        assertTrue(h.negItems() != null, "the synthetic world writes neg_hist columns");
        int B = 37;
        try (CpuBackend be = CpuBackend.reference();
             BatchReader full = train.batches(B, true, 5L, 2, false, true, true);
             BatchReader bare = train.batches(B, true, 5L, 2, false, false, false)) {
            Tensor offsets = be.ints("offsets", h.rows() + 1), rows = be.ints("rows", B);
            List<Tensor> values = List.of(be.ints("items", h.offsets()[h.rows()]), be.ints("cates", h.offsets()[h.rows()]),
                    be.ints("neg_items", h.offsets()[h.rows()]), be.ints("neg_cates", h.offsets()[h.rows()]));
            be.upload(offsets, h.offsets(), h.rows() + 1);
            int[][] columns = {h.items(), h.cates(), h.negItems(), h.negCates()};
            for (int c = 0; c < 4; c++) be.upload(values.get(c), columns[c], h.offsets()[h.rows()]);
            List<Tensor> outs = List.of(be.ints("o0", B, T), be.ints("o1", B, T), be.ints("o2", B, T), be.ints("o3", B, T));
            int batches = 0;
            for (Batch a, b; (a = full.next()) != null; batches++) {
                b = bare.next();
                assertFalse(b.hasHistories());
                assertNull(b.negItems);
                assertEquals(a.size, b.size);
                assertArrayEquals(a.rowIndex, b.rowIndex);
                assertArrayEquals(a.lengths, b.lengths);
                assertArrayEquals(a.items, b.items);
                assertArrayEquals(a.labels, b.labels);
                be.upload(rows, b.rowIndex, b.size);
                be.historyGather(outs, values, new int[] {0, 0, 1, 1}, offsets, rows, h.rows(), b.size, T);
                int[][] expected = {a.histItems, a.histCates, a.negItems.clone(), a.negCates.clone()};
                for (int r = 0; r < b.size; r++) expected[2][r * T] = expected[3][r * T] = 0;   // from 1: the first position left 0
                for (int c = 0; c < 4; c++) {
                    int[] got = new int[b.size * T];
                    be.download(outs.get(c), got, got.length);
                    assertArrayEquals(java.util.Arrays.copyOf(expected[c], b.size * T), got, "column " + c + " of batch " + batches);
                }
            }
            assertNull(bare.next());
            assertTrue(batches > 3, "batches: " + batches);
        }
    }

    @Test
    void aBadRowOrLengthIsAnErrorNamingIt() {
        SampleFile.HistoryColumns h = train.historyColumns();
        try (CpuBackend be = CpuBackend.reference()) {
            Tensor offsets = be.ints("offsets", h.rows() + 1), rows = be.ints("rows", 2), items = be.ints("items", h.offsets()[h.rows()]);
            Tensor out = be.ints("out", 2, T);
            be.upload(offsets, h.offsets(), h.rows() + 1);
            be.upload(rows, new int[] {0, h.rows()}, 2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> be.historyGather(List.of(out), List.of(items), new int[] {0}, offsets, rows, h.rows(), 2, T));
            assertTrue(e.getMessage().contains("sample 1") && e.getMessage().contains("row " + h.rows()), e.getMessage());
            int r = 0;
            while (h.offsets()[r + 1] - h.offsets()[r] < 2) r++;
            be.upload(rows, new int[] {r, r}, 2);
            int shortT = 1;
            Tensor shortOut = be.ints("short", 2, shortT);
            e = assertThrows(IllegalArgumentException.class, () -> be.historyGather(List.of(shortOut), List.of(items), new int[] {0}, offsets, rows, h.rows(), 2, shortT));
            assertTrue(e.getMessage().contains("row " + r) && e.getMessage().contains("outside [0, 1]"), e.getMessage());
        }
    }
}
