package io.augur.backend.cpu;

import io.augur.backend.SparseGrad;

import java.util.Arrays;

/**
 * The sparse gradient of a (V, D) embedding table on the CPU: a dense (V, D) accumulator
 * allocated once, plus the list of rows touched since the last update (in first-touch order) and
 * a per-row mark. Backward of a gather adds into touched rows; the update visits exactly those
 * rows and clears them, so a step costs O(touched rows), never O(V).
 *
 * <p>Invariant between steps: every row not in the list is zero and unmarked.
 */
final class CpuSparseGrad implements SparseGrad {
    private final String name;
    private final int rows, dim;
    /** (V, D) accumulated gradient; zero outside the touched rows. */
    final float[] values;
    /** (V) true for rows in {@link #touched}. */
    private final boolean[] marked;
    /** (min(V, maxIdsPerStep)) touched rows, first-touch order; the first {@link #count} are valid. */
    private final int[] touched;
    private int count;

    CpuSparseGrad(String name, int rows, int dim, int maxIdsPerStep) {
        if (rows <= 0 || dim <= 0) throw new IllegalArgumentException(name + ": table shape must be positive, got (" + rows + ", " + dim + ")");
        if (maxIdsPerStep <= 0) throw new IllegalArgumentException(name + ": maxIdsPerStep must be positive, got " + maxIdsPerStep);
        this.name = name;
        this.rows = rows;
        this.dim = dim;
        this.values = new float[Math.multiplyExact(rows, dim)];
        this.marked = new boolean[rows];
        this.touched = new int[Math.min(rows, maxIdsPerStep)];
    }

    @Override public String name() { return name; }
    @Override public int rows() { return rows; }
    @Override public int dim() { return dim; }
    @Override public int touchedRows() { return count; }

    /** The k-th touched row, k in [0, touchedRows()). */
    int touchedRow(int k) { return touched[k]; }

    boolean isTouched(int row) { return marked[row]; }

    /** Adds row to the touched list if it is not there yet. Single-threaded (the list is shared). */
    void touch(int row) {
        if (marked[row]) return;
        if (count == touched.length) {
            throw new IllegalStateException(name + ": more than " + touched.length + " distinct rows touched in one step"
                    + " (raise maxIdsPerStep of the sparse gradient)");
        }
        marked[row] = true;
        touched[count++] = row;
    }

    /** Zeroes and unmarks the k-th touched row; threads may clear distinct k concurrently. Call {@link #resetList} after. */
    void clearTouched(int k) {
        int row = touched[k];
        Arrays.fill(values, row * dim, row * dim + dim, 0f);
        marked[row] = false;
    }

    /** Empties the touched list once every touched row has been cleared. */
    void resetList() { count = 0; }

    /** dst[0 : V * D] = the dense accumulated gradient (zero outside the touched rows); for tests and checks. */
    void copyTo(float[] dst) {
        System.arraycopy(values, 0, dst, 0, values.length);
    }

    /** Drops the accumulated gradient without applying it. */
    void clear() {
        for (int k = 0; k < count; k++) clearTouched(k);
        resetList();
    }

    @Override
    public String toString() { return "SparseGrad " + name + " (" + rows + ", " + dim + "), " + count + " rows touched"; }
}
