package io.augur.backend.cuda;

/**
 * The GEMM provider that needs nothing but our fatbin: {@code gemm_kernel} (cuda/gemm.cu), 64 x 64
 * tiles, one thread per 4 x 4 outputs, bias and accumulation in the epilogue. Deterministic.
 */
final class BuiltinGemm implements Gemm {
    private static final int TILE = 64;
    private final CudaRuntime rt;

    BuiltinGemm(CudaRuntime rt) { this.rt = rt; }

    @Override
    public String name() { return "built-in gemm_kernel"; }

    @Override
    public void gemm(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                     boolean transA, boolean transB, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        CudaRuntime.Args a = new CudaRuntime.Args().ptr(C).ptr(A).ptr(B).ptr(bias)
                .i(M).i(N).i(K).i(lda).i(ldb).i(ldc).i(transA ? 1 : 0).i(transB ? 1 : 0).i(accumulate ? 1 : 0);
        rt.launch(Kernels.GEMM, (N + TILE - 1) / TILE, (M + TILE - 1) / TILE, 256, 1, 0, a);
    }
}
