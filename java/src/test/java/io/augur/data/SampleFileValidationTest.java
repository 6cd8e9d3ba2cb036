package io.augur.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad input is a {@link DataFormatException} whose message names the file, the row
 * (0-based, global across record batches) and the field. Bad files are written with the Arrow API
 * directly ({@link RawArrowFile}); the bad cell sits in row 6, inside the second record batch.
 */
class SampleFileValidationTest {

    private static final int ROWS = 10;
    private static final int BATCH_ROWS = 4;
    private static final int BAD_ROW = 6;

    @TempDir
    Path tmp;

    private Path writeTable(Consumer<Map<String, RawArrowFile.Column>> corrupt) throws IOException {
        Map<String, RawArrowFile.Column> t = RawArrowFile.validTable(ROWS);
        corrupt.accept(t);
        Path file = tmp.resolve("bad.arrow");
        RawArrowFile.write(file, t, BATCH_ROWS);
        return file;
    }

    private DataFormatException expectBadRow(String field, Consumer<Map<String, RawArrowFile.Column>> corrupt)
            throws IOException {
        Path file = writeTable(corrupt);
        DataFormatException e = assertThrows(DataFormatException.class, () -> SampleFile.read(file, RawArrowFile.SCHEMA));
        String m = e.getMessage();
        assertTrue(m.contains("bad.arrow"), m);
        assertTrue(m.contains("row " + BAD_ROW + ","), m);
        assertTrue(m.contains("field '" + field + "'"), m);
        assertEquals(BAD_ROW, e.row());
        assertEquals(field, e.field());
        return e;
    }

    private DataFormatException expectBadField(String field, Consumer<Map<String, RawArrowFile.Column>> corrupt)
            throws IOException {
        Path file = writeTable(corrupt);
        DataFormatException e = assertThrows(DataFormatException.class, () -> SampleFile.read(file, RawArrowFile.SCHEMA));
        String m = e.getMessage();
        assertTrue(m.contains("bad.arrow"), m);
        assertTrue(m.contains("field '" + field + "'"), m);
        assertTrue(m.contains("all rows"), m);
        assertEquals(field, e.field());
        return e;
    }

    private static Integer[] hist(Map<String, RawArrowFile.Column> t, String col) {
        return (Integer[]) t.get(col).cells[BAD_ROW];
    }

    @Test
    void theUntouchedTableIsValid() throws IOException {
        Path file = writeTable(t -> { });
        SampleFile f = SampleFile.read(file, RawArrowFile.SCHEMA);
        assertEquals(ROWS, f.rows());
        assertEquals(BAD_ROW % 4, f.historyLength(BAD_ROW));
        assertEquals(1, f.profile(1, 1)); // age of row 1
    }

    @Test
    void missingColumn() throws IOException {
        DataFormatException e = expectBadField(SampleSchema.HIST_CATE_IDS, t -> t.remove(SampleSchema.HIST_CATE_IDS));
        assertTrue(e.getMessage().contains("no such column"), e.getMessage());
        expectBadField("age", t -> t.remove("age"));
    }

    @Test
    void wrongColumnTypes() throws IOException {
        DataFormatException e = expectBadField(SampleSchema.LABEL,
                t -> t.get(SampleSchema.LABEL).field = RawArrowFile.scalar(SampleSchema.LABEL, 32));
        assertTrue(e.getMessage().contains("expected int8, found int32"), e.getMessage());
        e = expectBadField(SampleSchema.ITEM_ID,
                t -> t.get(SampleSchema.ITEM_ID).field = RawArrowFile.scalar(SampleSchema.ITEM_ID, 64));
        assertTrue(e.getMessage().contains("found int64"), e.getMessage());
        e = expectBadField(SampleSchema.HIST_ITEM_IDS,
                t -> t.get(SampleSchema.HIST_ITEM_IDS).field = RawArrowFile.list(SampleSchema.HIST_ITEM_IDS, 64));
        assertTrue(e.getMessage().contains("expected list<int32>, found list<int64>"), e.getMessage());
        expectBadField(SampleSchema.CATE_ID, t -> {
            RawArrowFile.Column c = t.get(SampleSchema.CATE_ID);
            c.field = RawArrowFile.list(SampleSchema.CATE_ID, 32);
            for (int r = 0; r < c.cells.length; r++) {
                c.cells[r] = new Integer[] {(Integer) c.cells[r]};
            }
        });
    }

