package io.augur.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.augur.config.WorldConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The synthetic world: determinism, the DIN protocol, and the statistics that make it hard. */
class SyntheticWorldTest {

    @TempDir
    Path tmp;

    /** Small enough for a unit test, big enough for the statistics below. */
    private static WorldConfig small(long seed) {
        return WorldConfig.builder().seed(seed).users(400).items(600).categories(15).meanHistory(14)
                .maxBehaviours(80).historyLength(20).build();
    }

    private static List<Path> filesOf(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).map(dir::relativize).sorted().toList();
        }
    }

    @Test
    void sameSeedGivesByteIdenticalFiles() throws IOException {
        SyntheticWorld.generate(small(3), tmp.resolve("a"));
        SyntheticWorld.generate(small(3), tmp.resolve("b"));
        SyntheticWorld.generate(small(4), tmp.resolve("c"));
        List<Path> files = filesOf(tmp.resolve("a"));
        assertEquals(List.of(Path.of("counts/cate.arrow"), Path.of("counts/item.arrow"), Path.of("counts/user.arrow"),
                Path.of("dataset.json"), Path.of("test.arrow"), Path.of("train.arrow"), Path.of("valid.arrow")), files);
        assertEquals(files, filesOf(tmp.resolve("b")));
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(tmp.resolve("a").resolve(f)), Files.readAllBytes(tmp.resolve("b").resolve(f)),
                    f + " differs between two runs with the same seed");
        }
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(tmp.resolve("a/train.arrow")),
                Files.readAllBytes(tmp.resolve("c/train.arrow"))), "another seed, other data");
    }

    @Test
    void protocolAndBasicStatistics() throws IOException {
        WorldConfig cfg = small(11);
        SyntheticWorld.Report report = SyntheticWorld.generate(cfg, tmp.resolve("w"));
        Dataset ds = Dataset.open(tmp.resolve("w"));
        DatasetInfo info = ds.info();
        int U = cfg.users();

        assertEquals(U + 1, info.vocabSize("user"));
        assertEquals(cfg.items() + 1, info.vocabSize("item"));
        assertEquals(cfg.categories() + 1, info.vocabSize("cate"));
        assertEquals(cfg.historyLength(), info.historyLength());
        assertTrue(info.hasNegHist());
        assertEquals(List.of("user_id"), info.profileFields().stream().map(FieldSpec::name).toList());
        assertEquals(cfg.seed(), info.madeBy().get("seed").asLong());
        assertEquals(cfg.users(), info.madeBy().get("config").get("users").asInt());

        // valid and test: one positive then one negative per user, users in order
        for (SampleFile f : List.of(ds.valid(), ds.test())) {
            assertEquals(2 * U, f.rows());
            for (int u = 1; u <= U; u++) {
                int r = 2 * (u - 1);
                assertEquals(u, f.userId(r));
                assertEquals(u, f.userId(r + 1));
                assertEquals(1, f.label(r));
                assertEquals(0, f.label(r + 1));
            }
        }
        // train: 2 rows for each behaviour k >= 2 except the last two of every user
        SampleFile train = ds.train();
        assertEquals(2 * (report.behaviours() - 3L * U), train.rows());
        double meanBehaviours = report.behaviours() / (double) U;
        assertEquals(cfg.meanHistory(), meanBehaviours, 0.1 * cfg.meanHistory(), "mean behaviours per user");
        int positives = 0;
        for (int r = 0; r < train.rows(); r++) {
            positives += train.label(r);
        }
        assertEquals(train.rows() / 2, positives, "labels are exactly balanced");

        int[] cateOf = new int[cfg.items() + 1];
        for (SampleFile f : List.of(train, ds.valid(), ds.test())) {
            for (int r = 0; r < f.rows(); r += 2) {
                // positive and negative share user and history; the negative is not clicked so far
                int len = f.historyLength(r);
                assertTrue(len >= 1 && len <= cfg.historyLength());
                assertEquals(len, f.historyLength(r + 1));
                assertEquals(f.userId(r), f.userId(r + 1));
                Set<Integer> seen = new HashSet<>();
                for (int t = 0; t < len; t++) {
                    assertEquals(f.histItem(r, t), f.histItem(r + 1, t));
                    seen.add(f.histItem(r, t));
                    assertTrue(f.negItem(r, t) >= 1 && f.histItem(r, t) >= 1);
                }
                int neg = f.itemId(r + 1);
                assertFalse(seen.contains(neg), "negative clicked before, row " + (r + 1));
                assertTrue(neg != f.itemId(r), "negative equals the positive, row " + (r + 1));
                for (int t = 0; t < len; t++) {
                    assertFalse(seen.contains(f.negItem(r, t)), "neg history item was clicked, row " + r);
                }
                // an item always has the same category
                for (int[] pair : new int[][] {{f.itemId(r), f.cateId(r)}, {neg, f.cateId(r + 1)},
                        {f.histItem(r, 0), f.histCate(r, 0)}, {f.negItem(r, 0), f.negCate(r, 0)}}) {
                    if (cateOf[pair[0]] == 0) {
                        cateOf[pair[0]] = pair[1];
                    }
                    assertEquals(cateOf[pair[0]], pair[1], "item " + pair[0] + " has two categories");
                }
            }
        }
        // consecutive positives of a user: the history moves by one behaviour, the last target
        for (int r = 0; r + 2 < train.rows(); r += 2) {
            if (train.userId(r) != train.userId(r + 2)) {
                continue;
            }
            int len = train.historyLength(r);
            int next = train.historyLength(r + 2);
            assertEquals(Math.min(len + 1, cfg.historyLength()), next);
            assertEquals(train.itemId(r), train.histItem(r + 2, next - 1), "row " + (r + 2));
            assertEquals(train.histItem(r, len - 1), train.histItem(r + 2, next - 2));
        }
        assertEquals(report.negSameCategory() + report.negOtherInterest() + report.negUniform() + report.negFallback(),
                train.rows() / 2 + 2L * U);
    }

    @Test
    void negativesAreHardInTheWaysThatNeedAttentionAndEvolution() throws IOException {
        SyntheticWorld.generate(small(5), tmp.resolve("w"));
        SampleFile train = Dataset.open(tmp.resolve("w")).train();
        int pairs = train.rows() / 2;
        int posCateInHist = 0;
        int negCateInHist = 0;
        int posSameAsLast = 0;
        int negSameAsLast = 0;
        int negSameCateAsPos = 0;
        for (int r = 0; r < train.rows(); r += 2) {
            int len = train.historyLength(r);
            int last = train.histCate(r, len - 1);
            posCateInHist += inHistory(train, r, train.cateId(r)) ? 1 : 0;
            negCateInHist += inHistory(train, r, train.cateId(r + 1)) ? 1 : 0;
            posSameAsLast += train.cateId(r) == last ? 1 : 0;
            negSameAsLast += train.cateId(r + 1) == last ? 1 : 0;
            negSameCateAsPos += train.cateId(r) == train.cateId(r + 1) ? 1 : 0;
        }
        // Many negatives carry a category the user has shown (same-category and other-interest
        // negatives): pooled categories alone cannot reject them.
        assertTrue(negCateInHist > 0.4 * pairs, "negatives with a history category: " + negCateInHist + " of " + pairs);
        assertTrue(posCateInHist > 0.75 * pairs, "positives with a history category: " + posCateInHist + " of " + pairs);
        // About hardNegativeSameCategory of the negatives share the positive's category.
        assertEquals(0.3, negSameCateAsPos / (double) pairs, 0.05);
        // Recency separates: the positive continues the latest interest far more often than the negative.
        assertTrue(posSameAsLast > 0.65 * pairs, "positives in the last category: " + posSameAsLast + " of " + pairs);
        assertTrue(posSameAsLast > negSameAsLast + 0.3 * pairs,
                "positives " + posSameAsLast + " vs negatives " + negSameAsLast + " in the last category");
    }

    private static boolean inHistory(SampleFile f, int r, int cate) {
        for (int t = 0; t < f.historyLength(r); t++) {
            if (f.histCate(r, t) == cate) {
                return true;
            }
        }
        return false;
    }

    @Test
    void worldWithoutNegHistory() throws IOException {
        WorldConfig cfg = small(2).toBuilder().negHistory(false).users(50).build();
        SyntheticWorld.generate(cfg, tmp.resolve("w"));
        Dataset ds = Dataset.open(tmp.resolve("w"));
        assertFalse(ds.info().hasNegHist());
        try (BatchReader r = ds.train().batches(32, true, 1, 0)) {
            Batch b = r.next();
            assertEquals(32, b.size);
            assertEquals(null, b.negItems);
            assertEquals(1, b.numProfileFields());
        }
    }

    @Test
    void configChecksItsFields() {
        assertThrows(IllegalArgumentException.class, () -> WorldConfig.builder().minBehaviours(3).build());
        assertThrows(IllegalArgumentException.class, () -> WorldConfig.builder().items(100).categories(60).build());
        assertThrows(IllegalArgumentException.class,
                () -> WorldConfig.builder().hardNegativeSameCategory(0.6).hardNegativeOtherInterest(0.6).build());
        assertThrows(IllegalArgumentException.class, () -> WorldConfig.builder().drift(1.5).build());
        WorldConfig d = WorldConfig.defaults();
        assertEquals(4_000, d.users());
        assertEquals(50, d.historyLength());
        assertEquals(d, d.toBuilder().build());
    }
}
