package io.augur.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writer → reader round trips: every column, lists, extra fields, neg columns present and absent. */
class SampleFileRoundTripTest {

    @TempDir
    Path tmp;

    /** One row as the test knows it. */
    record Row(int label, int user, int[] extras, int item, int cate, int[] hi, int[] hc, int[] ni, int[] nc) {
    }

    static List<Row> randomRows(SampleSchema s, int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<Row> rows = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int len = rng.nextInt(s.historyLength() + 1); // includes empty histories
            int[] hi = new int[len];
            int[] hc = new int[len];
            int[] ni = s.hasNegHist() ? new int[len] : null;
            int[] nc = s.hasNegHist() ? new int[len] : null;
            for (int t = 0; t < len; t++) {
                hi[t] = rng.nextInt(s.itemVocab());
                hc[t] = rng.nextInt(s.cateVocab());
                if (ni != null) {
                    ni[t] = rng.nextInt(s.itemVocab());
                    nc[t] = rng.nextInt(s.cateVocab());
                }
            }
            int[] ex = new int[s.extraFields().size()];
            for (int f = 0; f < ex.length; f++) {
                ex[f] = rng.nextInt(s.extraFields().get(f).vocabSize());
            }
            rows.add(new Row(rng.nextInt(2), rng.nextInt(s.userVocab()), ex, rng.nextInt(s.itemVocab()),
                    rng.nextInt(s.cateVocab()), hi, hc, ni, nc));
        }
        return rows;
    }

    static void write(SampleWriter w, List<Row> rows) {
        for (Row r : rows) {
            w.append(r.label, r.user, r.extras, r.item, r.cate, r.hi, r.hc, r.ni, r.nc, 0, r.hi.length);
        }
    }

    static void assertRows(List<Row> expected, SampleFile f) {
        SampleSchema s = f.schema();
        assertEquals(expected.size(), f.rows());
        for (int r = 0; r < expected.size(); r++) {
            Row e = expected.get(r);
            assertEquals(e.label, f.label(r), "label of row " + r);
            assertEquals(e.user, f.userId(r), "user of row " + r);
            for (int x = 0; x < e.extras.length; x++) {
                assertEquals(e.extras[x], f.profile(x + 1, r), "extra " + x + " of row " + r);
            }
            assertEquals(e.item, f.itemId(r));
            assertEquals(e.cate, f.cateId(r));
            assertEquals(e.hi.length, f.historyLength(r), "history length of row " + r);
            for (int t = 0; t < e.hi.length; t++) {
                assertEquals(e.hi[t], f.histItem(r, t));
                assertEquals(e.hc[t], f.histCate(r, t));
                if (s.hasNegHist()) {
                    assertEquals(e.ni[t], f.negItem(r, t));
                    assertEquals(e.nc[t], f.negCate(r, t));
                }
            }
        }
    }

    @Test
    void allColumnsWithExtraFieldAndNegColumnsSurviveSeveralRecordBatches() throws IOException {
        SampleSchema s = new SampleSchema(6, 20, 50, 7, List.of(new ExtraField("age", 5), new ExtraField("hour", 25)), true);
        List<Row> rows = randomRows(s, 103, 1);
        Path file = tmp.resolve("all.arrow");
        try (SampleWriter w = SampleWriter.open(file, s, 10)) { // 11 record batches, the last partial
            write(w, rows);
            assertEquals(103, w.rows());
        }
        assertEquals(11, recordBatches(file), "a record batch every 10 rows");
        SampleFile f = SampleFile.read(file, s);
        assertRows(rows, f);
        assertEquals(3, s.numProfileFields());
        assertEquals(List.of("user_id", "age", "hour"), s.profileFieldNames());
    }

    static int recordBatches(Path file) throws IOException {
        try (BufferAllocator alloc = new RootAllocator();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader r = new ArrowFileReader(ch, alloc)) {
            return r.getRecordBlocks().size();
        }
    }

    @Test
    void withoutNegColumnsOrExtraFields() throws IOException {
        SampleSchema s = SampleSchema.of(4, 9, 30, 5, false);
        List<Row> rows = randomRows(s, 40, 2);
        Path file = tmp.resolve("plain.arrow");
        try (SampleWriter w = SampleWriter.open(file, s)) {
            for (Row r : rows) {
                w.append(r.label, r.user, r.item, r.cate, r.hi, r.hc);
            }
        }
        assertEquals(1, recordBatches(file), "40 rows fit one default record batch");
        SampleFile f = SampleFile.read(file, s);
        assertRows(rows, f);
        assertThrows(IllegalStateException.class, () -> f.negItem(0, 0));
    }

    @Test
    void historySliceAndEmptyFile() throws IOException {
        SampleSchema s = SampleSchema.of(3, 5, 10, 4, true);
        int[] seqItems = {1, 2, 3, 4, 5, 6};
        int[] seqCates = {1, 1, 2, 2, 3, 3};
        int[] negItems = {9, 8, 7, 6, 5, 4};
        int[] negCates = {3, 3, 2, 2, 1, 1};
        Path file = tmp.resolve("slice.arrow");
        try (SampleWriter w = SampleWriter.open(file, s)) {
            w.append(1, 2, null, 5, 3, seqItems, seqCates, negItems, negCates, 1, 3);
        }
        SampleFile f = SampleFile.read(file, s);
        assertEquals(1, f.rows());
        int[] got = {f.histItem(0, 0), f.histItem(0, 1), f.histItem(0, 2)};
        assertArrayEquals(new int[] {2, 3, 4}, got);
        assertEquals(7, f.negItem(0, 1));
        assertEquals(2, f.negCate(0, 2));

        Path empty = tmp.resolve("empty.arrow");
        try (SampleWriter w = SampleWriter.open(empty, s)) {
            assertEquals(0, w.rows());
        }
        assertEquals(0, SampleFile.read(empty, s).rows());
    }

    @Test
    void writerRejectsRowsThatBreakTheSchema() throws IOException {
        SampleSchema s = SampleSchema.of(2, 5, 10, 4, false);
        try (SampleWriter w = SampleWriter.open(tmp.resolve("w.arrow"), s)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> w.append(1, 5, 1, 1, new int[] {1}, new int[] {1}));
            assertTrue(e.getMessage().contains("user_id"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> w.append(2, 1, 1, 1, new int[] {1}, new int[] {1}));
            assertTrue(e.getMessage().contains("label"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> w.append(0, 1, 1, 1, new int[] {1, 2, 3}, new int[] {1, 2, 3}));
            assertTrue(e.getMessage().contains("hist_item_ids"), e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> w.append(0, 1, 1, 1, new int[] {1, 2}, new int[] {1}));
            assertEquals(0, w.rows());
        }
    }
}
