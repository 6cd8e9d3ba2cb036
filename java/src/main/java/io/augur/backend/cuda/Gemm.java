package io.augur.backend.cuda;

/**
 * Single-precision matrix products on the compute stream, row-major:
 * <pre>
 *   C (M, N) = op(A) (M, K) op(B) (K, N)  [+ C when accumulate]  [+ bias[n] when bias != 0]
 *   op(A) = A (M, K), lda &gt;= K, or with transA A stored (K, M), lda &gt;= M
 *   op(B) = B (K, N), ldb &gt;= N, or with transB B stored (N, K), ldb &gt;= K
 * </pre>
 * Addresses are device addresses (0 = no bias). bias and accumulate are not combined.
 * Two providers: {@link CublasGemm} (JCublas2, where libcublas.so.12 loads) and
 * {@link BuiltinGemm} (our gemm_kernel, everywhere). The backend logs which one runs.
 * Both compute in fp32 unless {@link #setTf32} turns the TF32 tensor cores on.
 */
public interface Gemm {
    /** "cuBLAS 12 (JCublas2)" or "built-in gemm_kernel". */
    String name();

    /**
     * Products on the TF32 tensor cores (true; compute capability 8.0 and newer) or in fp32 (false,
     * the default), from the next product on. The caller checks the compute capability.
     */
    void setTf32(boolean on);

    void gemm(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
              boolean transA, boolean transB, boolean accumulate);

    /**
     * A linear layer's weight gradient, dW (in, out) += x^T dy with x (rows, in) and dy (rows, out),
     * and where the provider can fold it into the same product, the bias gradient db (out) += the
     * column sums of dy. Returns whether it did db; if not (or db is 0) the caller sums it.
     */
    default boolean weightGrad(long dW, long db, long x, long dy, int rows, int in, int out) {
        gemm(dW, x, dy, 0, in, out, rows, in, out, out, true, false, true);
        return false;
    }
}
