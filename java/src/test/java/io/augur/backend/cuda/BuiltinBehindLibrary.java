package io.augur.backend.cuda;

/**
 * The built-in kernels behind {@link LibraryGemm}, for tests: the products are gemm_kernel's (or
 * gemm_tf32_kernel's), everything around them is what {@link CublasGemm} does, so the backend
 * takes a library provider's paths (bias broadcast, bias gradients of their own, the
 * layer-by-layer unit over dense rows, activations after the product) on machines without
 * cuBLAS (libcublas.so.12): the emulator, and the H200 here. gemm_small_kernel is off, so that the
 * products stay on the tiled kernel as a library's would on any shape.
 */
final class BuiltinBehindLibrary extends LibraryGemm {
    private final BuiltinGemm inner;

    BuiltinBehindLibrary(BuiltinGemm inner) {
        super(inner.rt());
        this.inner = inner;
        inner.setSmall(BuiltinGemm.Small.OFF);
    }

    /** For CudaBackend's provider argument: the built-in provider it chose, put behind the library's interface. */
    static Gemm wrap(Gemm chosen) { return new BuiltinBehindLibrary((BuiltinGemm) chosen); }

    @Override
    public String name() { return "a library provider's interface over the built-in gemm_kernel (tests)"; }

    @Override
    public void setTf32(boolean on) { inner.setTf32(on); }

    @Override
    void product(long C, long A, long B, int M, int N, int K, int lda, int ldb, int ldc, boolean transA, boolean transB, boolean add) {
        inner.gemm(C, A, B, 0L, M, N, K, lda, ldb, ldc, transA, transB, add);
    }
}
