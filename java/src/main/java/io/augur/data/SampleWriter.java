package io.augur.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileWriter;

/**
 * Appends sample rows to one Arrow IPC file (DESIGN.md §2), writing a record batch every
 * {@code flushRows} rows. Rows are checked as they come (label 0/1, ids inside their vocabulary,
 * history at most T long) so a bad producer fails at the row it got wrong, not at read time.
 *
 * <p>Not thread-safe. {@link #close()} writes the last batch and the footer; a file whose writer
 * was never closed has no footer and is rejected by {@link SampleFile}.
 */
public final class SampleWriter implements AutoCloseable {

    /** Rows per record batch unless told otherwise. */
    public static final int DEFAULT_FLUSH_ROWS = 65_536;

    private final Path path;
    private final SampleSchema schema;
    private final int flushRows;
    private final int T;
    private final int numExtras;
    // Training counts to add each row to (null: do not count): user, item, cate, extra fields.
    private final int[] countUser;
    private final int[] countItem;
    private final int[] countCate;
    private final int[][] countExtras;

    private final BufferAllocator allocator;
    private final VectorSchemaRoot root;
    private final FileChannel channel;
    private final ArrowFileWriter writer;

    // Rows of the batch being built, copied into the Arrow vectors on flush.
    private final byte[] labels;
    private final int[] users;
    private final int[][] extras;    // (numExtras, flushRows)
    private final int[] items;
    private final int[] cates;
    private final int[] histOffsets; // (flushRows + 1), into the value buffers below
    private int[] histItems;
    private int[] histCates;
    private int[] negItems;          // null without neg columns
    private int[] negCates;
    private int pending;
    private long rowsWritten;
    private boolean closed;

    private SampleWriter(Path path, SampleSchema schema, int flushRows, FrequencyCounts counts) throws IOException {
        if (flushRows < 1) {
            throw new IllegalArgumentException("flushRows = " + flushRows + " < 1");
        }
        this.path = path;
        this.schema = schema;
        this.flushRows = flushRows;
        this.T = schema.historyLength();
        this.numExtras = schema.extraFields().size();
        if (counts != null) {
            countUser = counts.raw(SampleSchema.VOCAB_USER);
            countItem = counts.raw(SampleSchema.VOCAB_ITEM);
            countCate = counts.raw(SampleSchema.VOCAB_CATE);
            countExtras = new int[numExtras][];
            for (int f = 0; f < numExtras; f++) {
                countExtras[f] = counts.raw(schema.extraFields().get(f).name());
            }
        } else {
            countUser = countItem = countCate = null;
            countExtras = null;
        }

        labels = new byte[flushRows];
        users = new int[flushRows];
        extras = new int[numExtras][flushRows];
        items = new int[flushRows];
        cates = new int[flushRows];
        histOffsets = new int[flushRows + 1];
        int valueCap = Math.max(16, Math.min(flushRows * Math.min(T, 16), 1 << 24));
        histItems = new int[valueCap];
        histCates = new int[valueCap];
        if (schema.hasNegHist()) {
            negItems = new int[valueCap];
            negCates = new int[valueCap];
        }

        allocator = new RootAllocator();
        VectorSchemaRoot r = null;
        FileChannel ch = null;
        try {
            r = VectorSchemaRoot.create(schema.arrowSchema(), allocator);
            ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
            ArrowFileWriter w = new ArrowFileWriter(r, null, ch);
            w.start();
            root = r;
            channel = ch;
            writer = w;
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            if (r != null) {
                r.close();
            }
            allocator.close();
            throw e;
        }
    }

    /** A writer with {@link #DEFAULT_FLUSH_ROWS} rows per record batch. */
    public static SampleWriter open(Path file, SampleSchema schema) throws IOException {
        return new SampleWriter(file, schema, DEFAULT_FLUSH_ROWS, null);
    }

    /** A writer with {@code flushRows} rows per record batch. */
    public static SampleWriter open(Path file, SampleSchema schema, int flushRows) throws IOException {
        return new SampleWriter(file, schema, flushRows, null);
    }

    /** A writer that also adds every row's ids to {@code counts} (the training split of a dataset). */
    static SampleWriter openCounting(Path file, SampleSchema schema, int flushRows, FrequencyCounts counts) throws IOException {
        return new SampleWriter(file, schema, flushRows, counts);
    }

    /** A row without extra fields and without neg columns; the history is the whole arrays. */
    public void append(int label, int userId, int itemId, int cateId, int[] histItemIds, int[] histCateIds) {
        if (histItemIds.length != histCateIds.length) {
            throw new IllegalArgumentException("history lengths differ: " + histItemIds.length + " items, "
                    + histCateIds.length + " categories");
        }
        append(label, userId, null, itemId, cateId, histItemIds, histCateIds, null, null, 0, histItemIds.length);
    }

