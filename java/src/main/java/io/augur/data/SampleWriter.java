package io.augur.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
 * <p>Full batches are copied into Arrow vectors and written by a helper thread while the caller
 * appends the next batch into a second set of arrays (so a converter producing rows uses a second
 * core); an error there surfaces at the next append or at {@link #close()}. A writer that never
 * fills a batch starts no thread.
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
    private byte[] labels;
    private int[] users;
    private int[][] extras;          // (numExtras, flushRows)
    private int[] items;
    private int[] cates;
    private int[] histOffsets;       // (flushRows + 1), into the value buffers below; histOffsets[0] = 0
    private int[] histItems;
    private int[] histCates;
    private int[] negItems;          // null without neg columns
    private int[] negCates;
    private int pending;
    private long rowsWritten;        // rows handed to the file (written, or being written by the helper)
    private boolean closed;

    // Background flushing: the arrays of the batch being written (null when none is in flight), the
    // other free set of arrays (null until the first flush), the helper thread (started lazily).
    private Stage flushing;
    private Stage spare;
    private Future<?> inFlight;
    private ExecutorService flusher;

    /** One set of batch arrays, handed between the caller and the helper thread. */
    private static final class Stage {
        byte[] labels;
        int[] users;
        int[][] extras;
        int[] items;
        int[] cates;
        int[] histOffsets;
        int[] histItems;
        int[] histCates;
        int[] negItems;
        int[] negCates;
    }

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

    /**
     * Hands the pending rows to the helper thread as one record batch (nothing when none are
     * pending), after the previous batch is written, and continues in the other set of arrays.
     */
    private void flush() {
        int n = pending;
        if (n == 0) {
            return;
        }
        awaitFlush();
        Stage full = current();
        if (spare == null) {
            spare = newStage(full);
        }
        install(spare);
        spare = null;
        pending = 0;
        rowsWritten += n;
        if (flusher == null) {
            flusher = Executors.newSingleThreadExecutor(task -> {
                Thread t = new Thread(task, "sample-writer " + path.getFileName());
                t.setDaemon(true);
                return t;
            });
        }
        flushing = full;
        inFlight = flusher.submit(() -> write(full, n));
    }

    /** Waits until the batch in flight (if any) is written; its arrays become the spare set. */
    private void awaitFlush() {
        if (inFlight == null) {
            return;
        }
        try {
            inFlight.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(path + ": interrupted while writing a record batch", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(path + ": writing a record batch failed", c);
        } finally {
            inFlight = null;
        }
        spare = flushing;
        flushing = null;
    }

    private Stage current() {
        Stage st = new Stage();
        st.labels = labels;
        st.users = users;
        st.extras = extras;
        st.items = items;
        st.cates = cates;
        st.histOffsets = histOffsets;
        st.histItems = histItems;
        st.histCates = histCates;
        st.negItems = negItems;
        st.negCates = negCates;
        return st;
    }

    private void install(Stage st) {
        labels = st.labels;
        users = st.users;
        extras = st.extras;
        items = st.items;
        cates = st.cates;
        histOffsets = st.histOffsets;
        histItems = st.histItems;
        histCates = st.histCates;
        negItems = st.negItems;
        negCates = st.negCates;
    }

    /** A second set of arrays shaped like {@code like} (offsets start at 0). */
    private static Stage newStage(Stage like) {
        Stage st = new Stage();
        st.labels = new byte[like.labels.length];
        st.users = new int[like.users.length];
        st.extras = new int[like.extras.length][like.users.length];
        st.items = new int[like.items.length];
        st.cates = new int[like.cates.length];
        st.histOffsets = new int[like.histOffsets.length];
        st.histItems = new int[like.histItems.length];
        st.histCates = new int[like.histCates.length];
        if (like.negItems != null) {
            st.negItems = new int[like.negItems.length];
            st.negCates = new int[like.negCates.length];
        }
        return st;
    }

    /** Copies rows 0..n of a set of arrays into the Arrow vectors and writes them as one record batch. */
    private void write(Stage st, int n) {
        for (FieldVector v : root.getFieldVectors()) {
            v.reset();
        }
        TinyIntVector label = (TinyIntVector) root.getVector(SampleSchema.LABEL);
        for (int i = 0; i < n; i++) {
            label.setSafe(i, st.labels[i]);
        }
        fillInts((IntVector) root.getVector(SampleSchema.USER_ID), st.users, n);
        for (int f = 0; f < numExtras; f++) {
            fillInts((IntVector) root.getVector(schema.extraFields().get(f).name()), st.extras[f], n);
        }
        fillInts((IntVector) root.getVector(SampleSchema.ITEM_ID), st.items, n);
        fillInts((IntVector) root.getVector(SampleSchema.CATE_ID), st.cates, n);
        fillList((ListVector) root.getVector(SampleSchema.HIST_ITEM_IDS), st.histOffsets, st.histItems, n);
        fillList((ListVector) root.getVector(SampleSchema.HIST_CATE_IDS), st.histOffsets, st.histCates, n);
        if (st.negItems != null) {
            fillList((ListVector) root.getVector(SampleSchema.NEG_HIST_ITEM_IDS), st.histOffsets, st.negItems, n);
            fillList((ListVector) root.getVector(SampleSchema.NEG_HIST_CATE_IDS), st.histOffsets, st.negCates, n);
        }
        root.setRowCount(n);
        try {
            writer.writeBatch();
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": writing a record batch failed", e);
        }
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
            awaitFlush();
            int n = pending;
            if (n > 0) {
                write(current(), n); // the last batch on this thread: nothing else touches the vectors now
                rowsWritten += n;
                pending = 0;
            }
            writer.end();
        } finally {
            if (flusher != null) {
                flusher.shutdownNow();
            }
            writer.close();
            root.close();
            channel.close();
            allocator.close();
        }
    }
}
