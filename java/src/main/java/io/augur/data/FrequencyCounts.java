package io.augur.data;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Id frequency counts of the training split, one array per vocabulary: {@code counts(v)[id]} is
 * how often {@code id} occurs in the training rows in any field of vocabulary {@code v} — for
 * "item" that is item_id plus every stored position of hist_item_ids (the neg_hist columns do not
 * count); for "user" just user_id. MBAR divides its regularization by these counts (DESIGN.md §3).
 *
 * <p>On disk: {@code counts/<vocab>.arrow}, an Arrow IPC file with one int32 column
 * {@value #COLUMN} of length vocabulary size (index = id).
 */
public final class FrequencyCounts {

    /** The single column of a counts file. */
    public static final String COLUMN = "count";
    /** The folder of the counts files inside a dataset folder. */
    public static final String DIR = "counts";

    private final Map<String, int[]> counts;

    private FrequencyCounts(Map<String, int[]> counts) {
        this.counts = counts;
    }

    /** All-zero counts for every vocabulary of a schema (filled while the training split is written). */
    static FrequencyCounts zeros(SampleSchema schema) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> v : schema.vocabularies().entrySet()) {
            m.put(v.getKey(), new int[v.getValue()]);
        }
        return new FrequencyCounts(m);
    }

    /** "counts/&lt;vocab&gt;.arrow". */
    static String relativePath(String vocab) {
        return DIR + "/" + vocab + ".arrow";
    }

    /** The vocabularies counted. */
    public Set<String> vocabularies() {
        return Collections.unmodifiableSet(counts.keySet());
    }

    /** A copy of the counts of one vocabulary, indexed by id (length = vocabulary size). */
    public int[] counts(String vocab) {
        return raw(vocab).clone();
    }

    /** The live array (package use only: the writer adds to it). */
    int[] raw(String vocab) {
        int[] c = counts.get(vocab);
        if (c == null) {
            throw new IllegalArgumentException("no counts for vocabulary '" + vocab + "'; known: " + counts.keySet());
        }
        return c;
    }

    /** Writes {@code counts/<vocab>.arrow} for every vocabulary under {@code datasetDir}. */
    void write(Path datasetDir) throws IOException {
        Files.createDirectories(datasetDir.resolve(DIR));
        Schema schema = new Schema(List.of(new Field(COLUMN, FieldType.notNullable(new ArrowType.Int(32, true)), null)));
        for (Map.Entry<String, int[]> e : counts.entrySet()) {
            int[] c = e.getValue();
            try (BufferAllocator alloc = new RootAllocator();
                 VectorSchemaRoot root = VectorSchemaRoot.create(schema, alloc);
                 FileChannel ch = FileChannel.open(datasetDir.resolve(relativePath(e.getKey())),
                         StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
                 ArrowFileWriter w = new ArrowFileWriter(root, null, ch)) {
                IntVector v = (IntVector) root.getVector(COLUMN);
                v.allocateNew(c.length);
                for (int i = 0; i < c.length; i++) {
                    v.set(i, c[i]);
                }
                root.setRowCount(c.length);
                w.start();
                w.writeBatch();
                w.end();
            }
        }
    }

    /** Reads and validates the counts files of every vocabulary of a dataset. */
    static FrequencyCounts read(Path datasetDir, DatasetInfo info) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (Map.Entry<String, Integer> v : info.vocabularies().entrySet()) {
            Path file = datasetDir.resolve(info.counts().get(v.getKey()));
            m.put(v.getKey(), readOne(file, v.getValue()));
        }
        return new FrequencyCounts(m);
    }

    private static int[] readOne(Path file, int vocabSize) {
        String name = file.toString();
        int[] out = new int[vocabSize];
        long row = 0;
        try (BufferAllocator alloc = new RootAllocator();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader r = new ArrowFileReader(ch, alloc)) {
            VectorSchemaRoot root = openRoot(r, name);
            FieldVector fv = root.getVector(COLUMN);
            if (fv == null) {
                throw DataFormatException.atField(name, COLUMN, "an int32 column", "no such column");
            }
            if (!(fv instanceof IntVector)) {
                throw DataFormatException.atField(name, COLUMN, "int32", fv.getField().getType().toString());
            }
            while (loadNext(r, name, row)) {
                IntVector v = (IntVector) root.getVector(COLUMN);
                int n = root.getRowCount();
                for (int i = 0; i < n; i++, row++) {
                    if (row >= vocabSize) {
                        throw DataFormatException.atRow(name, row, COLUMN, vocabSize + " rows (the vocabulary size)", "more");
                    }
                    if (v.isNull(i)) {
                        throw DataFormatException.atRow(name, row, COLUMN, "a count", "null");
                    }
                    int c = v.get(i);
                    if (c < 0) {
                        throw DataFormatException.atRow(name, row, COLUMN, "a count >= 0", String.valueOf(c));
                    }
                    out[(int) row] = c;
                }
            }
        } catch (IOException e) {
            throw DataFormatException.atFile(name, "a readable Arrow IPC file", e.toString(), e);
        }
        if (row != vocabSize) {
            throw DataFormatException.atFile(name, vocabSize + " rows (the vocabulary size)", row + " rows", null);
        }
        return out;
    }

    /** The reader's root, turning a missing or broken footer into a {@link DataFormatException}. */
    static VectorSchemaRoot openRoot(ArrowFileReader r, String name) {
        try {
            return r.getVectorSchemaRoot();
        } catch (IOException | RuntimeException e) {
            throw DataFormatException.atFile(name, "an Arrow IPC file (magic, schema and footer)",
                    "an unreadable file (" + e.getMessage() + ")", e);
        }
    }

    /** Loads the next record batch, turning a broken block into a {@link DataFormatException}. */
    static boolean loadNext(ArrowFileReader r, String name, long nextRow) {
        try {
            return r.loadNextBatch();
        } catch (IOException | RuntimeException e) {
            throw DataFormatException.atFile(name, "a readable record batch starting at row " + nextRow,
                    "a broken one (" + e.getMessage() + ")", e);
        }
    }
}
