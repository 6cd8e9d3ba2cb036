package io.augur.train;

import java.util.Arrays;

/**
 * Evaluation metrics of one pass over a split (DESIGN §3): AUC, GAUC, logloss, count and positive
 * rate, plus {@link #relaImpr}. Rows are (user id, label, predicted click probability) triples
 * kept in growable primitive arrays: no object per row, so a pass of millions of impressions costs
 * 9 bytes a row while accumulating and 8 more while computing.
 *
 * <p>AUC is exact: the rows are sorted by score once and every (positive, negative) pair is counted,
 * a pair with equal scores counting 1/2 (the Mann-Whitney statistic with average ranks for ties).
 * GAUC = Σ_u n_u·AUC_u / Σ_u n_u over the users that have both a click and a non-click, where n_u is
 * the user's number of impressions; users with one label only are left out of both sums.
 *
 * <p>Logloss is the mean binary cross-entropy of the probabilities clamped to
 * [{@link #PROB_EPS}, 1 − {@link #PROB_EPS}]: a confident wrong prediction then costs at most
 * −ln(1e-7) ≈ 16.1 instead of infinity. The clamp is applied in double precision.
 *
 * <p>Not thread-safe: one instance per evaluation pass; {@link #reset} keeps the capacity.
 */
public final class Metrics {

    /** Probabilities are clamped to [PROB_EPS, 1 − PROB_EPS] before the logarithm in logloss. */
    public static final double PROB_EPS = 1e-7;

    /** The numbers of one pass. AUC and GAUC are NaN where they are undefined. */
    public record Result(
            long count,          // impressions
            double positiveRate, // clicks / impressions
            double logloss,      // mean BCE of the clamped probabilities
            double auc,          // NaN unless both labels occur
            double gauc,         // NaN unless some user has both labels
            int users,           // distinct user ids
            int gaucUsers,       // users having both labels (those in GAUC)
            long gaucCount) {    // impressions of those users: the denominator of GAUC
    }

    private int[] users;
    private byte[] labels;
    private float[] scores;
    private int n;
    private long positives;
    private long[] keys = new long[0]; // sort scratch, kept between passes

    public Metrics() { this(1 << 16); }

    /** @param initialCapacity rows before the first growth; a split's size avoids any copy */
    public Metrics(int initialCapacity) {
        if (initialCapacity < 0) throw new IllegalArgumentException("initialCapacity " + initialCapacity);
        users = new int[initialCapacity];
        labels = new byte[initialCapacity];
        scores = new float[initialCapacity];
    }

    /** Forgets all rows and keeps the arrays. */
    public void reset() {
        n = 0;
        positives = 0;
    }

    /**
     * Adds one impression.
     *
     * @param userId the user, {@code >= 0} (0, the unknown user, is one group in GAUC like any other)
     * @param label  1 clicked, 0 not
     * @param prob   the predicted click probability in [0, 1] (a sigmoid output, not a logit)
     */
    public void add(int userId, int label, float prob) {
        if (n == users.length) grow(n + 1);
        put(userId, label, prob);
    }

    /** Adds {@code count} impressions from parallel arrays; labels are 0f or 1f (BCE targets). */
    public void addAll(int[] userIds, float[] labels, float[] probs, int count) {
        checkCount(count, userIds.length, labels.length, probs.length);
        if (n + count > users.length) grow(n + count);
        for (int i = 0; i < count; i++) {
            float y = labels[i];
            if (y != 0f && y != 1f) throw new IllegalArgumentException("label must be 0 or 1, got " + y + " at batch row " + i);
            put(userIds[i], (int) y, probs[i]);
        }
    }

    /** Adds {@code count} impressions from parallel arrays; labels are 0 or 1 (the Arrow int8 column). */
    public void addAll(int[] userIds, byte[] labels, float[] probs, int count) {
        checkCount(count, userIds.length, labels.length, probs.length);
        if (n + count > users.length) grow(n + count);
        for (int i = 0; i < count; i++) put(userIds[i], labels[i], probs[i]);
    }

    private static void checkCount(int count, int a, int b, int c) {
        if (count < 0 || count > a || count > b || count > c)
            throw new IllegalArgumentException("count " + count + " exceeds the arrays (" + a + ", " + b + ", " + c + ")");
    }

    private void put(int userId, int label, float prob) {
        if (userId < 0) throw new IllegalArgumentException("user id must be >= 0, got " + userId + " at row " + n);
        if (label != 0 && label != 1) throw new IllegalArgumentException("label must be 0 or 1, got " + label + " at row " + n);
        // Also rejects NaN: a diverged model should fail loudly, not sort NaN somewhere.
        if (!(prob >= 0f && prob <= 1f))
            throw new IllegalArgumentException("score must be a probability in [0, 1], got " + prob + " at row " + n);
        users[n] = userId;
        labels[n] = (byte) label;
        scores[n] = prob + 0.0f; // -0.0 becomes +0.0, so the two tie in the sort
        positives += label;
        n++;
    }

