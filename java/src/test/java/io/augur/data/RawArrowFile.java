package io.augur.data;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Test helper: writes Arrow IPC files straight through the Arrow API, bypassing
 * {@link SampleWriter}'s checks, so that the reader's validation can be fed bad data.
 * Scalar cells are {@code Integer} (int8, int32 or int64 columns), list cells {@code Integer[]};
 * either may be null, and so may a list element.
 */
final class RawArrowFile {

    private RawArrowFile() {
    }

    /** One column: its Arrow field and one cell per row. */
    static final class Column {
        Field field;
        final Object[] cells;

        Column(Field field, Object[] cells) {
            this.field = field;
            this.cells = cells;
        }
    }

    static Field scalar(String name, int bits) {
        return new Field(name, FieldType.nullable(new ArrowType.Int(bits, true)), null);
    }

    static Field list(String name, int bits) {
        Field element = new Field("item", FieldType.nullable(new ArrowType.Int(bits, true)), null);
        return new Field(name, FieldType.nullable(ArrowType.List.INSTANCE), List.of(element));
    }

    /**
     * A valid table for {@link #SCHEMA}: {@code rows} rows whose history length cycles through
     * 0..T, ids all inside their vocabularies.
     */
    static Map<String, Column> validTable(int rows) {
        Map<String, Column> t = new LinkedHashMap<>();
        int T = SCHEMA.historyLength();
        Object[] label = new Object[rows];
        Object[] user = new Object[rows];
        Object[] age = new Object[rows];
        Object[] item = new Object[rows];
        Object[] cate = new Object[rows];
        Object[] hi = new Object[rows];
        Object[] hc = new Object[rows];
        Object[] ni = new Object[rows];
        Object[] nc = new Object[rows];
        for (int r = 0; r < rows; r++) {
            label[r] = r % 2;
            user[r] = r % SCHEMA.userVocab();
            age[r] = r % 3;
            item[r] = 1 + r % (SCHEMA.itemVocab() - 1);
            cate[r] = 1 + r % (SCHEMA.cateVocab() - 1);
            int len = r % (T + 1);
            Integer[] a = new Integer[len];
            Integer[] b = new Integer[len];
            Integer[] c = new Integer[len];
            Integer[] d = new Integer[len];
            for (int i = 0; i < len; i++) {
                a[i] = 1 + (r + i) % (SCHEMA.itemVocab() - 1);
                b[i] = 1 + (r + i) % (SCHEMA.cateVocab() - 1);
                c[i] = 1 + (r * 3 + i) % (SCHEMA.itemVocab() - 1);
                d[i] = 1 + (r * 3 + i) % (SCHEMA.cateVocab() - 1);
            }
            hi[r] = a;
            hc[r] = b;
            ni[r] = c;
            nc[r] = d;
        }
        t.put(SampleSchema.LABEL, new Column(scalar(SampleSchema.LABEL, 8), label));
        t.put(SampleSchema.USER_ID, new Column(scalar(SampleSchema.USER_ID, 32), user));
        t.put("age", new Column(scalar("age", 32), age));
        t.put(SampleSchema.ITEM_ID, new Column(scalar(SampleSchema.ITEM_ID, 32), item));
        t.put(SampleSchema.CATE_ID, new Column(scalar(SampleSchema.CATE_ID, 32), cate));
        t.put(SampleSchema.HIST_ITEM_IDS, new Column(list(SampleSchema.HIST_ITEM_IDS, 32), hi));
        t.put(SampleSchema.HIST_CATE_IDS, new Column(list(SampleSchema.HIST_CATE_IDS, 32), hc));
        t.put(SampleSchema.NEG_HIST_ITEM_IDS, new Column(list(SampleSchema.NEG_HIST_ITEM_IDS, 32), ni));
        t.put(SampleSchema.NEG_HIST_CATE_IDS, new Column(list(SampleSchema.NEG_HIST_CATE_IDS, 32), nc));
        return t;
    }

    /** The schema {@link #validTable} follows: T = 3, vocabularies user 5, item 10, cate 4, age 3. */
    static final SampleSchema SCHEMA = new SampleSchema(3, 5, 10, 4, List.of(new ExtraField("age", 3)), true);

    /** Writes the table with {@code batchRows} rows per record batch. */
    static void write(Path file, Map<String, Column> table, int batchRows) throws IOException {
        List<Field> fields = new ArrayList<>();
        int rows = -1;
        for (Column c : table.values()) {
            fields.add(c.field);
            rows = c.cells.length;
        }
        try (BufferAllocator alloc = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.create(new Schema(fields), alloc);
             FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                     StandardOpenOption.WRITE);
             ArrowFileWriter w = new ArrowFileWriter(root, null, ch)) {
            w.start();
            for (int from = 0; from < rows; from += batchRows) {
                int n = Math.min(batchRows, rows - from);
                root.allocateNew();
                for (Column c : table.values()) {
                    FieldVector v = root.getVector(c.field.getName());
                    for (int i = 0; i < n; i++) {
                        setCell(v, i, c.cells[from + i]);
                    }
                }
                root.setRowCount(n);
                w.writeBatch();
            }
            w.end();
        }
    }

    private static void setCell(FieldVector v, int i, Object cell) {
        if (v instanceof ListVector lv) {
            if (cell == null) {
                lv.setNull(i);
                return;
            }
            Integer[] values = (Integer[]) cell;
            FieldVector data = lv.getDataVector();
            int start = lv.startNewValue(i);
            for (int j = 0; j < values.length; j++) {
                setCell(data, start + j, values[j]);
            }
            lv.endValue(i, values.length);
            return;
        }
        if (cell == null) {
            ((BaseFixedWidthVector) v).setNull(i);
        } else if (v instanceof TinyIntVector t) {
            t.setSafe(i, (Integer) cell);
        } else if (v instanceof IntVector t) {
            t.setSafe(i, (Integer) cell);
        } else if (v instanceof BigIntVector t) {
            t.setSafe(i, (long) (Integer) cell);
        } else {
            throw new IllegalArgumentException("unsupported vector " + v.getClass());
        }
    }
}
