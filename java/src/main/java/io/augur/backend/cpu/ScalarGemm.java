package io.augur.backend.cpu;

/**
 * The portable GEMM of the fast CPU path: plain Java loops that HotSpot's C2 auto-vectorises.
 * {@link CpuGemm} uses it when the Vector API module is absent (or {@code -Daugur.gemm=scalar});
 * the contract (shapes, offsets, leading dimensions, row split) is the one documented there.
 *
 * <p>The inner loops are written as four fused axpys over a contiguous output row
 * ({@code c[j] += x0 b0[j] + x1 b1[j] + x2 b2[j] + x3 b3[j]}): C2 turns that into SIMD, and
 * taking four rows of B per pass cuts the loads and stores of C by four. On the 2-core
 * development machine it runs at about 6.4 GFLOP/s per core, against 4.2 for a 4-row register
 * block (which C2 does not vectorize) and 6.1 for a plain axpy.
 */
final class ScalarGemm {
    private ScalarGemm() {}

    /**
     * C[M, N] = (accumulate ? C : 0) + A[M, K] B[K, N].
     */
    static void nn(int M, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                   float[] C, int cOff, int ldc, boolean accumulate) {
        for (int i = 0; i < M; i++) {
            int c0 = cOff + i * ldc;
            int a0 = aOff + i * lda;
            if (!accumulate) java.util.Arrays.fill(C, c0, c0 + N, 0f);
            int k = 0;
            for (; k + 4 <= K; k += 4) {
                float x0 = A[a0 + k], x1 = A[a0 + k + 1], x2 = A[a0 + k + 2], x3 = A[a0 + k + 3];
                int b0 = bOff + k * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
                for (int j = 0; j < N; j++) {
                    C[c0 + j] += x0 * B[b0 + j] + x1 * B[b1 + j] + x2 * B[b2 + j] + x3 * B[b3 + j];
                }
            }
            for (; k < K; k++) {
                float x = A[a0 + k];
                int bk = bOff + k * ldb;
                for (int j = 0; j < N; j++) C[c0 + j] += x * B[bk + j];
            }
        }
    }

    /**
     * C[M, N] += A[K, M]^T B[K, N]: the weight gradient x^T dy, reducing over the K batch rows.
     * Only rows [m0, m1) of C are computed, so threads can split C's rows.
     */
    static void tn(int m0, int m1, int N, int K, float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                   float[] C, int cOff, int ldc) {
        int r = 0;
        for (; r + 4 <= K; r += 4) {
            int a0 = aOff + r * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            int b0 = bOff + r * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
            for (int m = m0; m < m1; m++) {
                float x0 = A[a0 + m], x1 = A[a1 + m], x2 = A[a2 + m], x3 = A[a3 + m];
                if (x0 == 0f && x1 == 0f && x2 == 0f && x3 == 0f) continue;
                int c0 = cOff + m * ldc;
                for (int j = 0; j < N; j++) {
                    C[c0 + j] += x0 * B[b0 + j] + x1 * B[b1 + j] + x2 * B[b2 + j] + x3 * B[b3 + j];
                }
            }
        }
        for (; r < K; r++) {
            int a0 = aOff + r * lda, b0 = bOff + r * ldb;
            for (int m = m0; m < m1; m++) {
                float x = A[a0 + m];
                if (x == 0f) continue;
                int c0 = cOff + m * ldc;
                for (int j = 0; j < N; j++) C[c0 + j] += x * B[b0 + j];
            }
        }
    }

    /** dst[cols, rows] = src[rows, cols]^T. */
    static void transpose(float[] src, int sOff, int rows, int cols, float[] dst, int dOff) {
        for (int i = 0; i < rows; i++) {
            int s = sOff + i * cols;
            for (int j = 0; j < cols; j++) dst[dOff + j * rows + i] = src[s + j];
        }
    }
}
