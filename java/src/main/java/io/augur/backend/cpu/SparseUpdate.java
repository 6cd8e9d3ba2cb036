package io.augur.backend.cpu;

import io.augur.backend.SparseOptimizer;

/**
 * One optimizer step on the rows of an embedding table touched since the last update, with
 * mini-batch aware regularisation (MBAR, DESIGN.md §3). For each touched row j != 0 (row 0 is
 * padding and never changes), per element:
 * <pre>
 *   g = grad_j + lambda w_j / n_j          n_j = counts[j] (1 if counts[j] &lt;= 0); lambda = 0: g = grad_j
 *   SGD:      w_j -= lr g
 *   Adagrad:  acc_j += g^2;  w_j -= lr g / (sqrt(acc_j) + eps)                    acc = state1
 *   Adam:     m_j = b1 m_j + (1 - b1) g;  v_j = b2 v_j + (1 - b2) g^2              m = state1, v = state2
 *             w_j -= lr (m_j / (1 - b1^t)) / (sqrt(v_j / (1 - b2^t)) + eps)      t = global step (lazy: rows
 *                                                                               not touched keep m, v as they are)
 * table, state1, state2 (V, D)     counts (V) or null when lambda = 0
 * </pre>
 * Then every touched row of the gradient (row 0 included) is zeroed and unmarked, and the list
 * emptied. Rows are independent, so the fast path splits the touched list across threads and
 * runs the reference's per-row code: bit-for-bit the same result.
 */
final class SparseUpdate {
    private SparseUpdate() {}

    /** Touched rows per chunk are at least this many floats of work. */
    static final int GRAIN_FLOATS = 4 * 1024;

    // ================================================================== reference (the spec)

    static void updateRef(float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, SparseOptimizer opt, int step) {
        check(table, s1, s2, g, counts, opt, step);
        for (int k = 0; k < g.touchedRows(); k++) {
            applyRow(g.touchedRow(k), table, s1, s2, g, counts, opt, step);
            g.clearTouched(k);
        }
        g.resetList();
    }

    // ================================================================== fast path

    static void update(CpuThreads th, float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, SparseOptimizer opt, int step) {
        check(table, s1, s2, g, counts, opt, step);
        th.parallelFor(g.touchedRows(), Math.max(1, GRAIN_FLOATS / g.dim()), (chunk, lo, hi) -> {
            for (int k = lo; k < hi; k++) {
                applyRow(g.touchedRow(k), table, s1, s2, g, counts, opt, step);
                g.clearTouched(k);
            }
        });
        g.resetList();
    }

    // ================================================================== shared

    private static void check(float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, SparseOptimizer opt, int step) {
        long size = (long) g.rows() * g.dim();
        if (table.length != size) throw new IllegalArgumentException("sparse update: table has " + table.length + " floats, " + g.name() + " expects " + size);
        int slots = opt.kind().slots();
        if (slots >= 1 && (s1 == null || s1.length != size)) throw new IllegalArgumentException("sparse update: " + opt.kind() + " needs state1 of " + size + " floats");
        if (slots >= 2 && (s2 == null || s2.length != size)) throw new IllegalArgumentException("sparse update: " + opt.kind() + " needs state2 of " + size + " floats");
        if (opt.lambda() != 0f && (counts == null || counts.length < g.rows())) throw new IllegalArgumentException("sparse update: MBAR (lambda != 0) needs counts for " + g.rows() + " ids");
        if (step < 1) throw new IllegalArgumentException("sparse update: step is 1-based, got " + step);
    }

    /** Applies regularisation and the optimizer to table row j (skipped for j = 0). */
    private static void applyRow(int j, float[] table, float[] s1, float[] s2, CpuSparseGrad g, int[] counts, SparseOptimizer opt, int step) {
        if (j == 0) return;
        final int D = g.dim();
        final int base = j * D;
        final float[] grad = g.values;
        final float lr = opt.lr(), eps = opt.eps();
        // MBAR coefficient lambda / n_j
        float reg = 0f;
        if (opt.lambda() != 0f) reg = opt.lambda() / Math.max(1, counts[j]);
        switch (opt.kind()) {
            case SGD -> {
                for (int d = base; d < base + D; d++) {
                    float gi = grad[d] + reg * table[d];
                    table[d] -= lr * gi;
                }
            }
            case ADAGRAD -> {
                for (int d = base; d < base + D; d++) {
                    float gi = grad[d] + reg * table[d];
                    s1[d] += gi * gi;
                    table[d] -= lr * gi / ((float) Math.sqrt(s1[d]) + eps);
                }
            }
            case ADAM -> {
                final float b1 = opt.beta1(), b2 = opt.beta2();
                final float bc1 = (float) (1.0 - Math.pow(b1, step)), bc2 = (float) (1.0 - Math.pow(b2, step));
                for (int d = base; d < base + D; d++) {
                    float gi = grad[d] + reg * table[d];
                    s1[d] = b1 * s1[d] + (1 - b1) * gi;
                    s2[d] = b2 * s2[d] + (1 - b2) * gi * gi;
                    table[d] -= lr * (s1[d] / bc1) / ((float) Math.sqrt(s2[d] / bc2) + eps);
                }
            }
        }
    }
}
