package io.augur.prepare;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ItemSampler#fillNegatives}, which the DIEN-text and Taobao converters use for neg_hist:
 * only the asked positions are written, no negative is the target or any history item (over many
 * rows, uniform and by popularity, on a catalogue small enough that collisions are likely), each
 * negative carries its own category, and the same seed gives the same negatives.
 */
class ItemSamplerTest {

    private static final int ITEMS = 12;

    private static int[][] run(Negatives kind, long seed) {
        int[] counts = new int[ITEMS + 1];
        int[] itemCate = new int[ITEMS + 1];
        for (int i = 1; i <= ITEMS; i++) {
            counts[i] = i * i;       // popularity skewed towards the high ids, which the rows click most
            itemCate[i] = 100 + i;
        }
        ItemSampler sampler = new ItemSampler(kind, ITEMS, counts, seed);
        ItemSampler.Clicks clicks = new ItemSampler.Clicks(ITEMS);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        int rows = 500;
        int[][] out = new int[rows][];
        for (int row = 0; row < rows; row++) {
            int histLen = 1 + rnd.nextInt(8);
            int[] hist = new int[histLen];
            for (int t = 0; t < histLen; t++) {
                hist[t] = ITEMS - rnd.nextInt(6);     // from the 6 most popular items
            }
            int target = ITEMS - rnd.nextInt(4);
            int from = rnd.nextInt(histLen);
            int len = histLen - from;
            int[] negItems = new int[histLen];
            int[] negCates = new int[histLen];
            java.util.Arrays.fill(negItems, -1);
            java.util.Arrays.fill(negCates, -1);
            sampler.fillNegatives(clicks, target, hist, histLen, itemCate, negItems, negCates, from, len);
            Set<Integer> clicked = new HashSet<>();
            clicked.add(target);
            for (int h : hist) {
                clicked.add(h);
            }
            for (int t = 0; t < histLen; t++) {
                if (t < from) {
                    assertEquals(-1, negItems[t], "position " + t + " before 'from' was written");
                    continue;
                }
                assertTrue(negItems[t] >= 1 && negItems[t] <= ITEMS, "negative " + negItems[t]);
                assertFalse(clicked.contains(negItems[t]), "row " + row + ": negative " + negItems[t] + " was clicked " + clicked);
                assertEquals(itemCate[negItems[t]], negCates[t]);
            }
            out[row] = negItems;
        }
        return out;
    }

    @Test
    void negativesAreNeverTheTargetOrAHistoryItem() {
        for (Negatives kind : Negatives.values()) {
            run(kind, 3);
        }
    }

    @Test
    void theSameSeedGivesTheSameNegatives() {
        int[][] a = run(Negatives.POPULARITY, 9);
        int[][] b = run(Negatives.POPULARITY, 9);
        for (int row = 0; row < a.length; row++) {
            assertEquals(java.util.Arrays.toString(a[row]), java.util.Arrays.toString(b[row]), "row " + row);
        }
    }
}
