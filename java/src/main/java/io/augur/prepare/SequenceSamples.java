package io.augur.prepare;

import io.augur.data.DatasetWriter;
import io.augur.data.SampleWriter;
import io.augur.data.Split;
import java.util.Arrays;

/**
 * Turns one user's time-ordered behaviours into sample rows: the two sequence protocols shared by
 * the log, amazon and movielens converters.
 *
 * <ul>
 *   <li><b>Clicks</b> (the DIN protocol, {@link #clicks}): for each behaviour b_j with j &ge; 1, a
 *       positive (label 1, target b_j) and a negative (label 0, an item drawn by the
 *       {@link ItemSampler} that the user had not clicked at positions 0..j), both with the
 *       history b_0..b_{j-1}, the last T kept.</li>
 *   <li><b>Ratings</b> ({@link #ratings}, MovieLens as in the DIN paper): each rating r_j is one
 *       row with its own label and the history of the earlier ratings (or only the earlier
 *       positive ones), the last T kept.</li>
 * </ul>
 * Splits: {@link PrepareOptions.SplitProtocol#LEAVE_LAST} sends the rows of the user's last
 * behaviour to test and of the second last to valid; {@link PrepareOptions.SplitProtocol#USERS}
 * sends all of a user's rows to the split that a seeded hash of the user picks. With
 * {@code negHistory} every history position also carries a sampled item that the user never
 * clicked in the whole sequence, with its category.
 *
 * <p>Categories come from {@code itemCate} (one category per item). Draws happen in a fixed order,
 * users in id order, so a seed gives identical files.
 */
final class SequenceSamples {

    private static final String TOO_SHORT = "users_without_samples";
    private static final String NO_NEGATIVE = "negatives_impossible";

    private final DatasetWriter out;
    private final SampleWriter train;
    private final SampleWriter valid;
    private final SampleWriter test;
    private final PrepareOptions.SplitProtocol split;
    private final HistoryWindow window;
    private final long seed;
    private final double validFraction;
    private final double testFraction;
    private final boolean positiveHistory;
    private final int[] itemCate;
    private final ItemSampler sampler;     // null when no negatives are drawn (ratings without neg history)
    private final ItemSampler.Clicks clicks;
    private final PrepareReport report;

    private int[] cates = new int[64];
    private int[] negItems;
    private int[] negCates;
    private int[] posItems = new int[64];
    private long usersWithoutSamples;
    private long negativesImpossible;

    SequenceSamples(DatasetWriter out, PrepareOptions o, PrepareOptions.SplitProtocol split, int[] itemCate, ItemSampler sampler,
                    int numItems, PrepareReport report) {
        this.out = out;
        this.train = out.split(Split.TRAIN);
        this.valid = out.split(Split.VALID);
        this.test = out.split(Split.TEST);
        this.split = split;
        this.window = new HistoryWindow(o);
        this.seed = o.seed();
        this.validFraction = o.validFraction();
        this.testFraction = o.testFraction();
        this.positiveHistory = o.positiveHistory();
        this.itemCate = itemCate;
        this.sampler = sampler;
        this.clicks = sampler == null ? null : new ItemSampler.Clicks(numItems);
        this.report = report;
        if (o.negHistory()) {
            negItems = new int[64];
            negCates = new int[64];
        }
    }

    /** The DIN click protocol for one user: behaviours items[0..n), oldest first. */
    void clicks(int user, int[] items, int n) {
        if (n < 2) {
            usersWithoutSamples++;
            return;
        }
        ensure(n);
        clicks.begin();
        for (int k = 0; k < n; k++) {
            int it = items[k];
            cates[k] = itemCate[it];
            clicks.mark(it, k);
        }
        if (negItems != null) {
            negativeHistory(n - 1);
        }
        Split userSplit = split == PrepareOptions.SplitProtocol.USERS ? userSplit(user) : null;
        for (int j = 1; j < n; j++) {
            SampleWriter w = writer(userSplit != null ? userSplit : leaveLast(j, n));
            int from = window.from(j, 2); // the positive and its negative
            if (from < 0) {
                continue;
            }
            int len = j - from;
            int pos = items[j];
            w.append(1, user, null, pos, cates[j], items, cates, negItems, negCates, from, len);
            report.history(len);
            int neg = sampler.drawUnclicked(clicks, j);
            if (neg == 0) {
                negativesImpossible++;
                continue;
            }
            w.append(0, user, null, neg, itemCate[neg], items, cates, negItems, negCates, from, len);
            report.history(len);
        }
    }

