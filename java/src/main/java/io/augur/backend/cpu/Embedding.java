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
 * <p>The fast backward is one sequential pass over the valid rows (touch, then add), walking
 * (sample, position) instead of dividing every row index; it equals the reference bit for bit.
 * It is sequential because that measured faster: each row adds only D = 18 floats, so the work is
 * random access into the accumulator, and a parallel version (a sequential pass recording the
 * touched list, then thread k adding the rows of the ids hashed to k, deterministic) took
 * 1.0-1.7x the time of one pass on 2 threads at 12,800 and 204,800 rows (CpuOpsBench; it is in
 * the history, commit a34ffa0, should a many-core machine say otherwise).
 */
final class Embedding {
    private Embedding() {}

    /** Gathered floats per chunk of the forward. */
    static final int GATHER_GRAIN_FLOATS = 8 * 1024;

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
            // (b, t) of row r, advanced with r instead of divided out of it
            int b = lengths == null ? 0 : lo / T, t = lengths == null ? 0 : lo % T;
            for (int r = lo; r < hi; r++) {
                int o = r * outStride + off;
                if (lengths != null && t >= lengths[b]) {
                    Arrays.fill(out, o, o + D, 0f);
                } else {
                    System.arraycopy(table, checkId(ids[r], V, r) * D, out, o, D);
                }
                if (lengths != null && ++t == T) {
                    t = 0;
                    b++;
                }
            }
        });
    }

    static void gatherBackward(CpuThreads th, CpuSparseGrad g, float[] dOut, int[] ids, int[] lengths, int rows, int T, int D, int outStride, int off) {
        checkDim(g, D);
        if (lengths != null && rows % T != 0) throw new IllegalArgumentException("embedding backward: rows " + rows + " is not B * T with T = " + T);
        int V = g.rows();
        float[] acc = g.values;
        int samples = lengths == null ? 1 : rows / T, span = lengths == null ? rows : T;
        for (int b = 0; b < samples; b++) {
            int valid = lengths == null ? span : Math.min(lengths[b], span);
            for (int r = b * span; r < b * span + valid; r++) {
                int id = checkId(ids[r], V, r);
                g.touch(id);
                int a = id * D, o = r * outStride + off;
                for (int d = 0; d < D; d++) acc[a + d] += dOut[o + d];
            }
        }
    }
}
