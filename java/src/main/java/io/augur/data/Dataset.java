package io.augur.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * A dataset folder (DESIGN.md §2): {@code dataset.json}, the three split files and the training
 * counts. {@link #open} reads and validates dataset.json and the counts; each split is read (and
 * validated row by row) on first use and kept.
 */
public final class Dataset {

    private final Path dir;
    private final DatasetInfo info;
    private final SampleSchema schema;
    private final FrequencyCounts counts;
    private final Map<Split, SampleFile> loaded = new EnumMap<>(Split.class);

    private Dataset(Path dir, DatasetInfo info, FrequencyCounts counts) {
        this.dir = dir;
        this.info = info;
        this.schema = info.schema();
        this.counts = counts;
    }

    /** Opens a dataset folder; throws {@link DataFormatException} when dataset.json or a counts file is bad. */
    public static Dataset open(Path dir) {
        Path json = dir.resolve(DatasetInfo.FILE_NAME);
        if (!Files.isRegularFile(json)) {
            throw DataFormatException.atFile(json.toString(), "a dataset.json (is " + dir + " a dataset folder?)",
                    "no such file", null);
        }
        DatasetInfo info = DatasetInfo.read(json);
        return new Dataset(dir, info, FrequencyCounts.read(dir, info));
    }

    public Path dir() {
        return dir;
    }

    public DatasetInfo info() {
        return info;
    }

    public SampleSchema schema() {
        return schema;
    }

    /** The training split's id counts. */
    public FrequencyCounts counts() {
        return counts;
    }

    /** The training counts of one vocabulary, indexed by id. */
    public int[] counts(String vocab) {
        return counts.counts(vocab);
    }

    /** One split, read and validated on first call; its row count must match dataset.json. */
    public synchronized SampleFile split(Split s) {
        SampleFile f = loaded.get(s);
        if (f == null) {
            Path file = dir.resolve(s.fileName());
            f = SampleFile.read(file, schema);
            long expected = info.rows(s);
            if (f.rows() != expected) {
                throw DataFormatException.atFile(file.toString(), expected + " rows (dataset.json rows." + s.key() + ")",
                        f.rows() + " rows", null);
            }
            loaded.put(s, f);
        }
        return f;
    }

    public SampleFile train() {
        return split(Split.TRAIN);
    }

    public SampleFile valid() {
        return split(Split.VALID);
    }

    public SampleFile test() {
        return split(Split.TEST);
    }
}
