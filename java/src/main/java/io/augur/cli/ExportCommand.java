package io.augur.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.augur.data.Dataset;
import io.augur.data.NpyWriter;
import io.augur.data.SampleFile;
import io.augur.data.SampleSchema;
import io.augur.data.Split;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code augur export}: writes a dataset's columns as NumPy arrays, so tools without an Arrow
 * reader (the PyTorch reference, {@code scripts/torch_ref.py}) train on exactly the same rows.
 * <pre>
 *   OUT/meta.json                 T, vocabularies, profile fields, rows per split, the layout below
 *   OUT/SPLIT/label.npy           int8  (N)
 *   OUT/SPLIT/user_id.npy, ...    int32 (N)    one file per profile field, then item_id, cate_id
 *   OUT/SPLIT/hist_len.npy        int32 (N)    behaviours per row, 0..T
 *   OUT/SPLIT/hist_item_ids.npy   int32 (sum of hist_len)   ragged: row r's values start at
 *   OUT/SPLIT/hist_cate_ids.npy   ...                       sum(hist_len[:r]); the same for the
 *   OUT/SPLIT/neg_hist_*.npy      (when the dataset has them) neg_hist columns
 *   OUT/counts/VOCAB.npy          int32 (vocab size)   each id's count in the training split (MBAR)
 * </pre>
 * Rows keep the file's order; ids are unchanged (0 = padding).
 */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Write a dataset's columns as NumPy .npy files (for tools without an Arrow reader, such as scripts/torch_ref.py)."})
public final class ExportCommand implements Callable<Integer> {
    private static final Logger LOG = LogManager.getLogger(ExportCommand.class);
    static final String LAYOUT = "ragged";

    @Option(names = "--data", required = true, description = "dataset folder")
    Path data;

    @Option(names = "--out", required = true, description = "folder to write")
    Path out;

    @Option(names = "--format", defaultValue = "npy", description = "output format; only npy (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--splits", defaultValue = "train,valid,test", split = ",", description = "splits to write (default: ${DEFAULT-VALUE})")
    List<String> splits;

    @Override
    public Integer call() throws IOException {
        if (!format.equalsIgnoreCase("npy")) throw new IllegalArgumentException("unknown format '" + format + "' (expected npy)");
        long t0 = System.nanoTime();
        Dataset ds = Dataset.open(data);
        SampleSchema schema = ds.schema();
        Files.createDirectories(out);
        Map<String, Object> rows = new LinkedHashMap<>();
        for (String name : splits) {
            Split split = parseSplit(name);
            SampleFile f = ds.split(split);
            String dirName = split.key();
            writeSplit(f, out.resolve(dirName));
            rows.put(dirName, f.rows());
        }
        Path countsDir = out.resolve("counts");
        Files.createDirectories(countsDir);
        for (String vocab : ds.counts().vocabularies()) {
            int[] c = ds.counts(vocab);
            NpyWriter.writeInt32(countsDir.resolve(vocab + ".npy"), c, c.length);
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("format", "augur-npy");
        meta.put("version", 1);
        meta.put("source", data.toAbsolutePath().normalize().toString());
        meta.put("T", schema.historyLength());
        meta.put("vocab", schema.vocabularies());
        meta.put("profile_fields", schema.profileFieldNames());
        meta.put("has_neg_hist", schema.hasNegHist());
        meta.put("rows", rows);
        meta.put("history_layout", LAYOUT + ": the list columns hold each row's behaviours back to back (oldest first);"
                + " row r starts at sum(hist_len[:r]) and has hist_len[r] values");
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("meta.json").toFile(), meta);
        System.out.printf(Locale.ROOT, "exported %s -> %s (npy): %s rows, %.1f s%n", data, out, rows, (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    private static Split parseSplit(String s) {
        for (Split sp : Split.values()) if (sp.name().equalsIgnoreCase(s.trim())) return sp;
        throw new IllegalArgumentException("unknown split '" + s + "' (expected train, valid or test)");
    }

    static void writeSplit(SampleFile f, Path dir) throws IOException {
        Files.createDirectories(dir);
        SampleSchema schema = f.schema();
        int n = f.rows();
        byte[] labels = new byte[n];
        for (int r = 0; r < n; r++) labels[r] = (byte) f.label(r);
        NpyWriter.writeInt8(dir.resolve(SampleSchema.LABEL + ".npy"), labels, n);
        List<String> profile = schema.profileFieldNames();
        for (int k = 0; k < profile.size(); k++) {
            int[] col = new int[n];
            for (int r = 0; r < n; r++) col[r] = f.profile(k, r);
            NpyWriter.writeInt32(dir.resolve(profile.get(k) + ".npy"), col, n);
        }
        int[] items = new int[n], cates = new int[n], lens = new int[n];
        for (int r = 0; r < n; r++) {
            items[r] = f.itemId(r);
            cates[r] = f.cateId(r);
            lens[r] = f.historyLength(r);
        }
        NpyWriter.writeInt32(dir.resolve(SampleSchema.ITEM_ID + ".npy"), items, n);
        NpyWriter.writeInt32(dir.resolve(SampleSchema.CATE_ID + ".npy"), cates, n);
        NpyWriter.writeInt32(dir.resolve("hist_len.npy"), lens, n);
        int total = Math.toIntExact(f.historyValues());
        List<String> lists = new ArrayList<>(List.of(SampleSchema.HIST_ITEM_IDS, SampleSchema.HIST_CATE_IDS));
        if (schema.hasNegHist()) lists.addAll(List.of(SampleSchema.NEG_HIST_ITEM_IDS, SampleSchema.NEG_HIST_CATE_IDS));
        for (String col : lists) {
            int[] v = new int[total];
            int o = 0;
            for (int r = 0; r < n; r++) {
                for (int t = 0; t < lens[r]; t++) {
                    v[o++] = switch (col) {
                        case SampleSchema.HIST_ITEM_IDS -> f.histItem(r, t);
                        case SampleSchema.HIST_CATE_IDS -> f.histCate(r, t);
                        case SampleSchema.NEG_HIST_ITEM_IDS -> f.negItem(r, t);
                        default -> f.negCate(r, t);
                    };
                }
            }
            NpyWriter.writeInt32(dir.resolve(col + ".npy"), v, total);
        }
        LOG.info("{}: {} rows, {} behaviours -> {}", f.path(), n, total, dir);
    }
}