    private void grow(int needed) {
        int cap = Math.max(needed, users.length + (users.length >> 1) + 16);
        if (cap < 0) cap = Integer.MAX_VALUE - 8;
        users = Arrays.copyOf(users, cap);
        labels = Arrays.copyOf(labels, cap);
        scores = Arrays.copyOf(scores, cap);
    }

    public long count() { return n; }

    public long positives() { return positives; }

    /** Clicks over impressions; NaN for an empty pass. */
    public double positiveRate() { return n == 0 ? Double.NaN : (double) positives / n; }

    /** Mean binary cross-entropy with probabilities clamped to [PROB_EPS, 1 − PROB_EPS]; NaN when empty. */
    public double logloss() {
        if (n == 0) return Double.NaN;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.min(Math.max(scores[i], PROB_EPS), 1.0 - PROB_EPS);
            sum -= labels[i] == 1 ? Math.log(p) : Math.log1p(-p);
        }
        return sum / n;
    }

    /** Exact AUC over all rows; NaN unless both labels occur. */
    public double auc() {
        // Key = (score bits << 1) | label. A probability's bits are at most those of 1.0f
        // (0x3f800000 < 2^30) and non-negative floats order like their bits, so sorting the keys
        // sorts by score, and the label rides along in bit 0.
        long[] k = scratch();
        for (int i = 0; i < n; i++) k[i] = ((long) Float.floatToRawIntBits(scores[i]) << 1) | labels[i];
        Arrays.parallelSort(k, 0, n);
        return aucOfSorted(k, 0, n, null);
    }

    /** GAUC = Σ_u n_u·AUC_u / Σ_u n_u over users with both labels; NaN if there is no such user. */
    public double gauc() { return byUser().gauc; }

    /** All metrics of the pass (two sorts of n keys). */
    public Result compute() {
        double auc = auc();
        ByUser g = byUser();
        return new Result(n, positiveRate(), logloss(), auc, g.gauc, g.users, g.gaucUsers, g.gaucCount);
    }

    private record ByUser(double gauc, int users, int gaucUsers, long gaucCount) {}

    private ByUser byUser() {
        // Key = user << 31 | score bits << 1 | label (user < 2^31, score bits < 2^30): sorted by
        // user, then by score.
        long[] k = scratch();
        for (int i = 0; i < n; i++)
            k[i] = ((long) users[i] << 31) | ((long) Float.floatToRawIntBits(scores[i]) << 1) | labels[i];
        Arrays.parallelSort(k, 0, n);
        long[] pn = new long[2];
        double weighted = 0;
        long gaucCount = 0;
        int userCount = 0, gaucUsers = 0;
        for (int lo = 0; lo < n; ) {
            long user = k[lo] >>> 31;
            int hi = lo + 1;
            while (hi < n && (k[hi] >>> 31) == user) hi++;
            userCount++;
            double a = aucOfSorted(k, lo, hi, pn);
            if (pn[0] > 0 && pn[1] > 0) {
                weighted += (hi - lo) * a;
                gaucCount += hi - lo;
                gaucUsers++;
            }
            lo = hi;
        }
        return new ByUser(gaucCount == 0 ? Double.NaN : weighted / gaucCount, userCount, gaucUsers, gaucCount);
    }

    /**
     * AUC of keys[lo, hi) sorted ascending, where key >>> 1 orders by score (constant high bits,
     * such as the user, do not matter) and bit 0 is the label. Walks groups of equal score; a
     * positive beats every negative of a lower group and ties with the negatives of its own group.
     * Writes (positives, negatives) into {@code pnOut} when given.
     */
    private static double aucOfSorted(long[] keys, int lo, int hi, long[] pnOut) {
        long pos = 0, neg = 0;    // seen so far
        long wins = 0, ties = 0;  // pairs with pos > neg, pairs with pos == neg
        for (int i = lo; i < hi; ) {
            long score = keys[i] >>> 1;
            long gp = 0, gn = 0;
            int j = i;
            for (; j < hi && (keys[j] >>> 1) == score; j++) {
                if ((keys[j] & 1L) != 0) gp++; else gn++;
            }
            wins += gp * neg;
            ties += gp * gn;
            pos += gp;
            neg += gn;
            i = j;
        }
        if (pnOut != null) {
            pnOut[0] = pos;
            pnOut[1] = neg;
        }
        if (pos == 0 || neg == 0) return Double.NaN;
        return (wins + 0.5 * ties) / ((double) pos * (double) neg);
    }

    private long[] scratch() {
        if (keys.length < n) keys = new long[users.length];
        return keys;
    }

    /**
     * RelaImpr = ((AUC(model) − 0.5) / (AUC(base) − 0.5) − 1) · 100, in percent: the model's gain
     * over the base model measured against a random guesser's AUC of 0.5. A base AUC of exactly
     * 0.5 gives ±Infinity (or NaN), as the formula does.
     */
    public static double relaImpr(double aucModel, double aucBase) {
        return ((aucModel - 0.5) / (aucBase - 0.5) - 1.0) * 100.0;
    }
}
