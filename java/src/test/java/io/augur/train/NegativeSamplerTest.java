package io.augur.train;

import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.SyntheticWorld;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DIEN's auxiliary-loss negatives: from the dataset's columns, or sampled uniformly or by popularity. */
class NegativeSamplerTest {
    @TempDir
    static Path tmp;
    static Dataset withColumns, withoutColumns;

    @BeforeAll
    static void worlds() throws IOException {
        WorldConfig.Builder b = WorldConfig.builder().users(200).items(150).categories(8).meanHistory(10).maxBehaviours(40).historyLength(12);
        SyntheticWorld.generate(b.build(), tmp.resolve("with"));
        SyntheticWorld.generate(b.negHistory(false).build(), tmp.resolve("without"));
        withColumns = Dataset.open(tmp.resolve("with"));
        withoutColumns = Dataset.open(tmp.resolve("without"));
    }

    static NegativeSampler sampler(Dataset ds, TrainConfig.AuxNegatives mode, long seed) {
        return NegativeSampler.create(mode, ds.train(), ds.info().vocabSize("item"), ds.counts("item"), 64, seed);
    }

    static Batch firstBatch(Dataset ds) {
        try (BatchReader r = ds.train().batches(64, true, 3L, 1)) {
            return r.next();
        }
    }

    @Test
    void autoTakesTheColumnsWhenPresentAndUsesOnlyTheLossPositions() {
        NegativeSampler s = sampler(withColumns, TrainConfig.AuxNegatives.AUTO, 1);
        assertTrue(s.fromColumns());
        Batch b = firstBatch(withColumns);
        s.fill(b);
        int T = b.T, used = 0;
        for (int r = 0; r < b.size; r++) {
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                if (t >= 1 && t < b.lengths[r]) {
                    assertEquals(b.negItems[i], s.negItems[i], "row " + r + " t " + t);
                    assertEquals(b.negCates[i], s.negCates[i]);
                    used++;
                } else {
                    assertEquals(0, s.negItems[i], "position " + t + " of row " + r + " (length " + b.lengths[r] + ") is unused: id 0");
                    assertEquals(0, s.negCates[i]);
                }
            }
        }
        assertTrue(used > 100, "the batch should use many positions, used " + used);
    }

    @Test
    void uniformNeverReturnsTheClickedItemAndKeepsCategories() {
        NegativeSampler s = sampler(withoutColumns, TrainConfig.AuxNegatives.AUTO, 5);
        assertFalse(s.fromColumns(), "no neg columns: AUTO samples");
        SampleFile train = withoutColumns.train();
        int[] cate = NegativeSampler.itemCategories(train, withoutColumns.info().vocabSize("item"));
        int[] seen = new int[cate.length];
        try (BatchReader r = train.batches(64, true, 3L, 1)) {
            Batch b;
            while ((b = r.next()) != null) {
                s.fill(b);
                for (int row = 0; row < b.size; row++) {
                    for (int t = 1; t < b.lengths[row]; t++) {
                        int i = row * b.T + t, item = s.negItems[i];
                        assertNotEquals(b.histItems[i], item, "a negative equal to the clicked item");
                        assertTrue(item > 0 && cate[item] > 0, "item " + item + " never seen in training");
                        assertEquals(cate[item], s.negCates[i], "category of item " + item);
                        seen[item]++;
                    }
                    assertEquals(0, s.negItems[row * b.T]);
                }
            }
        }
        int distinct = 0;
        for (int k = 1; k < seen.length; k++) if (seen[k] > 0) distinct++;
        int candidates = 0;
        for (int k = 1; k < cate.length; k++) if (cate[k] > 0) candidates++;
        assertEquals(candidates, distinct, "a uniform draw over a whole epoch reaches every training item");
    }

    @Test
    void sameSeedSameDraws() {
        Batch b = firstBatch(withoutColumns);
        NegativeSampler a = sampler(withoutColumns, TrainConfig.AuxNegatives.UNIFORM, 9), c = sampler(withoutColumns, TrainConfig.AuxNegatives.UNIFORM, 9);
        NegativeSampler other = sampler(withoutColumns, TrainConfig.AuxNegatives.UNIFORM, 10);
        a.fill(b);
        c.fill(b);
        other.fill(b);
        assertArrayEquals(a.negItems, c.negItems);
        assertFalse(Arrays.equals(a.negItems, other.negItems), "another seed draws other negatives");
        // UNIFORM ignores the columns even where the dataset has them
        assertFalse(sampler(withColumns, TrainConfig.AuxNegatives.UNIFORM, 1).fromColumns());
    }

    /** By popularity, an item is drawn in proportion to its training count: compare the most and least frequent halves. */
    @Test
    void popularityFollowsTheCounts() {
        int[] counts = withoutColumns.counts("item");
        NegativeSampler s = sampler(withoutColumns, TrainConfig.AuxNegatives.POPULARITY, 11);
        NegativeSampler u = sampler(withoutColumns, TrainConfig.AuxNegatives.UNIFORM, 11);
        long[] pop = new long[counts.length], uni = new long[counts.length];
        Batch b = firstBatch(withoutColumns);
        for (int rep = 0; rep < 200; rep++) {
            s.fill(b);
            u.fill(b);
            for (int i = 0; i < b.size * b.T; i++) {
                pop[s.negItems[i]]++;
                uni[u.negItems[i]]++;
            }
        }
        pop[0] = uni[0] = 0;
        double corrPop = correlation(counts, pop), corrUni = correlation(counts, uni);
        assertTrue(corrPop > 0.9, "popularity draws should follow the counts, correlation " + corrPop);
        assertTrue(corrUni < 0.5, "uniform draws should not, correlation " + corrUni);
    }

    @Test
    void aliasTableIsExact() {
        double[] w = {1, 0, 3, 6};
        double[] prob = new double[4];
        int[] alias = new int[4];
        NegativeSampler.buildAlias(w, prob, alias);
        double[] p = new double[4];
        for (int k = 0; k < 4; k++) {
            p[k] += prob[k] / 4;
            p[alias[k]] += (1 - prob[k]) / 4;
        }
        assertArrayEquals(new double[] {0.1, 0, 0.3, 0.6}, p, 1e-12);
    }

    static double correlation(int[] a, long[] b) {
        int n = a.length;
        double ma = 0, mb = 0;
        for (int k = 1; k < n; k++) {
            ma += a[k];
            mb += b[k];
        }
        ma /= n - 1;
        mb /= n - 1;
        double sab = 0, saa = 0, sbb = 0;
        for (int k = 1; k < n; k++) {
            sab += (a[k] - ma) * (b[k] - mb);
            saa += (a[k] - ma) * (a[k] - ma);
            sbb += (b[k] - mb) * (b[k] - mb);
        }
        return sab / Math.sqrt(saa * sbb);
    }
}
