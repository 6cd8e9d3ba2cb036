package io.augur.data;

import java.util.Arrays;

/**
 * One mini-batch on the host, sized once for {@code (maxB, T)} and refilled in place.
 * Letters: B = {@link #size} (rows actually filled, ≤ maxB; smaller for the last batch of an
 * epoch), T the history length, F the number of profile fields.
 *
 * <p>Histories are row-major {@code [b * T + t]}, left-aligned oldest first; positions
 * {@code t >= lengths[b]} hold 0 (padding). Rows {@code b >= size} are all zero (ids 0, length 0,
 * label 0, rowIndex -1); ops must still only touch the first {@code size} rows.
 *
 * <p>Read-only to its users: the reader that refills a batch zeroes only the positions a row's
 * previous history filled and its new one does not, relying on every position past
 * {@code lengths[b]} being zero already.
 */
public final class Batch {

    /** Capacity in rows. */
    public final int maxB;
    /** History length T (row stride of the history arrays). */
    public final int T;

    /** Rows filled, ≤ maxB. */
    public int size;
    /** (maxB) 1 clicked, 0 not. */
    public final float[] labels;
    /** (F, maxB) profile ids: field 0 is user_id, then the extra fields in dataset.json order. */
    public final int[][] profile;
    /** (maxB) candidate item ids. */
    public final int[] items;
    /** (maxB) candidate category ids. */
    public final int[] cates;
    /** (maxB * T) behaviour item ids, [b * T + t]; empty in a batch without histories. */
    public final int[] histItems;
    /** (maxB * T) behaviour category ids, [b * T + t]; empty in a batch without histories. */
    public final int[] histCates;
    /** (maxB * T) non-clicked item per history position, or null when the dataset has no neg columns. */
    public final int[] negItems;
    /** (maxB * T) their categories, or null when the dataset has no neg columns. */
    public final int[] negCates;
    /** (maxB) true history length of each row, in [0, T]. */
    public final int[] lengths;
    /** (maxB) the source row (0-based, in its file) of each sample; -1 past {@link #size}. */
    public final int[] rowIndex;

    /**
     * An empty batch.
     *
     * @param maxB              rows
     * @param T                 history length
     * @param numProfileFields  F ≥ 1 (user_id plus extra fields)
     * @param withNegHistory    whether to allocate negItems / negCates
     */
    public Batch(int maxB, int T, int numProfileFields, boolean withNegHistory) {
        this(maxB, T, numProfileFields, withNegHistory, true);
    }

    /**
     * A batch with or without the history columns. Without them ({@code withHistories} false: the
     * device gathers them from its own copy, {@code train --resident-data}) histItems and
     * histCates are empty arrays and negItems / negCates null; lengths and rowIndex are filled.
     */
    public Batch(int maxB, int T, int numProfileFields, boolean withNegHistory, boolean withHistories) {
        if (maxB < 1 || T < 1 || numProfileFields < 1) {
            throw new IllegalArgumentException("batch shape maxB=" + maxB + ", T=" + T + ", F=" + numProfileFields);
        }
        long cells = (long) maxB * T;
        if (cells > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxB * T = " + cells + " is too large for one array");
        }
        this.maxB = maxB;
        this.T = T;
        labels = new float[maxB];
        profile = new int[numProfileFields][maxB];
        items = new int[maxB];
        cates = new int[maxB];
        int histCells = withHistories ? maxB * T : 0;
        histItems = new int[histCells];
        histCates = new int[histCells];
        negItems = withNegHistory && withHistories ? new int[maxB * T] : null;
        negCates = withNegHistory && withHistories ? new int[maxB * T] : null;
        lengths = new int[maxB];
        rowIndex = new int[maxB];
        Arrays.fill(rowIndex, -1);
    }

    /** F, the number of profile fields. */
    public int numProfileFields() {
        return profile.length;
    }

    /** Whether negItems / negCates are present. */
    public boolean hasNegHistory() {
        return negItems != null;
    }

    /** Whether histItems / histCates are filled (false: only lengths and rowIndex describe the histories). */
    public boolean hasHistories() {
        return histItems.length > 0;
    }

    /** Zeroes rows [from, maxB) (the tail of a last, partial batch). */
    void clearRows(int from) {
        if (from >= maxB) {
            return;
        }
        Arrays.fill(labels, from, maxB, 0f);
        for (int[] p : profile) {
            Arrays.fill(p, from, maxB, 0);
        }
        Arrays.fill(items, from, maxB, 0);
        Arrays.fill(cates, from, maxB, 0);
        if (hasHistories()) {
            Arrays.fill(histItems, from * T, maxB * T, 0);
            Arrays.fill(histCates, from * T, maxB * T, 0);
        }
        if (negItems != null) {
            Arrays.fill(negItems, from * T, maxB * T, 0);
            Arrays.fill(negCates, from * T, maxB * T, 0);
        }
        Arrays.fill(lengths, from, maxB, 0);
        Arrays.fill(rowIndex, from, maxB, -1);
    }
}
