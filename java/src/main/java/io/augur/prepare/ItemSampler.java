package io.augur.prepare;

import java.util.SplittableRandom;

/**
 * The converters' negative sampler: draws item ids 1..N from one seeded stream, uniformly or in
 * proportion to each item's count in the input (the alias method: one random slot and one coin per
 * draw, O(1)), and never returns an item the user had clicked at that point.
 *
 * <p>"Clicked at that point" is kept by {@link Clicks}: for the user being converted, each item's
 * first position in the user's sequence. {@link #drawUnclicked} retries up to
 * {@value #ATTEMPTS} times and then scans the catalog from a random start for an allowed item (a
 * fallback, counted in {@link #fallbacks()}); it returns 0 only when every item is excluded.
 */
final class ItemSampler {

    static final int ATTEMPTS = 64;

    private final Negatives kind;
    private final int n;              // items 1..n
    private final SplittableRandom rng;
    private final double[] keep;      // (n) alias method: slot i keeps item i+1 with this probability
    private final int[] alias;        // (n) else it gives item alias[i]
    private final int[] counts;       // (n + 1) or null (uniform): an item with count 0 is never drawn
    private long draws;
    private long fallbacks;

    /**
     * @param kind   uniform or popularity
     * @param n      the number of items (ids 1..n)
     * @param counts for popularity, each item's count indexed by id (length at least n + 1); ignored for uniform
     * @param seed   the seed of the sampler's stream
     */
    ItemSampler(Negatives kind, int n, int[] counts, long seed) {
        if (n < 1) {
            throw new IllegalArgumentException("no items to sample negatives from");
        }
        this.kind = kind;
        this.n = n;
        this.rng = new SplittableRandom(seed);
        if (kind == Negatives.POPULARITY) {
            this.counts = counts;
            keep = new double[n];
            alias = new int[n];
            buildAlias(counts);
        } else {
            this.counts = null;
            keep = null;
            alias = null;
        }
    }

    /** Vose's alias method over counts[1..n]. */
    private void buildAlias(int[] c) {
        double total = 0;
        for (int i = 1; i <= n; i++) {
            total += c[i];
        }
        if (total == 0) {
            throw new IllegalArgumentException("popularity negatives: every item count is 0");
        }
        double[] p = new double[n];
        int[] small = new int[n];
        int[] large = new int[n];
        int ns = 0;
        int nl = 0;
        for (int i = 0; i < n; i++) {
            p[i] = c[i + 1] * (double) n / total;
            if (p[i] < 1) {
                small[ns++] = i;
            } else {
                large[nl++] = i;
            }
        }
        while (ns > 0 && nl > 0) {
            int s = small[--ns];
            int l = large[--nl];
            keep[s] = p[s];
            alias[s] = l + 1;
            p[l] = (p[l] + p[s]) - 1;
            if (p[l] < 1) {
                small[ns++] = l;
            } else {
                large[nl++] = l;
            }
        }
        while (nl > 0) {
            keep[large[--nl]] = 1;
        }
        while (ns > 0) { // leftovers of floating-point rounding: their p is 1 up to rounding
            keep[small[--ns]] = 1;
        }
        // An item with count 0 must never come out, whatever rounding did above.
        int top = 1;
        for (int i = 2; i <= n; i++) {
            if (c[i] > c[top]) {
                top = i;
            }
        }
        for (int i = 0; i < n; i++) {
            if (c[i + 1] == 0) {
                keep[i] = 0;
                if (alias[i] == 0 || c[alias[i]] == 0) {
                    alias[i] = top;
                }
            }
        }
    }

    /** One item, without exclusions. */
    int draw() {
        draws++;
        int i = rng.nextInt(n);
        if (keep == null) {
            return i + 1;
        }
        return rng.nextDouble() < keep[i] ? i + 1 : alias[i];
    }

    /**
     * DIEN's neg_hist entries for history positions {@code from .. from+len) of one row: items that
     * are neither the row's target nor anywhere in its history {@code hist[0 .. histLen)}, with their
     * categories (from {@code itemCate}). {@code clicks} is reset here.
     */
    void fillNegatives(Clicks clicks, int target, int[] hist, int histLen, int[] itemCate,
                       int[] negItems, int[] negCates, int from, int len) {
        clicks.begin();
        clicks.mark(target, 0);
        for (int t = 0; t < histLen; t++) {
            clicks.mark(hist[t], 0);
        }
        for (int t = from; t < from + len; t++) {
            int neg = drawUnclicked(clicks, Integer.MAX_VALUE);
            negItems[t] = neg;
            negCates[t] = itemCate[neg];
        }
    }

    /**
     * An item the user of {@code clicks} had not clicked at positions 0..{@code upTo} (use
     * Integer.MAX_VALUE for "never clicked"); 0 when no item is allowed.
     */
    int drawUnclicked(Clicks clicks, int upTo) {
        for (int a = 0; a < ATTEMPTS; a++) {
            int cand = draw();
            if (!clicks.clicked(cand, upTo)) {
                return cand;
            }
        }
        fallbacks++;
        int startAt = rng.nextInt(n);
        for (int k = 0; k < n; k++) {
            int cand = 1 + (startAt + k) % n;
            if (!clicks.clicked(cand, upTo) && (counts == null || counts[cand] > 0)) {
                return cand;
            }
        }
        return 0;
    }

    Negatives kind() {
        return kind;
    }

    /** Draws made (including rejected ones). */
    long draws() {
        return draws;
    }

    /** Times {@link #drawUnclicked} fell back to a scan after {@value #ATTEMPTS} rejected draws. */
    long fallbacks() {
        return fallbacks;
    }

    /**
     * The items one user has clicked so far: each item's first position in the user's sequence,
     * stamped with the user so that nothing is cleared between users. 8 bytes per catalog item.
     */
    static final class Clicks {
        private final int[] owner;   // (n + 1) the stamp of the user who last marked the item
        private final int[] first;   // (n + 1) that user's first position of the item
        private int stamp; // 0 until the first begin(): callers must begin() before marking

        Clicks(int items) {
            owner = new int[items + 1];
            first = new int[items + 1];
        }

        /** Starts a new user (or row): forgets every mark in O(1). */
        void begin() {
            stamp++;
            if (stamp == 0) { // wrapped after 2^32 users: clear for real
                java.util.Arrays.fill(owner, 0);
                stamp = 1;
            }
        }

        /** Records a click on {@code item} at {@code position} (keeps the first position). Item 0 is ignored. */
        void mark(int item, int position) {
            if (item != 0 && owner[item] != stamp) {
                owner[item] = stamp;
                first[item] = position;
            }
        }

        /** Whether {@code item} was clicked at a position &lt;= upTo. */
        boolean clicked(int item, int upTo) {
            return owner[item] == stamp && first[item] <= upTo;
        }
    }
}
