package io.augur.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * Writes a dataset folder: {@code train.arrow}, {@code valid.arrow}, {@code test.arrow} through
 * one {@link SampleWriter} each, the training split's id counts ({@code counts/<vocab>.arrow},
 * gathered while the training rows are appended) and, last, {@code dataset.json}.
 *
 * <pre>{@code
 * try (DatasetWriter w = DatasetWriter.create(dir, schema, madeBy)) {
 *     w.split(Split.TRAIN).append(...);
 *     ...
 *     DatasetInfo info = w.finish();
 * }
 * }</pre>
 *
 * <p>Only {@link #finish()} writes dataset.json; closing without finishing (an exception on the
 * way) leaves a folder without it, which {@link Dataset#open} rejects, so a half-written dataset
 * is never taken for a whole one.
 */
public final class DatasetWriter implements AutoCloseable {

    private final Path dir;
    private final SampleSchema schema;
    private final JsonNode madeBy;
    private final FrequencyCounts counts;
    private final Map<Split, SampleWriter> writers = new EnumMap<>(Split.class);
    private DatasetInfo finished;
    private boolean closed;

    private DatasetWriter(Path dir, SampleSchema schema, JsonNode madeBy, int flushRows) throws IOException {
        this.dir = dir;
        this.schema = schema;
        this.madeBy = madeBy;
        this.counts = FrequencyCounts.zeros(schema);
        Files.createDirectories(dir);
        Files.deleteIfExists(dir.resolve(DatasetInfo.FILE_NAME));
        try {
            for (Split s : Split.values()) {
                Path file = dir.resolve(s.fileName());
                writers.put(s, s == Split.TRAIN
                        ? SampleWriter.openCounting(file, schema, flushRows, counts)
                        : SampleWriter.open(file, schema, flushRows));
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** A writer with {@link SampleWriter#DEFAULT_FLUSH_ROWS} rows per record batch. */
    public static DatasetWriter create(Path dir, SampleSchema schema, JsonNode madeBy) throws IOException {
        return new DatasetWriter(dir, schema, madeBy, SampleWriter.DEFAULT_FLUSH_ROWS);
    }

    /**
     * @param dir       the dataset folder (created if needed; existing split files are replaced)
     * @param schema    columns and vocabularies
     * @param madeBy    free-form description of the producer for dataset.json (config, seed, source)
     * @param flushRows rows per record batch
     */
    public static DatasetWriter create(Path dir, SampleSchema schema, JsonNode madeBy, int flushRows) throws IOException {
        return new DatasetWriter(dir, schema, madeBy, flushRows);
    }

    /** The writer of one split. */
    public SampleWriter split(Split s) {
        if (finished != null || closed) {
            throw new IllegalStateException(dir + ": dataset writer is already finished");
        }
        return writers.get(s);
    }

    public SampleSchema schema() {
        return schema;
    }

    public Path dir() {
        return dir;
    }

    /** Closes the split files, writes the counts and dataset.json, and returns the info written. */
    public DatasetInfo finish() throws IOException {
        if (finished != null) {
            return finished;
        }
        if (closed) {
            throw new IllegalStateException(dir + ": dataset writer was closed without finishing");
        }
        Map<Split, Long> rows = new EnumMap<>(Split.class);
        for (Map.Entry<Split, SampleWriter> e : writers.entrySet()) {
            rows.put(e.getKey(), e.getValue().rows());
        }
        closeWriters();
        counts.write(dir);
        DatasetInfo info = DatasetInfo.of(schema, rows, madeBy);
        info.write(dir.resolve(DatasetInfo.FILE_NAME));
        finished = info;
        closed = true;
        return info;
    }

    /** Closes the split files; without {@link #finish()} no dataset.json is written. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        closeWriters();
    }

    private void closeWriters() throws IOException {
        IOException first = null;
        for (SampleWriter w : writers.values()) {
            try {
                w.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