    /**
     * Appends one row. The history is the slice {@code [from, from + length)} of the history
     * arrays (oldest first), and the same slice of the neg arrays.
     *
     * @param label       0 or 1
     * @param userId      in [0, user vocabulary)
     * @param extraIds    one id per extra field in schema order (null or empty when there are none)
     * @param itemId      candidate item
     * @param cateId      candidate category
     * @param histItemIds behaviour items
     * @param histCateIds behaviour categories
     * @param negItemIds  non-clicked items per position; null exactly when the schema has no neg columns
     * @param negCateIds  their categories; null exactly when the schema has no neg columns
     * @param from        first history position used
     * @param length      number of positions, at most T
     */
    public void append(int label, int userId, int[] extraIds, int itemId, int cateId,
                       int[] histItemIds, int[] histCateIds, int[] negItemIds, int[] negCateIds,
                       int from, int length) {
        if (closed) {
            throw new IllegalStateException(path + ": writer is closed");
        }
        long row = rowsWritten + pending;
        if (label != 0 && label != 1) {
            throw bad(row, SampleSchema.LABEL, "0 or 1", label);
        }
        check(row, SampleSchema.USER_ID, userId, schema.userVocab());
        int givenExtras = extraIds == null ? 0 : extraIds.length;
        if (givenExtras != numExtras) {
            throw new IllegalArgumentException(path + ": row " + row + ": " + numExtras + " extra field ids expected, "
                    + givenExtras + " given");
        }
        for (int f = 0; f < numExtras; f++) {
            ExtraField ef = schema.extraFields().get(f);
            check(row, ef.name(), extraIds[f], ef.vocabSize());
        }
        check(row, SampleSchema.ITEM_ID, itemId, schema.itemVocab());
        check(row, SampleSchema.CATE_ID, cateId, schema.cateVocab());
        if (length < 0 || length > T) {
            throw bad(row, SampleSchema.HIST_ITEM_IDS, "a history length in [0, " + T + "]", length);
        }
        if (from < 0 || from + length > histItemIds.length || from + length > histCateIds.length) {
            throw new IllegalArgumentException(path + ": row " + row + ": history slice [" + from + ", " + (from + length)
                    + ") outside the given arrays");
        }
        boolean neg = negItemIds != null || negCateIds != null;
        if (neg != schema.hasNegHist()) {
            throw new IllegalArgumentException(path + ": row " + row + ": neg history "
                    + (neg ? "given but the schema has no neg columns" : "missing but the schema has neg columns"));
        }
        if (neg && (negItemIds == null || negCateIds == null
                || from + length > negItemIds.length || from + length > negCateIds.length)) {
            throw new IllegalArgumentException(path + ": row " + row + ": neg history slice [" + from + ", "
                    + (from + length) + ") outside the given arrays");
        }
        for (int t = from; t < from + length; t++) {
            check(row, SampleSchema.HIST_ITEM_IDS, histItemIds[t], schema.itemVocab());
            check(row, SampleSchema.HIST_CATE_IDS, histCateIds[t], schema.cateVocab());
            if (neg) {
                check(row, SampleSchema.NEG_HIST_ITEM_IDS, negItemIds[t], schema.itemVocab());
                check(row, SampleSchema.NEG_HIST_CATE_IDS, negCateIds[t], schema.cateVocab());
            }
        }

        int r = pending;
        labels[r] = (byte) label;
        users[r] = userId;
        for (int f = 0; f < numExtras; f++) {
            extras[f][r] = extraIds[f];
        }
        items[r] = itemId;
        cates[r] = cateId;
        int off = histOffsets[r];
        ensureValueCapacity(off + length);
        System.arraycopy(histItemIds, from, histItems, off, length);
        System.arraycopy(histCateIds, from, histCates, off, length);
        if (neg) {
            System.arraycopy(negItemIds, from, negItems, off, length);
            System.arraycopy(negCateIds, from, negCates, off, length);
        }
        histOffsets[r + 1] = off + length;
        pending++;

        if (countUser != null) {
            count(userId, extraIds, itemId, cateId, histItemIds, histCateIds, from, length);
        }
        if (pending == flushRows) {
            flush();
        }
    }

    private void count(int userId, int[] extraIds, int itemId, int cateId, int[] hi, int[] hc, int from, int length) {
        countUser[userId]++;
        for (int f = 0; f < numExtras; f++) {
            countExtras[f][extraIds[f]]++;
        }
        countItem[itemId]++;
        countCate[cateId]++;
        for (int t = from; t < from + length; t++) {
            countItem[hi[t]]++;
            countCate[hc[t]]++;
        }
    }

