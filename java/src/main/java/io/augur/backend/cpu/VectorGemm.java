package io.augur.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM of the fast CPU path on the Vector API ({@code jdk.incubator.vector}): register-blocked
 * micro-kernels that keep a 6-row by 2-vector tile of C in vector accumulators. Only
 * {@link CpuGemm} touches this class, and only after it has seen the module in the boot layer, so
 * the class (and with it the incubator API) is never loaded on a JVM started without
 * {@code --add-modules jdk.incubator.vector}.
 *
 * <h2>The micro-kernel</h2>
 * For a tile of MR = 6 rows of C and NR = 2 vectors of columns (16 floats with 256-bit vectors,
 * 32 with 512-bit), the 12 accumulators stay in registers for the whole reduction; each step k
 * loads the two vectors of row k of B, broadcasts the six values A[i, k] one at a time and issues
 * 12 FMAs:
 * <pre>
 *   for k:  b0, b1 = B[k, j : j+L], B[k, j+L : j+2L]
 *           for i in 0..5:  x = broadcast(A[i, k]);  c[i][0] = fma(x, b0, c[i][0]);  c[i][1] = fma(x, b1, c[i][1])
 * </pre>
 * 12 FMAs for 2 vector loads and 6 broadcasts, so the loop is bound by the FMA pipes, not by
 * loads. Why 6 x 2 vectors: AVX2 has 16 vector registers, and 12 accumulators + 2 B vectors + 1
 * broadcast = 15 of them, so nothing spills; 12 independent accumulator chains cover the FMA
 * latency (4 cycles on two pipes needs at least 8 chains in flight). A 4 x 3-vector tile has the
 * same count but loads one more B vector per step; 8 x 2 would need 16 accumulators plus operands,
 * more than AVX2 has. AVX-512 has 32 registers, so the same tile fits there with room to spare.
 *
 * <h2>Species</h2>
 * {@link FloatVector#SPECIES_PREFERRED}: the widest vector the JIT compiles natively, which is how
 * HotSpot itself decides per machine (it keeps 256 bits on CPUs where 512-bit code clocks down).
 * On the development machine (AMD EPYC, Zen 4: AVX-512 on 256-bit FMA units) that is 512 bits,
 * and 512-bit vectors measured 1.3-2x faster than a fixed 256-bit species on the layers here
 * (e.g. top mlp 2 forward 98 against 69 GFLOP/s; see docs/perf/README.md): the FLOPs per FMA
 * instruction double while the per-step overhead (broadcasts, bounds checks, loop) stays the
 * same, and that outweighs the wider ragged right edge (N = 36, 40, 50, 100, 108 ...). The kernels
 * are written for any lane count L; {@code -Daugur.gemm.bits=256} forces 256-bit vectors (the
 * tests run both). {@link #unsupportedReason()} declines below 256 bits, where the scalar kernels
 * are the safer choice.
 *
 * <h2>Edges</h2>
 * <ul>
 *   <li>Columns: full 2L-wide panels, then one L-wide panel if L or more columns remain, then the
 *       last {@code r < L} columns as an L-wide panel that starts at N - L and overlaps the
 *       previous one: it computes all L lanes, and at the store blends the first {@code L - r}
 *       lanes back to what C holds (masked loads and stores would leave the fast path of the
 *       JDK 17 implementation at array ends). Every access stays inside row i's columns
 *       [0, N). Matrices narrower than L (N = 1 for the score layers) take a scalar kernel.</li>
 *   <li>Rows: a tile of fewer than 6 rows repeats its last row in the spare accumulators (reading
 *       only valid rows); they store the same values over that row again.</li>
 * </ul>
 * The kernels avoid paths that run rarely: no separate kernel for the last rows, no branch per
 * stored row or for "no ragged edge". Vector code runs fast only once C2 has compiled it; until
 * then (and after a deoptimisation, which C2 takes when a branch it never saw is taken) C1 boxes
 * every vector. An early version with a 2-row kernel for the last rows allocated about 190 KB
 * per DIN step that way, as that kernel stayed in C1.
 *
 * <h2>Results</h2>
 * Each C[i, j] is one chain {@code c = fma(A[i, k], B[k, j], c)} for k = 0, 1, ..., K-1 from
 * C[i, j] (accumulate) or 0, whatever the tile, edge case, vector width or kernel it falls in
 * (the scalar kernel for narrow matrices uses {@link Math#fma}): results are deterministic, do not
 * depend on how callers split the rows, and are the same bits with 256- and 512-bit vectors. They
 * differ from {@link ScalarGemm} only by rounding (one rounding per step instead of two). tn's
 * skipping of zero rows leaves out steps that would not change C (for finite B, and C not -0).
 */
final class VectorGemm {
    private VectorGemm() {}

    /** Property that forces a vector width in bits (256 or 512); default: the JIT's preferred width. */
    static final String BITS_PROPERTY = "augur.gemm.bits";

    static final VectorSpecies<Float> S = species();
    /** Lanes per vector. A static final, so C2 folds it like a literal. */
    static final int L = S.length();
    /** Rows per micro-tile. */
    static final int MR = 6;

    private static final FloatVector IOTA = iota();

    private static VectorSpecies<Float> species() {
        String bits = System.getProperty(BITS_PROPERTY);
        if (bits == null || bits.isBlank()) return FloatVector.SPECIES_PREFERRED;
        return VectorSpecies.of(float.class, VectorShape.forBitSize(Integer.parseInt(bits.trim())));
    }

    private static FloatVector iota() {
        float[] lanes = new float[S.length()];
        for (int i = 0; i < lanes.length; i++) lanes[i] = i;
        return FloatVector.fromArray(S, lanes, 0);
    }

    /** Vector width in bits. */
    static int bits() { return S.vectorBitSize(); }

    /** Why this class should not be used on this JVM, or null when it can. */
    static String unsupportedReason() {
        int widest = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        if (S.vectorBitSize() > widest) {
            return S.vectorBitSize() + "-bit vectors asked for, but the widest the JIT compiles here is " + widest + " bits";
        }
        if (S.vectorBitSize() < 256) return "the widest float vector here is " + widest + " bits; the kernels want 256 or more";
        return null;
    }

    /** C[M, N] = (accumulate ? C : 0) + A[M, K] B[K, N]. */
    static void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                   float[] C, int cOff, int ldc, boolean accumulate) {
        gemm(M, N, K, A, aOff, lda, 1, B, bOff, ldb, C, cOff, ldc, accumulate);
    }

    /**
     * C[m0:m1, N] += A[K, m0:m1]^T B[K, N]. Steps k whose A[k, m0:m1] is all zero (padded rows)
     * are left out when they are at least 1/8 of K: the other rows of A and B are copied, a
     * chunk at a time, into a per-thread buffer and the kernels run on that.
     */
    static void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                   float[] C, int cOff, int ldc) {
        final int M = m1 - m0, a = aOff + m0, c = cOff + m0 * ldc;
        if (M <= 0 || N <= 0 || K <= 0) return;
        int zero = 0;
        for (int k = 0; k < K; k++) if (isZero(A, a + k * lda, M)) zero++;
        if (zero * 8 < K) {
            for (int k = 0; k < K; k += KB) {
                gemm(M, N, Math.min(KB, K - k), A, a + k * lda, 1, lda, B, bOff + k * ldb, ldb, C, c, ldc, true);
            }
            return;
        }
        final int bp = KC * M;
        float[] pack = pack(bp + KC * N);
        for (int k = 0; k < K; ) {
            int n = 0;
            for (; k < K && n < KC; k++) {
                int ak = a + k * lda;
                if (isZero(A, ak, M)) continue;
                System.arraycopy(A, ak, pack, n * M, M);
                System.arraycopy(B, bOff + k * ldb, pack, bp + n * N, N);
                n++;
            }
            gemm(M, N, n, pack, 0, 1, M, pack, bp, N, C, c, ldc, true);
        }
    }

    /**
     * Steps per block of tn's reduction. The whole of A and B (K = 5000 rows) does not fit in the
     * 1 MB L2, and every (tile, panel) pair would stream both from L3; a block of 256 rows of A
     * and B (at most 256 x (200 + 200) floats) stays in L2 while all tiles use it. C is stored and
     * reloaded between blocks, which leaves each element's FMA chain (and its bits) as it was.
     * Measured on aux mlp 1 dW (K = 5000): 4x the scalar kernels unblocked, 7.7x with 256.
     */
    private static final int KB = 256;
    /** Steps per chunk of tn's packed path: 128 x (M + N) floats, at most 200 KB for the layers here. */
    private static final int KC = 128;
    private static final ThreadLocal<float[]> PACK = ThreadLocal.withInitial(() -> new float[0]);

    /** This thread's packing buffer, at least n floats (grown once, then reused). */
    private static float[] pack(int n) {
        float[] p = PACK.get();
        if (p.length < n) PACK.set(p = new float[n]);
        return p;
    }

    private static boolean isZero(float[] x, int from, int n) {
        for (int i = from; i < from + n; i++) if (x[i] != 0f) return false;
        return true;
    }

    /** C[M, N] = (acc ? C : 0) + A B, where A[i, k] = A[aOff + i ars + k aks]. */
    private static void gemm(int M, int N, int K, float[] A, int aOff, int ars, int aks, float[] B, int bOff, int ldb,
                             float[] C, int cOff, int ldc, boolean acc) {
        if (M <= 0 || N <= 0) return;
        if (N < L) {
            for (int i = 0; i < M; i += MR) {
                narrow(Math.min(MR, M - i), N, K, A, aOff + i * ars, ars, aks, B, bOff, ldb, C, cOff + i * ldc, ldc, acc);
            }
            return;
        }
        for (int i = 0; i < M; i += MR) {
            int rows = Math.min(MR, M - i), a = aOff + i * ars, c = cOff + i * ldc;
            int j = 0;
            for (; j + 2 * L <= N; j += 2 * L) tile6x2v(rows, K, A, a, ars, aks, B, bOff + j, ldb, C, c + j, ldc, acc);
            if (N - j >= L) {
                tile6x1v(rows, K, A, a, ars, aks, B, bOff + j, ldb, C, c + j, ldc, acc, 0);
                j += L;
            }
            if (j < N) tile6x1v(rows, K, A, a, ars, aks, B, bOff + N - L, ldb, C, c + N - L, ldc, acc, L - (N - j));
        }
    }

    /**
     * Lanes {@code >= keep} of the new value, the first {@code keep} lanes of what C holds at p.
     * Without a branch on keep = 0 (one load and blend per tile row): see the class comment on
     * rarely taken paths.
     */
    private static FloatVector tail(FloatVector v, float[] C, int p, int keep) {
        VectorMask<Float> fresh = IOTA.compare(VectorOperators.GE, (float) keep);
        return FloatVector.fromArray(S, C, p).blend(v, fresh);
    }

    /**
     * rows (1..6) x 2L tile at A[a], B[b], C[c]. Rows past {@code rows} repeat the last real row:
     * they read only that row, compute its values again and store them over it, unchanged (no
     * branch per row; see the class comment on rarely taken paths).
     */
    private static void tile6x2v(int rows, int K, float[] A, int a, int ars, int aks, float[] B, int b, int ldb,
                                 float[] C, int c, int ldc, boolean acc) {
        final int r1 = Math.min(1, rows - 1), r2 = Math.min(2, rows - 1), r3 = Math.min(3, rows - 1), r4 = Math.min(4, rows - 1), r5 = Math.min(5, rows - 1);
        final int o1 = r1 * ars, o2 = r2 * ars, o3 = r3 * ars, o4 = r4 * ars, o5 = r5 * ars;
        final int c1 = c + r1 * ldc, c2 = c + r2 * ldc, c3 = c + r3 * ldc, c4 = c + r4 * ldc, c5 = c + r5 * ldc;
        FloatVector v00, v01, v10, v11, v20, v21, v30, v31, v40, v41, v50, v51;
        if (acc) {
            v00 = FloatVector.fromArray(S, C, c);  v01 = FloatVector.fromArray(S, C, c + L);
            v10 = FloatVector.fromArray(S, C, c1); v11 = FloatVector.fromArray(S, C, c1 + L);
            v20 = FloatVector.fromArray(S, C, c2); v21 = FloatVector.fromArray(S, C, c2 + L);
            v30 = FloatVector.fromArray(S, C, c3); v31 = FloatVector.fromArray(S, C, c3 + L);
            v40 = FloatVector.fromArray(S, C, c4); v41 = FloatVector.fromArray(S, C, c4 + L);
            v50 = FloatVector.fromArray(S, C, c5); v51 = FloatVector.fromArray(S, C, c5 + L);
        } else {
            FloatVector z = FloatVector.zero(S);
            v00 = z; v01 = z; v10 = z; v11 = z; v20 = z; v21 = z; v30 = z; v31 = z; v40 = z; v41 = z; v50 = z; v51 = z;
        }
        int pa = a, pb = b;
        for (int k = 0; k < K; k++, pa += aks, pb += ldb) {
            float x0 = A[pa], x1 = A[pa + o1], x2 = A[pa + o2], x3 = A[pa + o3], x4 = A[pa + o4], x5 = A[pa + o5];
            FloatVector b0 = FloatVector.fromArray(S, B, pb), b1 = FloatVector.fromArray(S, B, pb + L);
            FloatVector x = FloatVector.broadcast(S, x0);
            v00 = x.fma(b0, v00); v01 = x.fma(b1, v01);
            x = FloatVector.broadcast(S, x1);
            v10 = x.fma(b0, v10); v11 = x.fma(b1, v11);
            x = FloatVector.broadcast(S, x2);
            v20 = x.fma(b0, v20); v21 = x.fma(b1, v21);
            x = FloatVector.broadcast(S, x3);
            v30 = x.fma(b0, v30); v31 = x.fma(b1, v31);
            x = FloatVector.broadcast(S, x4);
            v40 = x.fma(b0, v40); v41 = x.fma(b1, v41);
            x = FloatVector.broadcast(S, x5);
            v50 = x.fma(b0, v50); v51 = x.fma(b1, v51);
        }
        v00.intoArray(C, c); v01.intoArray(C, c + L);
        v10.intoArray(C, c1); v11.intoArray(C, c1 + L);
        v20.intoArray(C, c2); v21.intoArray(C, c2 + L);
        v30.intoArray(C, c3); v31.intoArray(C, c3 + L);
        v40.intoArray(C, c4); v41.intoArray(C, c4 + L);
        v50.intoArray(C, c5); v51.intoArray(C, c5 + L);
    }

    /** rows (1..6) x L tile; the first {@code keep} columns of C are left as they are (the overlapping right edge). */
    private static void tile6x1v(int rows, int K, float[] A, int a, int ars, int aks, float[] B, int b, int ldb,
                                float[] C, int c, int ldc, boolean acc, int keep) {
        final int r1 = Math.min(1, rows - 1), r2 = Math.min(2, rows - 1), r3 = Math.min(3, rows - 1), r4 = Math.min(4, rows - 1), r5 = Math.min(5, rows - 1);
        final int o1 = r1 * ars, o2 = r2 * ars, o3 = r3 * ars, o4 = r4 * ars, o5 = r5 * ars;
        final int c1 = c + r1 * ldc, c2 = c + r2 * ldc, c3 = c + r3 * ldc, c4 = c + r4 * ldc, c5 = c + r5 * ldc;
        FloatVector v0, v1, v2, v3, v4, v5;
        if (acc) {
            v0 = FloatVector.fromArray(S, C, c);  v1 = FloatVector.fromArray(S, C, c1); v2 = FloatVector.fromArray(S, C, c2);
            v3 = FloatVector.fromArray(S, C, c3); v4 = FloatVector.fromArray(S, C, c4); v5 = FloatVector.fromArray(S, C, c5);
        } else {
            FloatVector z = FloatVector.zero(S);
            v0 = z; v1 = z; v2 = z; v3 = z; v4 = z; v5 = z;
        }
        int pa = a, pb = b;
        for (int k = 0; k < K; k++, pa += aks, pb += ldb) {
            float x0 = A[pa], x1 = A[pa + o1], x2 = A[pa + o2], x3 = A[pa + o3], x4 = A[pa + o4], x5 = A[pa + o5];
            FloatVector b0 = FloatVector.fromArray(S, B, pb);
            v0 = FloatVector.broadcast(S, x0).fma(b0, v0);
            v1 = FloatVector.broadcast(S, x1).fma(b0, v1);
            v2 = FloatVector.broadcast(S, x2).fma(b0, v2);
            v3 = FloatVector.broadcast(S, x3).fma(b0, v3);
            v4 = FloatVector.broadcast(S, x4).fma(b0, v4);
            v5 = FloatVector.broadcast(S, x5).fma(b0, v5);
        }
        tail(v0, C, c, keep).intoArray(C, c);
        tail(v1, C, c1, keep).intoArray(C, c1);
        tail(v2, C, c2, keep).intoArray(C, c2);
        tail(v3, C, c3, keep).intoArray(C, c3);
        tail(v4, C, c4, keep).intoArray(C, c4);
        tail(v5, C, c5, keep).intoArray(C, c5);
    }

    /** Fewer than L columns (the score layers' N = 1): up to 6 rows at a time, scalar FMA chains. */
    private static void narrow(int rows, int N, int K, float[] A, int a, int ars, int aks, float[] B, int b, int ldb,
                               float[] C, int c, int ldc, boolean acc) {
        final int r1 = Math.min(1, rows - 1), r2 = Math.min(2, rows - 1), r3 = Math.min(3, rows - 1), r4 = Math.min(4, rows - 1), r5 = Math.min(5, rows - 1);
        final int o1 = r1 * ars, o2 = r2 * ars, o3 = r3 * ars, o4 = r4 * ars, o5 = r5 * ars;
        final int c1 = c + r1 * ldc, c2 = c + r2 * ldc, c3 = c + r3 * ldc, c4 = c + r4 * ldc, c5 = c + r5 * ldc;
        for (int j = 0; j < N; j++) {
            float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f, s4 = 0f, s5 = 0f;
            if (acc) {
                s0 = C[c + j]; s1 = C[c1 + j]; s2 = C[c2 + j]; s3 = C[c3 + j]; s4 = C[c4 + j]; s5 = C[c5 + j];
            }
            int pa = a, pb = b + j;
            for (int k = 0; k < K; k++, pa += aks, pb += ldb) {
                float y = B[pb];
                s0 = Math.fma(A[pa], y, s0);
                s1 = Math.fma(A[pa + o1], y, s1);
                s2 = Math.fma(A[pa + o2], y, s2);
                s3 = Math.fma(A[pa + o3], y, s3);
                s4 = Math.fma(A[pa + o4], y, s4);
                s5 = Math.fma(A[pa + o5], y, s5);
            }
            C[c + j] = s0;
            C[c1 + j] = s1;
            C[c2 + j] = s2;
            C[c3 + j] = s3;
            C[c4 + j] = s4;
            C[c5 + j] = s5;
        }
    }
}
