package io.augur.data;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * One split (an Arrow IPC sample file) read into memory, validated row by row, as compact
 * columnar int arrays: one array per scalar column and, for the list columns, one offsets array
 * shared by all four lists (their lengths must agree row by row) plus one values array each.
 *
 * <p>Every row is checked while reading; the first problem throws a {@link DataFormatException}
 * naming the file, the 0-based row, the field, what was expected and what was found. Checked:
 * the file is a complete Arrow IPC file; every column of the schema is present with its exact type
 * (label int8, ids int32, lists list&lt;int32&gt;); no nulls (neither values nor list elements);
 * labels are 0 or 1; ids lie in [0, vocabulary size); no history is longer than T;
 * hist_cate_ids has the length of hist_item_ids, and so do the neg_hist columns. Empty histories
 * are allowed. Columns not in the schema are ignored (with a warning).
 *
 * <p>Immutable after reading; any number of {@link BatchReader}s may read it at once.
 */
public final class SampleFile {

    private static final Logger LOG = LogManager.getLogger(SampleFile.class);

    private final Path path;
    private final SampleSchema schema;
    private final int rows;
    private final byte[] labels;       // (rows)
    private final int[][] profile;     // (F, rows): user_id, then the extra fields
    private final int[] items;         // (rows)
    private final int[] cates;         // (rows)
    private final int[] histOffsets;   // (rows + 1): row r's history is [histOffsets[r], histOffsets[r+1])
    private final int[] histItems;     // (histOffsets[rows])
    private final int[] histCates;     // (histOffsets[rows])
    private final int[] negItems;      // (histOffsets[rows]) or null without neg columns
    private final int[] negCates;      // (histOffsets[rows]) or null without neg columns

    private SampleFile(Path path, SampleSchema schema, Columns c) {
        this.path = path;
        this.schema = schema;
        this.rows = c.rows;
        this.labels = Arrays.copyOf(c.labels, c.rows);
        this.profile = new int[c.profile.length][];
        for (int f = 0; f < profile.length; f++) {
            profile[f] = Arrays.copyOf(c.profile[f], c.rows);
        }
        this.items = Arrays.copyOf(c.items, c.rows);
        this.cates = Arrays.copyOf(c.cates, c.rows);
        this.histOffsets = Arrays.copyOf(c.histOffsets, c.rows + 1);
        int nv = c.histOffsets[c.rows];
        this.histItems = Arrays.copyOf(c.histItems, nv);
        this.histCates = Arrays.copyOf(c.histCates, nv);
        this.negItems = c.negItems == null ? null : Arrays.copyOf(c.negItems, nv);
        this.negCates = c.negCates == null ? null : Arrays.copyOf(c.negCates, nv);
    }

    /** Reads and validates one sample file against a schema. */
    public static SampleFile read(Path file, SampleSchema schema) {
        String name = file.toString();
        Columns cols = new Columns(schema);
        try (BufferAllocator alloc = new RootAllocator();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(ch, alloc)) {
            VectorSchemaRoot root = FrequencyCounts.openRoot(reader, name);
            checkColumns(root, schema, name);
            while (FrequencyCounts.loadNext(reader, name, cols.rows)) {
                try {
                    cols.append(root, name);
                } catch (IndexOutOfBoundsException e) {
                    // Buffers shorter than the batch's row count claims: a corrupt record batch.
                    throw DataFormatException.atFile(name, "a record batch starting at row " + cols.rows
                            + " whose buffers hold its rows", "short buffers (" + e.getMessage() + ")", e);
                }
            }
        } catch (NoSuchFileException e) {
            throw DataFormatException.atFile(name, "a sample file", "no such file", e);
        } catch (IOException e) {
            throw DataFormatException.atFile(name, "a readable Arrow IPC file", e.toString(), e);
        }
        return new SampleFile(file, schema, cols);
    }

    private static void checkColumns(VectorSchemaRoot root, SampleSchema schema, String name) {
        List<String> expected = new ArrayList<>();
        for (FieldSpec spec : schema.fields()) {
            expected.add(spec.name());
            FieldVector v = root.getVector(spec.name());
            if (v == null) {
                throw DataFormatException.atField(name, spec.name(), "a column of type " + typeName(spec.role()),
                        "no such column (columns: " + columnNames(root) + ")");
            }
            Field f = v.getField();
            String found = describe(f);
            if (!found.equals(typeName(spec.role()))) {
                throw DataFormatException.atField(name, spec.name(), typeName(spec.role()), found);
            }
        }
        for (FieldVector v : root.getFieldVectors()) {
            if (!expected.contains(v.getName())) {
                LOG.warn("{}: column '{}' is not in the dataset's schema; ignored", name, v.getName());
            }
        }
    }

