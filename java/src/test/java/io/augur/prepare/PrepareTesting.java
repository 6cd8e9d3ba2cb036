package io.augur.prepare;

import io.augur.cli.CliTest;
import io.augur.cli.CliTest.Result;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.Split;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shared by the converter tests: where the fixtures and the real samples are, a readable view of
 * a prepared split (raw ids back through the vocabulary files), and the command line (prepare,
 * then one tiny epoch of training) for the round trips.
 */
final class PrepareTesting {

    /** A tiny model: one epoch on a few hundred rows takes about a second. */
    static final String[] TINY_MODEL = {"--emb-dim", "4", "--att-hidden", "8,4", "--mlp-hidden", "8,4", "--epochs", "1",
            "--batch-size", "16"};
    /** And the recurrent part of a tiny DIEN. */
    static final String[] TINY_GRU = {"--gru-hidden", "4", "--aux-hidden", "4,2"};

    /** How a row shows id 0 (padding, or an id unknown to the vocabulary). */
    static final String PAD = "<0>";

    private PrepareTesting() {
    }

    /** A fixture under src/test/resources/prepare/. */
    static Path fixture(String relative) {
        try {
            Path root = Path.of(PrepareTesting.class.getResource("/prepare").toURI());
            Path p = root.resolve(relative);
            assertTrue(Files.exists(p), "missing fixture " + p);
            return p;
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * A real sample: the copy of {@code ../shared/data/<relative>} kept in the test resources
     * ({@code shared-data/}, with its sources and licenses), so that a clone without the shared
     * folder still runs these tests. {@link SharedDataCopyTest} checks the copy against the shared
     * folder wherever that is present.
     */
    static Path sharedData(String relative) {
        try {
            Path p = Path.of(PrepareTesting.class.getResource("/shared-data").toURI()).resolve(relative);
            assertTrue(Files.exists(p), "missing real sample " + p);
            return p;
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One row of a prepared split, ids translated back to the raw ids of the input. */
    record Row(int label, String user, String item, String cate, List<String> histItems, List<String> histCates) {
        @Override
        public String toString() {
            return label + " " + user + " " + item + "/" + cate + " <- " + histItems + "/" + histCates;
        }
    }

    /** The raw id of each dense id of one vocabulary (vocab/NAME.tsv; index 0 = padding/unknown, shown as {@link #PAD}). */
    static Map<Integer, String> vocab(Path dir, String name) {
        Map<Integer, String> m = new HashMap<>();
        m.put(0, PAD);
        try {
            for (String line : Files.readAllLines(dir.resolve("vocab").resolve(name + ".tsv"), StandardCharsets.UTF_8)) {
                int tab = line.indexOf('\t');
                m.put(Integer.parseInt(line.substring(0, tab)), line.substring(tab + 1));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return m;
    }

    /** Every row of one split, in file order. */
    static List<Row> rows(Path dir, Split split) {
        Map<Integer, String> users = vocab(dir, "user");
        Map<Integer, String> items = vocab(dir, "item");
        Map<Integer, String> cates = vocab(dir, "cate");
        Dataset ds = Dataset.open(dir);
        SampleFile f = ds.split(split);
        List<Row> out = new ArrayList<>();
        for (int r = 0; r < f.rows(); r++) {
            List<String> hi = new ArrayList<>();
            List<String> hc = new ArrayList<>();
            for (int t = 0; t < f.historyLength(r); t++) {
                hi.add(items.get(f.histItem(r, t)));
                hc.add(cates.get(f.histCate(r, t)));
            }
            out.add(new Row(f.label(r), users.get(f.userId(r)), items.get(f.itemId(r)), cates.get(f.cateId(r)), hi, hc));
        }
        return out;
    }

    static List<Row> rowsOf(List<Row> rows, String user) {
        return rows.stream().filter(r -> r.user().equals(user)).toList();
    }

    /** Runs one {@code augur} command line as {@link io.augur.cli.Augur#main} configures it, capturing what it prints. */
    static Result cli(String... args) {
        return CliTest.run(args);
    }

    /**
     * The round trip: {@code augur prepare} with the given arguments into {@code tmp/data}, then
     * {@code augur train} for one epoch of a tiny {@code model} on it; asserts both succeed and
     * that training printed a test AUC.
     */
    static Result prepareAndTrain(Path tmp, String model, String... prepareArgs) {
        Path data = tmp.resolve("data");
        List<String> p = new ArrayList<>(List.of("prepare"));
        p.addAll(List.of(prepareArgs));
        p.addAll(List.of("--out", data.toString()));
        Result prep = cli(p.toArray(String[]::new));
        assertEquals(0, prep.code(), prep.toString());
        assertTrue(prep.out().startsWith("prepare "), "prepare printed no report:\n" + prep);
        List<String> t = new ArrayList<>(List.of("train", "--data", data.toString(), "--out", tmp.resolve("run").toString(),
                "--model", model, "--device", "cpu"));
        t.addAll(List.of(TINY_MODEL));
        if (model.equals("dien")) {
            t.addAll(List.of(TINY_GRU));
        }
        Result train = cli(t.toArray(String[]::new));
        assertEquals(0, train.code(), train.toString());
        assertTrue(train.out().lines().anyMatch(l -> l.startsWith(model + " ") && l.contains("test AUC")),
                "training printed no test AUC:\n" + train);
        return prep;
    }
}
