package io.augur.backend.cpu;

import java.util.Arrays;

/**
 * Embedding lookup (gather) and its backward into a {@link CpuSparseGrad}.
 * <pre>
 *   forward:  out[r, off:off+D] = table[ids[r], :]         r in [0, rows)
 *   backward: grad[ids[r], :]  += dOut[r, off:off+D]       (+= into the sparse gradient)
 * out, dOut (rows, outStride): columns [off, off + D) only     ids (rows), 0 <= id < V
 * table (V, D)                lengths (rows / T) or null
 * </pre>
 * With lengths, row r is position t = r % T of sample b = r / T; rows with t &gt;= lengths[b] are
 * written as 0 forward and contribute nothing backward.
 *
 * <p>The fast backward first records the touched rows in row order (one cheap sequential pass,
 * so the list is the reference's), then adds the rows in parallel with thread k owning the ids
 * whose {@link #owner} is k: no two threads write the same row and every row receives its additions
 * in row order, so the result equals the reference bit for bit.
 */
final class Embedding {
    private Embedding() {}

    /** Gathered floats per chunk of the forward. */
    static final int GATHER_GRAIN_FLOATS = 8 * 1024;
    /** Below this many gathered floats the backward runs on one thread (see {@link #gatherBackward}). */
    static final int PARALLEL_BACKWARD_FLOATS = 64 * 1024;

    static boolean masked(int[] lengths, int r, int T) {
        return lengths != null && r % T >= lengths[r / T];
    }

    static int checkId(int id, int V, int r) {
        if (id < 0 || id >= V) throw new IndexOutOfBoundsException("embedding: id " + id + " at row " + r + " outside [0, " + V + ")");
        return id;
    }

    // ================================================================== reference (the spec)

    static void gatherRef(float[] out, int[] ids, int[] lengths, float[] table, int rows, int T, int D, int outStride, int off) {
        int V = table.length / D;
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < D; d++) out[r * outStride + off + d] = 0f;
            if (masked(lengths, r, T)) continue;
            int id = checkId(ids[r], V, r);
            for (int d = 0; d < D; d++) out[r * outStride + off + d] = table[id * D + d];
        }
    }

    static void gatherBackwardRef(CpuSparseGrad g, float[] dOut, int[] ids, int[] lengths, int rows, int T, int D, int outStride, int off) {
        checkDim(g, D);
        for (int r = 0; r < rows; r++) {
            if (masked(lengths, r, T)) continue;
            int id = checkId(ids[r], g.rows(), r);
            g.touch(id);
            for (int d = 0; d < D; d++) g.values[id * D + d] += dOut[r * outStride + off + d];
        }
    }

    static void checkDim(CpuSparseGrad g, int D) {
        if (g.dim() != D) throw new IllegalArgumentException("embedding backward: " + g.name() + " has width " + g.dim() + ", op says D = " + D);
    }

    // ================================================================== fast path

    static void gather(CpuThreads th, float[] out, int[] ids, int[] lengths, float[] table, int rows, int T, int D, int outStride, int off) {
        int V = table.length / D;
        th.parallelFor(rows, Math.max(1, GATHER_GRAIN_FLOATS / D), (chunk, lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int o = r * outStride + off;
                if (masked(lengths, r, T)) {
                    Arrays.fill(out, o, o + D, 0f);
                } else {
                    System.arraycopy(table, checkId(ids[r], V, r) * D, out, o, D);
                }
            }
        });
    }

    static void gatherBackward(CpuThreads th, CpuSparseGrad g, float[] dOut, int[] ids, int[] lengths, int rows, int T, int D, int outStride, int off) {
        checkDim(g, D);
        if (lengths != null && rows % T != 0) throw new IllegalArgumentException("embedding backward: rows " + rows + " is not B * T with T = " + T);
        int V = g.rows();
        int samples = lengths == null ? 1 : rows / T, span = lengths == null ? rows : T;
        float[] acc = g.values;
        if ((long) rows * D < PARALLEL_BACKWARD_FLOATS || th.threads() == 1) {
            // one pass: touch and add, rows in order
            for (int b = 0; b < samples; b++) {
                int n = lengths == null ? span : Math.min(lengths[b], span);
                for (int r = b * span; r < b * span + n; r++) {
                    int id = checkId(ids[r], V, r);
                    g.touch(id);
                    int a = id * D, o = r * outStride + off;
                    for (int d = 0; d < D; d++) acc[a + d] += dOut[o + d];
                }
            }
            return;
        }
        // the touched list, in the reference's order
        for (int b = 0; b < samples; b++) {
            int n = lengths == null ? span : Math.min(lengths[b], span);
            for (int r = b * span; r < b * span + n; r++) g.touch(checkId(ids[r], V, r));
        }
        int parts = th.chunksFor(rows, 1);
        th.parallelFor(parts, 1, (k, lo, hi) -> {
            for (int owner = lo; owner < hi; owner++) {
                for (int b = 0; b < samples; b++) {
                    int n = lengths == null ? span : Math.min(lengths[b], span);
                    for (int r = b * span; r < b * span + n; r++) {
                        int id = ids[r];
                        if (owner(id, parts) != owner) continue;
                        int a = id * D, o = r * outStride + off;
                        for (int d = 0; d < D; d++) acc[a + d] += dOut[o + d];
                    }
                }
            }
        });
    }

    /** The thread that adds id's row: Fibonacci hashing into [0, parts), no division. */
    static int owner(int id, int parts) {
        return (int) ((((id * 0x9E3779B1L) & 0xFFFFFFFFL) * parts) >>> 32);
    }
}
