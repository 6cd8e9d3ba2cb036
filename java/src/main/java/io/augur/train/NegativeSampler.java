package io.augur.train;

import io.augur.config.TrainConfig;
import io.augur.data.Batch;
import io.augur.data.SampleFile;
import io.augur.data.SampleSchema;

import java.util.SplittableRandom;

/**
 * The non-clicked behaviours ê_t of DIEN's auxiliary loss, one per history position, for the
 * positions the loss uses (1 &lt;= t &lt; len; every other position gets id 0, the padding row, so
 * no embedding row is touched for nothing).
 *
 * <p>Sources ({@link TrainConfig.AuxNegatives}): the dataset's {@code neg_hist_*} columns, or a
 * seeded sampler over the items seen in the training split — uniform, or by their training-split
 * frequency (Vose's alias method, O(1) per draw). A sampled negative is never the item clicked at
 * that position (it is drawn again), and its category is the one the training split gives it.
 * The draws follow one seeded stream in step order, so a rerun with the same seed is identical.
 */
public final class NegativeSampler {
    private final boolean fromColumns;
    private final int T;
    private final int[] itemCate;      // item -> category (0 for items never seen in training)
    private final int[] candidates;    // items that may be drawn
    private final double[] aliasProb;  // popularity only: alias table over candidates
    private final int[] alias;
    private final SplittableRandom rng;
    /** (maxB * T) the negatives of the last {@link #fill}, laid out as the batch's history. */
    public final int[] negItems, negCates;

    private NegativeSampler(boolean fromColumns, int maxB, int T, int[] itemCate, int[] candidates, double[] aliasProb, int[] alias, long seed) {
        this.fromColumns = fromColumns;
        this.T = T;
        this.itemCate = itemCate;
        this.candidates = candidates;
        this.aliasProb = aliasProb;
        this.alias = alias;
        this.rng = new SplittableRandom(seed ^ 0x6e65675f73616d70L);
        negItems = new int[maxB * T];
        negCates = new int[maxB * T];
    }

    /** Whether the negatives come from the dataset's neg_hist columns (mode auto on a dataset that has them) rather than a sampler. */
    public static boolean readsColumns(TrainConfig.AuxNegatives mode, SampleSchema schema) {
        return mode == TrainConfig.AuxNegatives.AUTO && schema.hasNegHist();
    }

    /**
     * A sampler for batches of up to maxB rows of the training split.
     *
     * @param itemCounts the training split's item frequencies (indexed by item id), for POPULARITY
     */
    public static NegativeSampler create(TrainConfig.AuxNegatives mode, SampleFile train, int itemVocab, int[] itemCounts, int maxB, long seed) {
        int T = train.schema().historyLength();
        if (readsColumns(mode, train.schema())) {
            return new NegativeSampler(true, maxB, T, null, null, null, null, seed);
        }
        int[] itemCate = itemCategories(train, itemVocab);
        int n = 0;
        for (int i = 1; i < itemVocab; i++) if (itemCate[i] != 0) n++;
        int[] candidates = new int[n];
        n = 0;
        for (int i = 1; i < itemVocab; i++) if (itemCate[i] != 0) candidates[n++] = i;
        if (candidates.length < 2) {
            throw new IllegalArgumentException(train.path() + ": the training split has " + candidates.length
                    + " distinct item(s); sampling a negative different from the clicked item needs at least 2");
        }
        double[] prob = null;
        int[] alias = null;
        if (mode == TrainConfig.AuxNegatives.POPULARITY) {
            double[] w = new double[n];
            for (int k = 0; k < n; k++) w[k] = itemCounts[candidates[k]];
            prob = new double[n];
            alias = new int[n];
            buildAlias(w, prob, alias);
        }
        return new NegativeSampler(false, maxB, T, itemCate, candidates, prob, alias, seed);
    }

    /** Whether the negatives come from the dataset's columns rather than the sampler. */
    public boolean fromColumns() { return fromColumns; }

    /** Fills {@link #negItems} / {@link #negCates} for the first {@code b.size} rows of a training batch. */
    public void fill(Batch b) {
        if (fromColumns && !b.hasNegHistory()) throw new IllegalStateException("the batch has no neg_hist columns");
        for (int r = 0; r < b.size; r++) {
            int len = b.lengths[r], o = r * T;
            negItems[o] = 0;
            negCates[o] = 0;
            for (int t = 1; t < T; t++) {
                int i = o + t;
                if (t >= len) {
                    negItems[i] = 0;
                    negCates[i] = 0;
                } else if (fromColumns) {
                    negItems[i] = b.negItems[i];
                    negCates[i] = b.negCates[i];
                } else {
                    int clicked = b.histItems[i], item;
                    do {
                        item = draw();
                    } while (item == clicked);
                    negItems[i] = item;
                    negCates[i] = itemCate[item];
                }
            }
        }
    }

    private int draw() {
        int k = rng.nextInt(candidates.length);
        if (aliasProb != null && rng.nextDouble() >= aliasProb[k]) k = alias[k];
        return candidates[k];
    }

    /** item id -> its category in the training split (targets and histories); 0 when never seen. */
    static int[] itemCategories(SampleFile train, int itemVocab) {
        int[] cate = new int[itemVocab];
        for (int row = 0; row < train.rows(); row++) {
            cate[train.itemId(row)] = train.cateId(row);
            int len = train.historyLength(row);
            for (int t = 0; t < len; t++) cate[train.histItem(row, t)] = train.histCate(row, t);
        }
        cate[0] = 0;
        return cate;
    }

    /** Vose's alias method: draw k uniformly, keep it with probability prob[k], else take alias[k]. */
    static void buildAlias(double[] w, double[] prob, int[] alias) {
        int n = w.length;
        double sum = 0;
        for (double x : w) sum += x;
        if (!(sum > 0)) {   // no frequencies: uniform
            java.util.Arrays.fill(prob, 1.0);
            for (int k = 0; k < n; k++) alias[k] = k;
            return;
        }
        double[] scaled = new double[n];
        int[] small = new int[n], large = new int[n];
        int ns = 0, nl = 0;
        for (int k = 0; k < n; k++) {
            scaled[k] = w[k] * n / sum;
            if (scaled[k] < 1.0) small[ns++] = k;
            else large[nl++] = k;
        }
        while (ns > 0 && nl > 0) {
            int s = small[--ns], l = large[--nl];
            prob[s] = scaled[s];
            alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1.0;
            if (scaled[l] < 1.0) small[ns++] = l;
            else large[nl++] = l;
        }
        while (nl > 0) {
            int l = large[--nl];
            prob[l] = 1.0;
            alias[l] = l;
        }
        while (ns > 0) {   // only rounding leaves these
            int s = small[--ns];
            prob[s] = 1.0;
            alias[s] = s;
        }
    }
}
