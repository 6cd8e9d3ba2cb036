package io.augur.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MetricsTest {

    /**
     * Six impressions, worked by hand:
     * <pre>
     *   row user label score
     *   A   1    1     0.9
     *   B   1    0     0.8
     *   C   2    1     0.7
     *   D   2    0     0.7   (ties with C)
     *   E   2    0     0.2
     *   F   3    1     0.5   (user 3 has clicks only)
     * </pre>
     * AUC: positives A, C, F against negatives B, D, E. A beats all three (3); C loses to B, ties D
     * (1/2), beats E (1); F loses to B and D, beats E (1). 5.5 / 9.
     * GAUC: user 1 AUC 1 (n=2), user 2 AUC (1/2 + 1)/2 = 0.75 (n=3), user 3 excluded:
     * (2·1 + 3·0.75) / 5 = 0.85.
     */
    private static Metrics handExample() {
        Metrics m = new Metrics(1); // capacity 1: the rows force growth
        m.add(1, 1, 0.9f);
        m.add(1, 0, 0.8f);
        m.add(2, 1, 0.7f);
        m.add(2, 0, 0.7f);
        m.add(2, 0, 0.2f);
        m.add(3, 1, 0.5f);
        return m;
    }

    @Test
    void handComputedExampleWithTiesAndOneLabelUser() {
        Metrics.Result r = handExample().compute();
        assertEquals(6, r.count());
        assertEquals(0.5, r.positiveRate(), 1e-15);
        assertEquals(5.5 / 9, r.auc(), 1e-12);
        assertEquals(0.85, r.gauc(), 1e-12);
        assertEquals(3, r.users());
        assertEquals(2, r.gaucUsers());
        assertEquals(5, r.gaucCount());
        // −(ln .9 + ln .2 + ln .7 + ln .3 + ln .8 + ln .5) / 6, computed separately in double.
        assertEquals(0.6986228292241851, r.logloss(), 1e-7);
    }

    @Test
    void gettersAgreeWithCompute() {
        Metrics m = handExample();
        assertEquals(5.5 / 9, m.auc(), 1e-12);
        assertEquals(0.85, m.gauc(), 1e-12);
        assertEquals(0.6986228292241851, m.logloss(), 1e-7);
        assertEquals(3, m.positives());
    }

    @Test
    void allScoresTiedGiveOneHalf() {
        Metrics m = new Metrics();
        for (int i = 0; i < 10; i++) m.add(7, i % 3 == 0 ? 1 : 0, 0.25f);
        assertEquals(0.5, m.auc(), 0);
        assertEquals(0.5, m.gauc(), 0);
    }

    @Test
    void negativeZeroTiesWithZero() {
        Metrics m = new Metrics();
        m.add(1, 1, -0.0f);
        m.add(1, 0, 0.0f);
        assertEquals(0.5, m.auc(), 0);
    }

    @Test
    void perfectAndReversedRanking() {
        Metrics m = new Metrics();
        m.add(1, 0, 0.1f);
        m.add(1, 1, 0.9f);
        assertEquals(1.0, m.auc(), 0);
        m.reset();
        m.add(1, 1, 0.1f);
        m.add(1, 0, 0.9f);
        assertEquals(0.0, m.auc(), 0);
        assertEquals(2, m.count());
    }

    @Test
    void undefinedMetricsAreNaN() {
        Metrics empty = new Metrics();
        Metrics.Result r = empty.compute();
        assertEquals(0, r.count());
        assertTrue(Double.isNaN(r.auc()));
        assertTrue(Double.isNaN(r.gauc()));
        assertTrue(Double.isNaN(r.logloss()));
        assertTrue(Double.isNaN(r.positiveRate()));

        Metrics oneLabelPerUser = new Metrics();
        oneLabelPerUser.add(1, 1, 0.9f);
        oneLabelPerUser.add(2, 0, 0.1f);
        Metrics.Result r2 = oneLabelPerUser.compute();
        assertEquals(1.0, r2.auc(), 0);
        assertTrue(Double.isNaN(r2.gauc()));
        assertEquals(0, r2.gaucUsers());
    }

    @Test
    void loglossClampsCertainWrongPredictions() {
        Metrics m = new Metrics();
        m.add(1, 1, 0f); // −ln(1e-7)
        m.add(1, 0, 1f); // −ln(1 − (1 − 1e-7))
        assertEquals(16.11809565095832, m.logloss(), 1e-6);
        m.reset();
        m.add(1, 1, 1f); // −ln(1 − 1e-7) ≈ 1e-7
        assertEquals(1e-7, m.logloss(), 1e-12);
    }

    @Test
    void rejectsBadRows() {
        Metrics m = new Metrics();
        assertThrows(IllegalArgumentException.class, () -> m.add(1, 2, 0.5f));
        assertThrows(IllegalArgumentException.class, () -> m.add(-1, 1, 0.5f));
        assertThrows(IllegalArgumentException.class, () -> m.add(1, 1, Float.NaN));
        assertThrows(IllegalArgumentException.class, () -> m.add(1, 1, 1.5f));
        assertThrows(IllegalArgumentException.class, () -> m.add(1, 1, -0.1f));
        assertThrows(IllegalArgumentException.class,
                () -> m.addAll(new int[] {1}, new float[] {0.5f}, new float[] {0.5f}, 1));
        assertThrows(IllegalArgumentException.class,
                () -> m.addAll(new int[] {1}, new float[] {1f}, new float[] {0.5f}, 2));
        assertEquals(0, m.count());
    }

    @Test
    void batchAddMatchesSingleAdds() {
        int[] users = {1, 1, 2, 2, 2, 3};
        float[] yf = {1, 0, 1, 0, 0, 1};
        byte[] yb = {1, 0, 1, 0, 0, 1};
        float[] p = {0.9f, 0.8f, 0.7f, 0.7f, 0.2f, 0.5f};
        Metrics a = new Metrics(2);
        a.addAll(users, yf, p, 4);
        a.addAll(new int[] {2, 3, 99}, new float[] {0, 1, 0}, new float[] {0.2f, 0.5f, 0.5f}, 2);
        Metrics b = new Metrics(2);
        b.addAll(users, yb, p, 6);
        assertEquals(handExample().compute(), a.compute());
        assertEquals(handExample().compute(), b.compute());
    }

    @Test
    void matchesBruteForcePairCountOnRandomData() {
        SplittableRandom rnd = new SplittableRandom(42);
        int n = 3000, nUsers = 40;
        int[] u = new int[n];
        int[] y = new int[n];
        float[] s = new float[n];
        Metrics m = new Metrics(16);
        for (int i = 0; i < n; i++) {
            u[i] = rnd.nextInt(nUsers);
            y[i] = rnd.nextDouble() < 0.3 ? 1 : 0;
            // Scores on a grid of 51 values, nudged up for clicks: many ties, AUC well above 0.5.
            s[i] = Math.min(50, rnd.nextInt(45) + 6 * y[i]) / 50f;
            m.add(u[i], y[i], s[i]);
        }
        // A user with clicks only, excluded from GAUC but part of AUC.
        m.add(nUsers, 1, 0.3f);

        double[] global = bruteAuc(u, y, s, n, -1);
        global[0] += countAgainstNegatives(0.3f, y, s, n);
        global[1] += 1;
        double expectedAuc = global[0] / (global[1] * global[2]);

        double weighted = 0;
        long impressions = 0;
        for (int user = 0; user < nUsers; user++) {
            double[] w = bruteAuc(u, y, s, n, user);
            if (w[1] > 0 && w[2] > 0) {
                long nu = (long) (w[1] + w[2]);
                weighted += nu * w[0] / (w[1] * w[2]);
                impressions += nu;
            }
        }
        Metrics.Result r = m.compute();
        assertTrue(expectedAuc > 0.6, "test data should rank better than chance: " + expectedAuc);
        assertEquals(expectedAuc, r.auc(), 1e-12);
        assertEquals(weighted / impressions, r.gauc(), 1e-12);
        assertEquals(impressions, r.gaucCount());
        assertEquals(nUsers + 1, r.users());
    }

    /** {score sum of pairs (win 1, tie 1/2), positives, negatives} for one user (or all, user = −1). */
    private static double[] bruteAuc(int[] u, int[] y, float[] s, int n, int user) {
        double sum = 0;
        long pos = 0, neg = 0;
        for (int i = 0; i < n; i++) {
            if (user >= 0 && u[i] != user) continue;
            if (y[i] == 1) pos++; else neg++;
            if (y[i] != 1) continue;
            for (int j = 0; j < n; j++) {
                if ((user >= 0 && u[j] != user) || y[j] != 0) continue;
                sum += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
            }
        }
        return new double[] {sum, pos, neg};
    }

    private static double countAgainstNegatives(float score, int[] y, float[] s, int n) {
        double sum = 0;
        for (int j = 0; j < n; j++) if (y[j] == 0) sum += score > s[j] ? 1 : score == s[j] ? 0.5 : 0;
        return sum;
    }

    @Test
    void millionsOfRowsAgreeWithAHistogramCount() {
        // Two million rows on a grid of 1001 scores. An independent O(n + bins) count: for each
        // bin, positives there beat all negatives of lower bins and tie with those of the same bin.
        int n = 2_000_000, bins = 1001;
        long[] posIn = new long[bins], negIn = new long[bins];
        SplittableRandom rnd = new SplittableRandom(7);
        Metrics m = new Metrics(1024);
        for (int i = 0; i < n; i++) {
            int label = rnd.nextInt(10) == 0 ? 1 : 0;
            int bin = Math.min(bins - 1, rnd.nextInt(900) + label * rnd.nextInt(200));
            if (label == 1) posIn[bin]++; else negIn[bin]++;
            m.add(rnd.nextInt(50_000), label, bin / (float) (bins - 1));
        }
        double wins = 0;
        long negBelow = 0, pos = 0;
        for (int b = 0; b < bins; b++) {
            wins += posIn[b] * (double) negBelow + 0.5 * posIn[b] * (double) negIn[b];
            negBelow += negIn[b];
            pos += posIn[b];
        }
        long t0 = System.nanoTime();
        Metrics.Result r = m.compute();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(wins / ((double) pos * negBelow), r.auc(), 1e-12);
        assertEquals(n, r.count());
        assertEquals((double) pos / n, r.positiveRate(), 1e-15);
        assertTrue(r.gauc() > 0.5 && r.gauc() < 1, "gauc " + r.gauc());
        // Generous bound (a loaded 2-core CI box); the point is "a sort", not "pairs".
        assertTrue(ms < 20_000, "compute took " + ms + " ms");
    }

    @Test
    void relaImprFollowsTheFormula() {
        assertEquals(25.0, Metrics.relaImpr(0.75, 0.7), 1e-9);
        assertEquals(0.0, Metrics.relaImpr(0.7, 0.7), 1e-12);
        assertEquals(-50.0, Metrics.relaImpr(0.6, 0.7), 1e-9);
        assertEquals(Double.POSITIVE_INFINITY, Metrics.relaImpr(0.7, 0.5));
    }
}