    private static String typeName(FieldRole role) {
        return role == FieldRole.LABEL ? "int8" : role.isList() ? "list<int32>" : "int32";
    }

    /** A short type name ("int32", "list<int64>", "utf8") for messages and checks. */
    private static String describe(Field f) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Int it) {
            return (it.getIsSigned() ? "int" : "uint") + it.getBitWidth();
        }
        if (t instanceof ArrowType.List) {
            List<Field> ch = f.getChildren();
            return "list<" + (ch.size() == 1 ? describe(ch.get(0)) : "?") + ">";
        }
        return t.toString().toLowerCase(Locale.ROOT);
    }

    private static String columnNames(VectorSchemaRoot root) {
        List<String> names = new ArrayList<>();
        for (FieldVector v : root.getFieldVectors()) {
            names.add(v.getName());
        }
        return String.join(", ", names);
    }

    // ------------------------------------------------------------------ accessors

    /** The file this was read from. */
    public Path path() {
        return path;
    }

    /** The schema it was validated against. */
    public SampleSchema schema() {
        return schema;
    }

    /** Number of rows. */
    public int rows() {
        return rows;
    }

    public int label(int row) {
        return labels[row];
    }

    /** Profile field {@code f} of a row: 0 is user_id, then the extra fields in schema order. */
    public int profile(int f, int row) {
        return profile[f][row];
    }

    public int userId(int row) {
        return profile[0][row];
    }

    public int itemId(int row) {
        return items[row];
    }

    public int cateId(int row) {
        return cates[row];
    }

    /** The true history length of a row (≤ T). */
    public int historyLength(int row) {
        return histOffsets[row + 1] - histOffsets[row];
    }

    /** Behaviour {@code t} (0 = oldest) of a row. */
    public int histItem(int row, int t) {
        return histItems[histIndex(row, t)];
    }

    public int histCate(int row, int t) {
        return histCates[histIndex(row, t)];
    }

    /** The non-clicked item at history position {@code t}; throws when the file has no neg columns. */
    public int negItem(int row, int t) {
        requireNeg();
        return negItems[histIndex(row, t)];
    }

    public int negCate(int row, int t) {
        requireNeg();
        return negCates[histIndex(row, t)];
    }

    /**
     * The history columns as stored, for a device that keeps its own copy ({@code train
     * --resident-data}): row r's behaviours are {@code items[offsets[r] .. offsets[r + 1])}, oldest
     * first; negItems / negCates null without neg columns. The arrays are the file's own: read only.
     */
    public record HistoryColumns(int rows, int[] offsets, int[] items, int[] cates, int[] negItems, int[] negCates) {
        /** Bytes of the columns (the negative ones only when asked for). */
        public long bytes(boolean negatives) {
            long values = offsets[rows];
            return 4L * (rows + 1) + 4L * values * (negatives && negItems != null ? 4 : 2);
        }
    }

    public HistoryColumns historyColumns() {
        return new HistoryColumns(rows, histOffsets, histItems, histCates, negItems, negCates);
    }

    /** Total number of stored history positions over all rows. */
    public long historyValues() {
        return histOffsets[rows];
    }

    private int histIndex(int row, int t) {
        int len = historyLength(row);
        if (t < 0 || t >= len) {
            throw new IndexOutOfBoundsException("row " + row + " has " + len + " behaviours, asked for " + t);
        }
        return histOffsets[row] + t;
    }

    private void requireNeg() {
        if (negItems == null) {
            throw new IllegalStateException(path + " has no neg_hist columns");
        }
    }

    // ------------------------------------------------------------------ batches

    /** Batches of {@code batchSize} rows; the last, smaller batch is kept. See {@link BatchReader}. */
    public BatchReader batches(int batchSize, boolean shuffle, long seed, int epoch) {
        return batches(batchSize, shuffle, seed, epoch, false);
    }

    /**
     * Batches of {@code batchSize} rows, prefetched by a background thread.
     *
     * @param shuffle  false: file order; true: a permutation of all rows derived from (seed, epoch)
     * @param dropLast true: leave out the last batch when it is smaller than {@code batchSize}
     */
    public BatchReader batches(int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast) {
        return batches(batchSize, shuffle, seed, epoch, dropLast, negItems != null);
    }

    /**
     * As {@link #batches(int, boolean, long, int, boolean)}; {@code negatives} false leaves the
     * neg_hist columns out of the batches even where the file has them (a model that does not
     * read them saves half the history copying); true asks for them, and the file must have them.
     */
    public BatchReader batches(int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast, boolean negatives) {
        return batches(batchSize, shuffle, seed, epoch, dropLast, negatives, true);
    }

    /**
     * As {@link #batches(int, boolean, long, int, boolean, boolean)}; {@code histories} false leaves
     * the history columns (and the negative ones) out of the batches, whose lengths and rowIndex
     * then tell a device that holds {@link #historyColumns} which rows to gather.
     */
    public BatchReader batches(int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast, boolean negatives, boolean histories) {
        if (negatives && negItems == null) {
            throw new IllegalArgumentException(path.getFileName() + " has no neg_hist columns to put in the batches");
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size " + batchSize + " < 1");
        }
        int[] order = shuffle ? BatchReader.shuffledOrder(rows, seed, epoch) : null;
        int T = schema.historyLength();
        int threads = Math.max(1, Math.min(BatchReader.defaultThreads(), BatchReader.batchCount(rows, batchSize, dropLast)));
        List<Batch> buffers = new ArrayList<>();
        for (int k = 0; k < BatchReader.buffersFor(threads); k++) {
            buffers.add(new Batch(batchSize, T, schema.numProfileFields(), negatives, histories));
        }
        return new BatchReader(this::fill, path.getFileName().toString(), rows, order, batchSize, dropLast, buffers, threads);
    }

    /**
     * Fills {@code dst} with {@code count} rows: {@code order[from..from+count)} or, when order is
     * null, rows {@code from..from+count)}. Positions past each history's length and rows past
     * {@code count} are zeroed, so a reused batch never shows stale ids: of a row's padding only
     * what its previous history wrote ([len, previous len)) needs it, the rest being zero already
     * (Batch's invariant), which spares most of the T-wide writes when histories are short.
     */
    void fill(Batch dst, int[] order, int from, int count) {
        int T = dst.T;
        if (T < schema.historyLength() || count > dst.maxB || dst.profile.length != profile.length
                || (dst.negItems != null && negItems == null)) {
            throw new IllegalArgumentException("batch shape (maxB=" + dst.maxB + ", T=" + T + ", F=" + dst.profile.length
                    + ", neg=" + (dst.negItems != null) + ") does not fit " + path.getFileName());
        }
        for (int b = 0; b < count; b++) {
            int r = order == null ? from + b : order[from + b];
            dst.rowIndex[b] = r;
            dst.labels[b] = labels[r];
            for (int f = 0; f < profile.length; f++) {
                dst.profile[f][b] = profile[f][r];
            }
            dst.items[b] = items[r];
            dst.cates[b] = cates[r];
            int off = histOffsets[r];
            int len = histOffsets[r + 1] - off;
            int stale = dst.lengths[b];   // positions [stale, T) of this row are zero
            dst.lengths[b] = len;
            int base = b * T;
            if (!dst.hasHistories()) continue;   // the device gathers them (train --resident-data)
            copyPadded(histItems, off, len, dst.histItems, base, stale);
            copyPadded(histCates, off, len, dst.histCates, base, stale);
            if (dst.negItems != null) {
                copyPadded(negItems, off, len, dst.negItems, base, stale);
                copyPadded(negCates, off, len, dst.negCates, base, stale);
            }
        }
        dst.clearRows(count);
        dst.size = count;
    }

    /** dst[base, base + len) = src[off, off + len), and zero over [len, stale) (positions from stale on are zero already). */
    private static void copyPadded(int[] src, int off, int len, int[] dst, int base, int stale) {
        System.arraycopy(src, off, dst, base, len);
        if (stale > len) Arrays.fill(dst, base + len, base + stale, 0);
    }

    // ------------------------------------------------------------------ reading

    /** Growable columns filled record batch by record batch (Arrow reuses its buffers: values are copied out). */
    private static final class Columns {
        final SampleSchema schema;
        final int T;
        int rows;
        byte[] labels = new byte[1024];
        int[][] profile;
        int[] items = new int[1024];
        int[] cates = new int[1024];
        int[] histOffsets = new int[1025];
        int[] histItems = new int[4096];
        int[] histCates = new int[4096];
        int[] negItems;
        int[] negCates;
        // per-batch scratch: list offsets of the other list columns
        int[] scratchOffsets = new int[1025];

        Columns(SampleSchema schema) {
            this.schema = schema;
            this.T = schema.historyLength();
            profile = new int[schema.numProfileFields()][1024];
            if (schema.hasNegHist()) {
                negItems = new int[4096];
                negCates = new int[4096];
            }
        }

        void append(VectorSchemaRoot root, String name) {
            int n = root.getRowCount();
            if (n == 0) {
                return;
            }
            long base = rows;
            if (base + n > Integer.MAX_VALUE - 8) {
                throw DataFormatException.atFile(name, "at most " + (Integer.MAX_VALUE - 8) + " rows", "more", null);
            }
            growRows(rows + n);

            TinyIntVector label = (TinyIntVector) root.getVector(SampleSchema.LABEL);
            checkNoNulls(label, n, base, name);
            for (int i = 0; i < n; i++) {
                byte l = label.get(i);
                if (l != 0 && l != 1) {
                    throw DataFormatException.atRow(name, base + i, SampleSchema.LABEL, "0 or 1", String.valueOf(l));
                }
                labels[rows + i] = l;
            }
            List<String> profileNames = schema.profileFieldNames();
            for (int f = 0; f < profileNames.size(); f++) {
                String field = profileNames.get(f);
                int vocab = f == 0 ? schema.userVocab() : schema.extraFields().get(f - 1).vocabSize();
                readInts((IntVector) root.getVector(field), n, base, name, field, vocab, profile[f], rows);
            }
            readInts((IntVector) root.getVector(SampleSchema.ITEM_ID), n, base, name, SampleSchema.ITEM_ID,
                    schema.itemVocab(), items, rows);
            readInts((IntVector) root.getVector(SampleSchema.CATE_ID), n, base, name, SampleSchema.CATE_ID,
                    schema.cateVocab(), cates, rows);

            // hist_item_ids defines the lengths; the other lists must match it row by row.
            int start = histOffsets[rows];
            ListVector hi = (ListVector) root.getVector(SampleSchema.HIST_ITEM_IDS);
            int[] lens = listLengths(hi, n, base, name, SampleSchema.HIST_ITEM_IDS, null);
            long total = start;
            for (int i = 0; i < n; i++) {
                if (lens[i] > T) {
                    throw DataFormatException.atRow(name, base + i, SampleSchema.HIST_ITEM_IDS,
                            "a history of at most T = " + T + " behaviours", "length " + lens[i]);
                }
                total += lens[i];
                histOffsets[rows + i + 1] = (int) Math.min(total, Integer.MAX_VALUE);
            }
            if (total > Integer.MAX_VALUE - 8) {
                throw DataFormatException.atFile(name, "at most " + (Integer.MAX_VALUE - 8) + " history values in all", "more", null);
            }
            growValues((int) total);
            readListValues(hi, n, base, name, SampleSchema.HIST_ITEM_IDS, schema.itemVocab(), histItems, start);
            ListVector hc = (ListVector) root.getVector(SampleSchema.HIST_CATE_IDS);
            listLengths(hc, n, base, name, SampleSchema.HIST_CATE_IDS, lens);
            readListValues(hc, n, base, name, SampleSchema.HIST_CATE_IDS, schema.cateVocab(), histCates, start);
            if (negItems != null) {
                ListVector ni = (ListVector) root.getVector(SampleSchema.NEG_HIST_ITEM_IDS);
                listLengths(ni, n, base, name, SampleSchema.NEG_HIST_ITEM_IDS, lens);
                readListValues(ni, n, base, name, SampleSchema.NEG_HIST_ITEM_IDS, schema.itemVocab(), negItems, start);
                ListVector nc = (ListVector) root.getVector(SampleSchema.NEG_HIST_CATE_IDS);
                listLengths(nc, n, base, name, SampleSchema.NEG_HIST_CATE_IDS, lens);
                readListValues(nc, n, base, name, SampleSchema.NEG_HIST_CATE_IDS, schema.cateVocab(), negCates, start);
            }
            rows += n;
        }

        /**
         * The per-row lengths of a list column after checking nulls and offsets; when
         * {@code mustMatch} is given, each length must equal it (as hist_item_ids).
         */
        int[] listLengths(ListVector v, int n, long base, String name, String field, int[] mustMatch) {
            checkNoNulls(v, n, base, name);
            int[] off = offsets(v, n);
            int childCount = v.getDataVector().getValueCount();
            int[] lens = mustMatch == null ? new int[n] : null;
            for (int i = 0; i < n; i++) {
                int len = off[i + 1] - off[i];
                if (len < 0 || off[i] < 0 || off[i + 1] > childCount) {
                    throw DataFormatException.atRow(name, base + i, field, "list offsets inside the "
                            + childCount + " stored values", "[" + off[i] + ", " + off[i + 1] + ")");
                }
                if (mustMatch != null && len != mustMatch[i]) {
                    throw DataFormatException.atRow(name, base + i, field,
                            "length " + mustMatch[i] + " (as " + SampleSchema.HIST_ITEM_IDS + ")", "length " + len);
                }
                if (lens != null) {
                    lens[i] = len;
                }
            }
            return mustMatch == null ? lens : mustMatch;
        }

        /** Copies the list values of rows [0, n) to dst[start..], checking element nulls and the id range. */
        void readListValues(ListVector v, int n, long base, String name, String field, int vocab, int[] dst, int start) {
            int[] off = offsets(v, n);
            IntVector data = (IntVector) v.getDataVector();
            int first = off[0];
            int count = off[n] - first;
            if (data.getNullCount() > 0) {
                for (int i = 0; i < n; i++) {
                    for (int j = off[i]; j < off[i + 1]; j++) {
                        if (data.isNull(j)) {
                            throw DataFormatException.atRow(name, base + i, field,
                                    "an id at every position", "null at position " + (j - off[i]));
                        }
                    }
                }
            }
            copyInts(data.getDataBuffer(), first, count, dst, start);
            for (int i = 0; i < n; i++) {
                int lo = start + off[i] - first;
                int hi = start + off[i + 1] - first;
                for (int j = lo; j < hi; j++) {
                    int id = dst[j];
                    if (id < 0 || id >= vocab) {
                        throw DataFormatException.atRow(name, base + i, field, "ids in [0, " + vocab + ")",
                                id + " at position " + (j - lo));
                    }
                }
            }
        }

        /** The n + 1 offsets of a list column (scratch array, valid until the next call). */
        int[] offsets(ListVector v, int n) {
            if (scratchOffsets.length < n + 1) {
                scratchOffsets = new int[n + 1];
            }
            copyInts(v.getOffsetBuffer(), 0, n + 1, scratchOffsets, 0);
            return scratchOffsets;
        }

        void readInts(IntVector v, int n, long base, String name, String field, int vocab, int[] dst, int at) {
            checkNoNulls(v, n, base, name);
            copyInts(v.getDataBuffer(), 0, n, dst, at);
            for (int i = 0; i < n; i++) {
                int id = dst[at + i];
                if (id < 0 || id >= vocab) {
                    throw DataFormatException.atRow(name, base + i, field, "an id in [0, " + vocab + ")", String.valueOf(id));
                }
            }
        }

        static void checkNoNulls(FieldVector v, int n, long base, String name) {
            if (v.getNullCount() == 0) {
                return;
            }
            for (int i = 0; i < n; i++) {
                if (v.isNull(i)) {
                    throw DataFormatException.atRow(name, base + i, v.getName(), "a value", "null");
                }
            }
        }

        void growRows(int needed) {
            if (needed <= items.length) {
                return;
            }
            int cap = (int) Math.min(Integer.MAX_VALUE - 8L, Math.max(needed, 2L * items.length));
            labels = Arrays.copyOf(labels, cap);
            for (int f = 0; f < profile.length; f++) {
                profile[f] = Arrays.copyOf(profile[f], cap);
            }
            items = Arrays.copyOf(items, cap);
            cates = Arrays.copyOf(cates, cap);
            histOffsets = Arrays.copyOf(histOffsets, cap + 1);
        }

        void growValues(int needed) {
            if (needed <= histItems.length) {
                return;
            }
            int cap = (int) Math.min(Integer.MAX_VALUE - 8L, Math.max(needed, 2L * histItems.length));
            histItems = Arrays.copyOf(histItems, cap);
            histCates = Arrays.copyOf(histCates, cap);
            if (negItems != null) {
                negItems = Arrays.copyOf(negItems, cap);
                negCates = Arrays.copyOf(negCates, cap);
            }
        }
    }

    /** Bulk copy of {@code count} little-endian int32 values starting at element {@code first}. */
    private static void copyInts(ArrowBuf buf, int first, int count, int[] dst, int at) {
        long byteOff = 4L * first;
        int done = 0;
        while (done < count) {
            int chunk = Math.min(count - done, 1 << 28);
            buf.nioBuffer(byteOff + 4L * done, 4 * chunk).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(dst, at + done, chunk);
            done += chunk;
        }
    }
}
