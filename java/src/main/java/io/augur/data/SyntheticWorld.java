package io.augur.data;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.augur.config.WorldConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A synthetic world of users with drifting interests, written as a dataset folder (the DIN
 * protocol). It is built so that the models' ideas pay off: a model that only pools the history
 * loses to one that attends to the behaviours that match the candidate (DIN), which loses to one
 * that follows how the active interest moves (DIEN).
 *
 * <h2>The world</h2>
 * <ul>
 *   <li><b>Catalog.</b> C categories of varying size (log-normal weights above a floor of S items);
 *       each item has one of S latent styles (S per category, balanced) and a Zipf popularity
 *       within its category. Item ids are shuffled over the catalog, so an id says nothing.</li>
 *   <li><b>Users.</b> Each holds K ∈ [kMin, kMax] interests, each a distinct category (picked in
 *       proportion to category size) with a preferred style, in a user-specific cyclic order. One
 *       interest is active; before each behaviour after the first it moves on with probability
 *       {@code drift}, to the next interest in the order, or (probability {@code driftJump}) to a
 *       random other one. So the order of recent behaviours predicts the next active interest.</li>
 *   <li><b>Behaviours.</b> n per user (shifted geometric, mean {@code meanHistory}, in
 *       [minBehaviours, maxBehaviours]); each is, with probability {@code noise}, a uniform catalog
 *       item, else an item of the active interest's category drawn by popularity: of the preferred
 *       style with probability {@code styleFidelity}, of any style otherwise.</li>
 * </ul>
 *
 * <h2>Samples</h2>
 * For each behaviour b_k with k ≥ 2: a positive (label 1, target b_k) and a negative (label 0),
 * both with the history b_1..b_{k−1} (the last T, oldest first). The negative is an item the user
 * has not clicked up to and including step k:
 * <ul>
 *   <li>with probability {@code hardNegativeSameCategory}: an item of the positive's category but
 *       another style, by popularity. Category features cannot tell it from the positive; the
 *       user's style within that category, visible only in the matching history items, can — the
 *       case for attention;</li>
 *   <li>with probability {@code hardNegativeOtherInterest}: an item drawn exactly as a behaviour of
 *       one of the user's currently inactive interests. Its category is in the history as often as
 *       the positive's; only which interest is active now — the recent order of behaviours — tells
 *       them apart: the case for interest evolution;</li>
 *   <li>otherwise uniform over the catalog (the easy negatives of the usual protocol).</li>
 * </ul>
 * If 16 draws of the chosen kind all hit clicked items, a uniform unclicked item is taken (counted
 * in {@link Report#negFallback}). The samples of each user's last behaviour go to test, of the
 * second last to valid, the rest to train. With neg columns, each history position carries one
 * uniform item the user never clicked, with its category (DIEN's auxiliary loss).
 *
 * <p>Everything is drawn from one seeded stream in one pass over the users, so the same config
 * gives byte-identical files; memory holds the catalog, one user and the writers' record batches.
 * The only profile field is user_id.
 */
public final class SyntheticWorld {

    private static final Logger LOG = LogManager.getLogger(SyntheticWorld.class);

    /** Bumped whenever the same config would give different data. */
    public static final int WORLD_VERSION = 1;

    private static final int NEGATIVE_ATTEMPTS = 16;

    private SyntheticWorld() {
    }

    /**
     * What was written.
     *
     * @param dir               the dataset folder
     * @param info              its dataset.json
     * @param behaviours        behaviours generated over all users
     * @param meanHistoryLength mean stored history length over the training rows
     * @param negSameCategory   negatives of the same category, another style
     * @param negOtherInterest  negatives from an inactive interest
     * @param negUniform        uniform negatives
     * @param negFallback       negatives that fell back to uniform after repeated clicked draws
     * @param seconds           wall time
     */
    public record Report(Path dir, DatasetInfo info, long behaviours, double meanHistoryLength,
                         long negSameCategory, long negOtherInterest, long negUniform, long negFallback,
                         double seconds) {

        /** One line for logs. */
        public String summary() {
            long users = info.vocabSize(SampleSchema.VOCAB_USER) - 1L;
            return String.format(java.util.Locale.ROOT,
                    "synthetic world -> %s: %d users, %d items, %d categories, %d behaviours (%.1f per user); "
                            + "rows train %d / valid %d / test %d; mean history %.1f (T = %d); negatives: "
                            + "same-category %d, other-interest %d, uniform %d, fallback %d; %.1f s",
                    dir, users, info.vocabSize(SampleSchema.VOCAB_ITEM) - 1, info.vocabSize(SampleSchema.VOCAB_CATE) - 1,
                    behaviours, behaviours / (double) users, info.rows(Split.TRAIN), info.rows(Split.VALID),
                    info.rows(Split.TEST), meanHistoryLength, info.historyLength(), negSameCategory, negOtherInterest,
                    negUniform, negFallback, seconds);
        }
    }

    /** Generates the world of {@code cfg} into the dataset folder {@code outDir}. */
    /**
     * The dataset at {@code dir}; when it has no dataset.json yet, the world {@code cfg} is
     * generated there first (the default worlds of {@code augur train} and {@code augur bench}).
     */
    public static Path ensure(Path dir, WorldConfig cfg) throws IOException {
        if (!java.nio.file.Files.exists(dir.resolve(DatasetInfo.FILE_NAME))) {
            org.apache.logging.log4j.LogManager.getLogger(SyntheticWorld.class).info("no dataset at {}: generating the synthetic world there", dir);
            generate(cfg, dir);
        }
        return dir;
    }

    public static Report generate(WorldConfig cfg, Path outDir) throws IOException {
        long t0 = System.nanoTime();
        SplittableRandom rng = new SplittableRandom(cfg.seed());
        Catalog catalog = new Catalog(cfg, rng);
        SampleSchema schema = SampleSchema.of(cfg.historyLength(), cfg.users() + 1, cfg.items() + 1,
                cfg.categories() + 1, cfg.negHistory());
        ObjectNode madeBy = DatasetInfo.JSON.createObjectNode();
        madeBy.put("generator", SyntheticWorld.class.getName());
        madeBy.put("world_version", WORLD_VERSION);
        madeBy.put("seed", cfg.seed());
        madeBy.set("config", DatasetInfo.JSON.valueToTree(cfg));

        Generator g = new Generator(cfg, catalog, rng);
        DatasetInfo info;
        try (DatasetWriter w = DatasetWriter.create(outDir, schema, madeBy)) {
            for (int u = 1; u <= cfg.users(); u++) {
                g.user(u, w);
            }
            info = w.finish();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double meanHist = g.trainRows == 0 ? 0 : g.trainHistory / (double) g.trainRows;
        Report r = new Report(outDir, info, g.behaviours, meanHist, g.negKinds[0], g.negKinds[1], g.negKinds[2],
                g.negKinds[3], seconds);
        LOG.info(r.summary());
        return r;
    }

    // ------------------------------------------------------------------ catalog

    /** Items by (category, style) with popularity weights; ids 1..N, categories 1..C, styles 0..S-1. */
    static final class Catalog {
        final int numItems;
        final int numCategories;
        final int styles;
        final int[] itemCate;    // (N + 1)
        final int[] itemStyle;   // (N + 1)
        final int[] slotItem;    // (N) items ordered by (category, style)
        final double[] cum;      // (N) running sum of popularity over slots
        final int[] segStart;    // (C * S + 1) slots of (c, s): [segStart[(c-1)*S + s], segStart[(c-1)*S + s + 1])
        final double[] catCum;   // (C) running sum of category sizes, for picking interests

        Catalog(WorldConfig cfg, SplittableRandom rng) {
            numItems = cfg.items();
            numCategories = cfg.categories();
            styles = cfg.stylesPerCategory();
            int C = numCategories;
            int S = styles;
            int[] size = categorySizes(cfg, rng);

            itemCate = new int[numItems + 1];
            itemStyle = new int[numItems + 1];
            slotItem = new int[numItems];
            cum = new double[numItems];
            segStart = new int[C * S + 1];
            catCum = new double[C];

            int[] ids = new int[numItems];
            for (int i = 0; i < numItems; i++) {
                ids[i] = i + 1;
            }
            shuffle(ids, ids.length, rng);

            int slot = 0;
            double running = 0;
            for (int c = 0; c < C; c++) {
                int m = size[c];
                int[] rank = new int[m];
                for (int i = 0; i < m; i++) {
                    rank[i] = i;
                }
                shuffle(rank, m, rng);
                int k = 0;
                for (int s = 0; s < S; s++) {
                    segStart[c * S + s] = slot;
                    int inStyle = m / S + (s < m % S ? 1 : 0);
                    for (int i = 0; i < inStyle; i++, k++, slot++) {
                        int item = ids[slot];
                        slotItem[slot] = item;
                        itemCate[item] = c + 1;
                        itemStyle[item] = s;
                        running += StrictMath.pow(rank[k] + 1, -cfg.popularityExponent());
                        cum[slot] = running;
                    }
                }
                catCum[c] = (c == 0 ? 0 : catCum[c - 1]) + m;
            }
            segStart[C * S] = slot;
        }

        /** Category sizes: S items each, the rest split ∝ exp(σ·z) by largest remainders. */
        private static int[] categorySizes(WorldConfig cfg, SplittableRandom rng) {
            int C = cfg.categories();
            int S = cfg.stylesPerCategory();
            long rest = cfg.items() - (long) C * S;
            double[] w = new double[C];
            double total = 0;
            for (int c = 0; c < C; c++) {
                w[c] = StrictMath.exp(cfg.categorySizeSigma() * gaussian(rng));
                total += w[c];
            }
            int[] size = new int[C];
            double[] frac = new double[C];
            long given = 0;
            for (int c = 0; c < C; c++) {
                double share = rest * w[c] / total;
                long base = (long) Math.floor(share);
                size[c] = (int) (S + base);
                frac[c] = share - base;
                given += base;
            }
            Integer[] byFrac = new Integer[C];
            for (int c = 0; c < C; c++) {
                byFrac[c] = c;
            }
            Arrays.sort(byFrac, Comparator.comparingDouble((Integer c) -> -frac[c]).thenComparingInt(c -> c));
            for (int i = 0; i < rest - given; i++) {
                size[byFrac[i % C]]++;
            }
            return size;
        }

        /** An item of category c (1-based) by popularity. */
        int byPopularity(SplittableRandom rng, int c) {
            int base = (c - 1) * styles;
            return sampleSlots(rng, segStart[base], segStart[base + styles]);
        }

        /** An item of category c (1-based) and style s by popularity. */
        int byPopularity(SplittableRandom rng, int c, int s) {
            int seg = (c - 1) * styles + s;
            return sampleSlots(rng, segStart[seg], segStart[seg + 1]);
        }

        int uniform(SplittableRandom rng) {
            return 1 + rng.nextInt(numItems);
        }

        /** A category (1-based) with probability ∝ its size. */
        int categoryBySize(SplittableRandom rng) {
            double u = rng.nextDouble() * catCum[numCategories - 1];
            int lo = 0;
            int hi = numCategories - 1;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (catCum[mid] > u) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return lo + 1;
        }

        /** The item of a slot in [a, b) picked with probability ∝ its popularity. */
        private int sampleSlots(SplittableRandom rng, int a, int b) {
            double lo = a == 0 ? 0 : cum[a - 1];
            double u = lo + rng.nextDouble() * (cum[b - 1] - lo);
            int l = a;
            int h = b - 1;
            while (l < h) {
                int mid = (l + h) >>> 1;
                if (cum[mid] > u) {
                    h = mid;
                } else {
                    l = mid + 1;
                }
            }
            return slotItem[l];
        }
    }

    // ------------------------------------------------------------------ users and samples

    /** Generates one user at a time; holds the per-user scratch arrays. */
    private static final class Generator {
        final WorldConfig cfg;
        final Catalog cat;
        final SplittableRandom rng;
        final int T;
        final int[] owner;      // (N + 1) last user who clicked the item
        final int[] firstPos;   // (N + 1) position of that user's first click on it
        final int[] seqItems;   // (maxBehaviours)
        final int[] seqCates;
        final int[] active;     // (maxBehaviours) active interest at each step
        final int[] negItems;   // (maxBehaviours) or null
        final int[] negCates;
        final int[] interestCate = new int[64];
        final int[] interestStyle = new int[64];
        long behaviours;
        long trainRows;
        long trainHistory;
        final long[] negKinds = new long[4]; // same category, other interest, uniform, fallback

        Generator(WorldConfig cfg, Catalog cat, SplittableRandom rng) {
            this.cfg = cfg;
            this.cat = cat;
            this.rng = rng;
            this.T = cfg.historyLength();
            owner = new int[cfg.items() + 1];
            firstPos = new int[cfg.items() + 1];
            int maxB = cfg.maxBehaviours();
            seqItems = new int[maxB];
            seqCates = new int[maxB];
            active = new int[maxB];
            negItems = cfg.negHistory() ? new int[maxB] : null;
            negCates = cfg.negHistory() ? new int[maxB] : null;
            if (cfg.interestsMax() > interestCate.length) {
                throw new IllegalArgumentException("interestsMax = " + cfg.interestsMax() + " > " + interestCate.length);
            }
        }

        void user(int u, DatasetWriter w) {
            int n = sequenceLength();
            int K = cfg.interestsMin() + rng.nextInt(cfg.interestsMax() - cfg.interestsMin() + 1);
            for (int k = 0; k < K; k++) {
                int c;
                do {
                    c = cat.categoryBySize(rng);
                } while (contains(interestCate, k, c));
                interestCate[k] = c;
                interestStyle[k] = rng.nextInt(cat.styles);
            }
            int act = rng.nextInt(K);
            for (int j = 0; j < n; j++) {
                if (j > 0 && K > 1 && rng.nextDouble() < cfg.drift()) {
                    act = rng.nextDouble() < cfg.driftJump() ? (act + 1 + rng.nextInt(K - 1)) % K : (act + 1) % K;
                }
                active[j] = act;
                int item = rng.nextDouble() < cfg.noise() ? cat.uniform(rng) : interestItem(act);
                seqItems[j] = item;
                seqCates[j] = cat.itemCate[item];
                if (owner[item] != u) {
                    owner[item] = u;
                    firstPos[item] = j;
                }
            }
            behaviours += n;
            if (negItems != null) {
                for (int j = 0; j < n; j++) {
                    int item = unclickedUniform(u, Integer.MAX_VALUE);
                    negItems[j] = item;
                    negCates[j] = cat.itemCate[item];
                }
            }
            for (int j = 1; j < n; j++) {
                Split split = j == n - 1 ? Split.TEST : j == n - 2 ? Split.VALID : Split.TRAIN;
                SampleWriter sw = w.split(split);
                int from = Math.max(0, j - T);
                int len = j - from;
                sw.append(1, u, null, seqItems[j], seqCates[j], seqItems, seqCates, negItems, negCates, from, len);
                int neg = negative(u, j, K);
                sw.append(0, u, null, neg, cat.itemCate[neg], seqItems, seqCates, negItems, negCates, from, len);
                if (split == Split.TRAIN) {
                    trainRows += 2;
                    trainHistory += 2L * len;
                }
            }
        }

        /** Shifted geometric with mean meanHistory, capped. */
        int sequenceLength() {
            double extraMean = cfg.meanHistory() - cfg.minBehaviours();
            int extra = 0;
            if (extraMean > 0) {
                double p = 1 / (extraMean + 1);
                double g = Math.floor(StrictMath.log(1 - rng.nextDouble()) / StrictMath.log(1 - p));
                extra = (int) Math.min(g, cfg.maxBehaviours());
            }
            return Math.min(cfg.minBehaviours() + extra, cfg.maxBehaviours());
        }

        /** A behaviour of interest k without noise: preferred style with probability styleFidelity. */
        int interestItem(int k) {
            return rng.nextDouble() < cfg.styleFidelity()
                    ? cat.byPopularity(rng, interestCate[k], interestStyle[k])
                    : cat.byPopularity(rng, interestCate[k]);
        }

        /** The negative for the positive at step j (not clicked by user u at steps 0..j). */
        int negative(int u, int j, int K) {
            int pos = seqItems[j];
            // 0: same category, other style; 1: an inactive interest; 2: uniform. A kind that cannot
            // exist here (one style per category, one interest) becomes uniform.
            double r = rng.nextDouble();
            int kind;
            if (r < cfg.hardNegativeSameCategory()) {
                kind = cat.styles > 1 ? 0 : 2;
            } else if (r < cfg.hardNegativeSameCategory() + cfg.hardNegativeOtherInterest()) {
                kind = K > 1 ? 1 : 2;
            } else {
                kind = 2;
            }
            for (int attempt = 0; attempt < NEGATIVE_ATTEMPTS; attempt++) {
                int cand;
                if (kind == 0) {
                    int s = (cat.itemStyle[pos] + 1 + rng.nextInt(cat.styles - 1)) % cat.styles;
                    cand = cat.byPopularity(rng, cat.itemCate[pos], s);
                } else if (kind == 1) {
                    int other = (active[j] + 1 + rng.nextInt(K - 1)) % K;
                    cand = interestItem(other);
                } else {
                    cand = cat.uniform(rng);
                }
                if (!(owner[cand] == u && firstPos[cand] <= j)) {
                    negKinds[kind]++;
                    return cand;
                }
            }
            negKinds[3]++;
            return unclickedUniform(u, j);
        }

        /** A uniform item that user u has not clicked at steps 0..upTo. */
        int unclickedUniform(int u, int upTo) {
            for (int attempt = 0; attempt < 64; attempt++) {
                int cand = cat.uniform(rng);
                if (!(owner[cand] == u && firstPos[cand] <= upTo)) {
                    return cand;
                }
            }
            // Practically unreachable (maxBehaviours < items): scan from a random start.
            int start = cat.uniform(rng);
            for (int i = 0; i < cat.numItems; i++) {
                int cand = 1 + (start - 1 + i) % cat.numItems;
                if (!(owner[cand] == u && firstPos[cand] <= upTo)) {
                    return cand;
                }
            }
            throw new IllegalStateException("user " + u + " clicked every item");
        }

        private static boolean contains(int[] a, int n, int v) {
            for (int i = 0; i < n; i++) {
                if (a[i] == v) {
                    return true;
                }
            }
            return false;
        }
    }

    // ------------------------------------------------------------------ random helpers

    private static void shuffle(int[] a, int n, SplittableRandom rng) {
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /**
     * A standard normal by Box–Muller, written out (and StrictMath used throughout) so the data
     * depend on neither the JDK's Gaussian algorithm nor the platform's floating-point intrinsics.
     */
    private static double gaussian(SplittableRandom rng) {
        double u1 = 1 - rng.nextDouble(); // (0, 1]
        double u2 = rng.nextDouble();
        return StrictMath.sqrt(-2 * StrictMath.log(u1)) * StrictMath.cos(2 * Math.PI * u2);
    }
}