    /** The ratings protocol for one user: items[0..n) with labels[0..n) (1 positive), oldest first. */
    void ratings(int user, int[] items, byte[] labels, int n) {
        if (n < 1) {
            return;
        }
        ensure(n);
        int[] hist;
        int m; // history positions
        if (positiveHistory) {
            m = 0;
            for (int k = 0; k < n; k++) {
                if (labels[k] == 1) {
                    posItems[m] = items[k];
                    cates[m] = itemCate[items[k]];
                    m++;
                }
            }
            hist = posItems;
        } else {
            for (int k = 0; k < n; k++) {
                cates[k] = itemCate[items[k]];
            }
            m = n;
            hist = items;
        }
        if (negItems != null) {
            clicks.begin();
            for (int k = 0; k < n; k++) {
                clicks.mark(items[k], k);
            }
            negativeHistory(m);
        }
        Split userSplit = split == PrepareOptions.SplitProtocol.USERS ? userSplit(user) : null;
        int before = 0; // history positions before rating j
        boolean any = false;
        for (int j = 0; j < n; j++) {
            int end = positiveHistory ? before : j;
            int from = window.from(end, 1);
            if (from >= 0) {
                int len = end - from;
                SampleWriter w = writer(userSplit != null ? userSplit : leaveLast(j, n));
                w.append(labels[j], user, null, items[j], itemCate[items[j]], hist, cates, negItems, negCates, from, len);
                report.history(len);
                any = true;
            }
            if (!positiveHistory || labels[j] == 1) {
                before++;
            }
        }
        if (!any) {
            usersWithoutSamples++;
        }
    }

    /** neg_hist for history positions 0..m: items the user never clicked. */
    private void negativeHistory(int m) {
        for (int k = 0; k < m; k++) {
            int neg = sampler.drawUnclicked(clicks, Integer.MAX_VALUE);
            if (neg == 0) {
                negativesImpossible++;
            }
            negItems[k] = neg;
            negCates[k] = itemCate[neg];
        }
    }

    private void ensure(int n) {
        if (cates.length < n) {
            int cap = Math.max(n, cates.length * 2);
            cates = Arrays.copyOf(cates, cap);
            posItems = Arrays.copyOf(posItems, cap);
            if (negItems != null) {
                negItems = Arrays.copyOf(negItems, cap);
                negCates = Arrays.copyOf(negCates, cap);
            }
        }
    }

    private static Split leaveLast(int j, int n) {
        return j == n - 1 ? Split.TEST : j == n - 2 ? Split.VALID : Split.TRAIN;
    }

    /** The split of a whole user: a seeded hash of the user id against the valid and test fractions. */
    Split userSplit(int user) {
        double u = unit(seed, user);
        return u < testFraction ? Split.TEST : u < testFraction + validFraction ? Split.VALID : Split.TRAIN;
    }

    /** A uniform number in [0, 1) from (seed, key): the SplitMix64 finaliser. */
    static double unit(long seed, long key) {
        long z = seed + 0x9E3779B97F4A7C15L * (key + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53;
    }

    private SampleWriter writer(Split s) {
        return switch (s) {
            case TRAIN -> train;
            case VALID -> valid;
            case TEST -> test;
        };
    }

    /** Adds this emitter's counts to the report; {@code tooShort} says which users yield no sample. */
    void report(String tooShort) {
        report.count(TOO_SHORT, tooShort, usersWithoutSamples);
        window.reportBelowMin(report);
        if (sampler != null) {
            report.count(NO_NEGATIVE, "negatives not written: the user had clicked every item", negativesImpossible);
            report.count("negative_fallbacks", "negatives found by a scan after " + ItemSampler.ATTEMPTS + " rejected draws",
                    sampler.fallbacks());
        }
    }

    DatasetWriter out() {
        return out;
    }
}