    private void check(long row, String field, int id, int vocab) {
        if (id < 0 || id >= vocab) {
            throw bad(row, field, "an id in [0, " + vocab + ")", id);
        }
    }

    private IllegalArgumentException bad(long row, String field, String expected, int found) {
        return new IllegalArgumentException(path + ": row " + row + ", field '" + field + "': expected " + expected
                + ", got " + found);
    }

    private void ensureValueCapacity(int needed) {
        if (needed <= histItems.length) {
            return;
        }
        int cap = Math.max(needed, (int) Math.min(Integer.MAX_VALUE - 8L, 2L * histItems.length));
        histItems = Arrays.copyOf(histItems, cap);
        histCates = Arrays.copyOf(histCates, cap);
        if (negItems != null) {
            negItems = Arrays.copyOf(negItems, cap);
            negCates = Arrays.copyOf(negCates, cap);
        }
    }

    /** Writes the pending rows as one record batch (nothing when none are pending). */
    private void flush() {
        int n = pending;
        if (n == 0) {
            return;
        }
        for (FieldVector v : root.getFieldVectors()) {
            v.reset();
        }
        TinyIntVector label = (TinyIntVector) root.getVector(SampleSchema.LABEL);
        for (int i = 0; i < n; i++) {
            label.setSafe(i, labels[i]);
        }
        fillInts((IntVector) root.getVector(SampleSchema.USER_ID), users, n);
        for (int f = 0; f < numExtras; f++) {
            fillInts((IntVector) root.getVector(schema.extraFields().get(f).name()), extras[f], n);
        }
        fillInts((IntVector) root.getVector(SampleSchema.ITEM_ID), items, n);
        fillInts((IntVector) root.getVector(SampleSchema.CATE_ID), cates, n);
        fillList((ListVector) root.getVector(SampleSchema.HIST_ITEM_IDS), histOffsets, histItems, n);
        fillList((ListVector) root.getVector(SampleSchema.HIST_CATE_IDS), histOffsets, histCates, n);
        if (negItems != null) {
            fillList((ListVector) root.getVector(SampleSchema.NEG_HIST_ITEM_IDS), histOffsets, negItems, n);
            fillList((ListVector) root.getVector(SampleSchema.NEG_HIST_CATE_IDS), histOffsets, negCates, n);
        }
        root.setRowCount(n);
        try {
            writer.writeBatch();
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": writing a record batch failed", e);
        }
        rowsWritten += n;
        pending = 0;
    }

    private static void fillInts(IntVector v, int[] src, int n) {
        while (v.getValueCapacity() < n) {
            v.reAlloc();
        }
        ArrowBuf data = v.getDataBuffer();
        for (int i = 0; i < n; i++) {
            data.setInt(4L * i, src[i]);
        }
        setValid(v.getValidityBuffer(), n);
    }

    /**
     * Fills a list<int32> vector straight through its buffers (offsets, validity, child values):
     * rows i = 0..n take values[offsets[i] .. offsets[i+1]). The vector was reset (zeroed) by the
     * caller. About three times faster than startNewValue/setSafe per element, which the
     * converters of {@code augur prepare} notice at millions of rows.
     */
    private static void fillList(ListVector v, int[] offsets, int[] values, int n) {
        int base = offsets[0];
        int total = offsets[n] - base;
        while (v.getValueCapacity() < n) {
            v.reAlloc();
        }
        IntVector data = (IntVector) v.getDataVector();
        while (data.getValueCapacity() < total) {
            data.reAlloc();
        }
        ArrowBuf off = v.getOffsetBuffer();
        for (int i = 0; i <= n; i++) {
            off.setInt(4L * i, offsets[i] - base);
        }
        setValid(v.getValidityBuffer(), n);
        ArrowBuf dst = data.getDataBuffer();
        for (int k = 0; k < total; k++) {
            dst.setInt(4L * k, values[base + k]);
        }
        setValid(data.getValidityBuffer(), total);
        data.setValueCount(total);
        v.setLastSet(n - 1);
    }

    /** Marks entries 0..n valid (whole bytes at once, then the bits of the last partial byte). */
    private static void setValid(ArrowBuf validity, int n) {
        validity.setOne(0, n >>> 3);
        for (int i = n & ~7; i < n; i++) {
            BitVectorHelper.setBit(validity, i);
        }
    }

    /** Rows appended so far (written or pending). */
    public long rows() {
        return rowsWritten + pending;
    }

    /** The file being written. */
    public Path path() {
        return path;
    }

    /** The schema rows must follow. */
    public SampleSchema schema() {
        return schema;
    }

    /** Writes the pending rows and the footer, then releases everything. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            flush();
            writer.end();
        } finally {
            writer.close();
            root.close();
            channel.close();
            allocator.close();
        }
    }
}
