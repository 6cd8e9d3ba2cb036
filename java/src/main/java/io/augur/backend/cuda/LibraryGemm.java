package io.augur.backend.cuda;

/**
 * What a GEMM provider over a library (cuBLAS) does around the library's product: the library
 * computes C = op(A) op(B) (+ C), nothing more, so a bias is first broadcast into C by
 * bias_broadcast_kernel and the product then added to it; and the bias gradient is left to the
 * backend ({@link #weightGrad} returns false: bias_grad_kernel, or bias_grad_partials_kernel and
 * bias_grad_reduce_kernel over many rows). A library's sizes live on the host, so the backend
 * also walks the layer-by-layer attention unit over all B T rows (dense) with it, and runs a
 * linear layer's activation as a kernel of its own after the product.
 */
abstract class LibraryGemm implements Gemm {
    final CudaRuntime rt;

    LibraryGemm(CudaRuntime rt) { this.rt = rt; }

    /** C (M, N) = op(A) op(B), plus C where {@code add}: the library's call, on the compute stream. */
    abstract void product(long C, long A, long B, int M, int N, int K, int lda, int ldb, int ldc, boolean transA, boolean transB, boolean add);

    @Override
    public final void gemm(long C, long A, long B, long bias, int M, int N, int K, int lda, int ldb, int ldc,
                           boolean transA, boolean transB, boolean accumulate) {
        if (M <= 0 || N <= 0) return;
        if (bias != 0 && accumulate) throw new IllegalArgumentException("gemm: bias and accumulate together are not supported");
        boolean add = accumulate;
        if (bias != 0) {
            if (ldc != N) throw new IllegalArgumentException("gemm: a bias needs ldc == N");
            CudaRuntime.Args a = new CudaRuntime.Args().ptr(C).ptr(bias).i(M).i(N);
            rt.launch(Kernels.BIAS_BROADCAST, Kernels.blocks((long) M * N, Kernels.BLOCK, 65535), 1, Kernels.BLOCK, 1, 0, a);
            add = true;
        }
        product(C, A, B, M, N, K, lda, ldb, ldc, transA, transB, add);
    }
}