    @Test
    void negativeIds() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.ITEM_ID, t -> t.get(SampleSchema.ITEM_ID).cells[BAD_ROW] = -1);
        assertTrue(e.getMessage().contains("expected an id in [0, 10), found -1"), e.getMessage());
        expectBadRow(SampleSchema.NEG_HIST_ITEM_IDS, t -> hist(t, SampleSchema.NEG_HIST_ITEM_IDS)[1] = -3);
    }

    @Test
    void idsPastTheVocabulary() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.HIST_CATE_IDS, t -> hist(t, SampleSchema.HIST_CATE_IDS)[0] = 4);
        assertTrue(e.getMessage().contains("found 4 at position 0"), e.getMessage());
        expectBadRow(SampleSchema.USER_ID, t -> t.get(SampleSchema.USER_ID).cells[BAD_ROW] = 5);
        expectBadRow("age", t -> t.get("age").cells[BAD_ROW] = 3);
        expectBadRow(SampleSchema.NEG_HIST_CATE_IDS, t -> hist(t, SampleSchema.NEG_HIST_CATE_IDS)[1] = 99);
    }

    @Test
    void historyLongerThanT() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.HIST_ITEM_IDS, t -> {
            for (String col : new String[] {SampleSchema.HIST_ITEM_IDS, SampleSchema.HIST_CATE_IDS,
                    SampleSchema.NEG_HIST_ITEM_IDS, SampleSchema.NEG_HIST_CATE_IDS}) {
                t.get(col).cells[BAD_ROW] = new Integer[] {1, 1, 1, 1};
            }
        });
        assertTrue(e.getMessage().contains("at most T = 3") && e.getMessage().contains("length 4"), e.getMessage());
    }

    @Test
    void historyListsOfDifferentLengths() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.HIST_CATE_IDS, t -> {
            Integer[] h = hist(t, SampleSchema.HIST_CATE_IDS);
            t.get(SampleSchema.HIST_CATE_IDS).cells[BAD_ROW] = Arrays.copyOf(h, h.length - 1);
        });
        assertTrue(e.getMessage().contains("expected length 2 (as hist_item_ids), found length 1"), e.getMessage());
        expectBadRow(SampleSchema.NEG_HIST_ITEM_IDS, t -> {
            Integer[] h = hist(t, SampleSchema.NEG_HIST_ITEM_IDS);
            Integer[] longer = Arrays.copyOf(h, h.length + 1);
            longer[h.length] = 1;
            t.get(SampleSchema.NEG_HIST_ITEM_IDS).cells[BAD_ROW] = longer;
        });
        expectBadRow(SampleSchema.NEG_HIST_CATE_IDS, t -> t.get(SampleSchema.NEG_HIST_CATE_IDS).cells[BAD_ROW] = new Integer[0]);
    }

    @Test
    void labelNotZeroOrOne() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.LABEL, t -> t.get(SampleSchema.LABEL).cells[BAD_ROW] = 2);
        assertTrue(e.getMessage().contains("expected 0 or 1, found 2"), e.getMessage());
        expectBadRow(SampleSchema.LABEL, t -> t.get(SampleSchema.LABEL).cells[BAD_ROW] = -1);
    }

    @Test
    void nullValues() throws IOException {
        DataFormatException e = expectBadRow(SampleSchema.USER_ID, t -> t.get(SampleSchema.USER_ID).cells[BAD_ROW] = null);
        assertTrue(e.getMessage().contains("found null"), e.getMessage());
        expectBadRow(SampleSchema.LABEL, t -> t.get(SampleSchema.LABEL).cells[BAD_ROW] = null);
        expectBadRow(SampleSchema.HIST_ITEM_IDS, t -> {
            for (String col : new String[] {SampleSchema.HIST_ITEM_IDS, SampleSchema.HIST_CATE_IDS,
                    SampleSchema.NEG_HIST_ITEM_IDS, SampleSchema.NEG_HIST_CATE_IDS}) {
                t.get(col).cells[BAD_ROW] = null;
            }
        });
        e = expectBadRow(SampleSchema.HIST_CATE_IDS, t -> hist(t, SampleSchema.HIST_CATE_IDS)[1] = null);
        assertTrue(e.getMessage().contains("null at position 1"), e.getMessage());
    }

    @Test
    void truncatedFile() throws IOException {
        Path file = writeTable(t -> { });
        byte[] whole = Files.readAllBytes(file);
        Path cut = tmp.resolve("cut.arrow");
        Files.write(cut, Arrays.copyOf(whole, whole.length / 2));
        DataFormatException e = assertThrows(DataFormatException.class, () -> SampleFile.read(cut, RawArrowFile.SCHEMA));
        assertTrue(e.getMessage().contains("cut.arrow"), e.getMessage());
        assertTrue(e.getMessage().contains("Arrow IPC file"), e.getMessage());
        // cut just before the footer's closing magic as well
        Files.write(cut, Arrays.copyOf(whole, whole.length - 3));
        e = assertThrows(DataFormatException.class, () -> SampleFile.read(cut, RawArrowFile.SCHEMA));
        assertTrue(e.getMessage().contains("cut.arrow"), e.getMessage());
    }

    @Test
    void notAnArrowFile() throws IOException {
        Path csv = tmp.resolve("samples.csv");
        Files.writeString(csv, "label,user_id,item_id\n1,2,3\n0,2,4\n".repeat(20), StandardCharsets.UTF_8);
        DataFormatException e = assertThrows(DataFormatException.class, () -> SampleFile.read(csv, RawArrowFile.SCHEMA));
        assertTrue(e.getMessage().contains("samples.csv"), e.getMessage());
        Path empty = tmp.resolve("empty.arrow");
        Files.write(empty, new byte[0]);
        e = assertThrows(DataFormatException.class, () -> SampleFile.read(empty, RawArrowFile.SCHEMA));
        assertTrue(e.getMessage().contains("empty.arrow"), e.getMessage());
        Path none = tmp.resolve("none.arrow");
        e = assertThrows(DataFormatException.class, () -> SampleFile.read(none, RawArrowFile.SCHEMA));
        assertTrue(e.getMessage().contains("none.arrow") && e.getMessage().contains("no such file"), e.getMessage());
    }
}
