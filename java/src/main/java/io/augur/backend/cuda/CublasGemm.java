package io.augur.backend.cuda;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.jcublas.cublasOperation;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

/**
 * The GEMM provider over cuBLAS through JCublas2. JCublas 12.6 links libcublas.so.12, so it loads
 * only where a CUDA 12 cuBLAS is installed; {@link #tryCreate} says why not otherwise.
 *
 * <p>cuBLAS is column-major; a row-major X (r, c) with leading dimension ld is, to it, X^T (c, r)
 * with the same ld. So the row-major C = op(A) op(B) is computed as the column-major
 * C^T = op(B)^T op(A)^T: operands swapped, each keeping its own transpose flag, m = N and n = M.
 * A bias is broadcast into C first ({@link LibraryGemm}) and the product added with beta = 1.
 * fp32 math mode by default, so results stay within fp32 rounding of the CPU reference;
 * {@link #setTf32} switches the handle to {@code CUBLAS_TF32_TENSOR_OP_MATH}.
 */
final class CublasGemm extends LibraryGemm {
    private final cublasHandle handle;
    private final Pointer one = Pointer.to(new float[] {1f});
    private final Pointer zero = Pointer.to(new float[] {0f});
    /** The handle's math mode (setTf32), part of each call's key: a graph captured in the other mode is not replayed. */
    private boolean tf32;

    private CublasGemm(CudaRuntime rt, cublasHandle handle) {
        super(rt);
        this.handle = handle;
    }

    /** A provider, or throws with the reason (no libcublas.so.12, or cuBLAS failed to start). */
    static CublasGemm tryCreate(CudaRuntime rt) {
        cublasHandle h = new cublasHandle();
        try {
            JCublas2.setExceptionsEnabled(false);
        } catch (Throwable t) {
            throw new IllegalStateException("JCublas2 did not load (" + t.getClass().getSimpleName() + ": " + firstLine(t.getMessage())
                    + "); JCublas 12.6 needs libcublas.so.12");
        }
        rt.makeCurrent();
        check(JCublas2.cublasCreate(h), "cublasCreate");
        check(JCublas2.cublasSetStream(h, new cudaStream_t(rt.compute)), "cublasSetStream");
        return new CublasGemm(rt, h);
    }

    private static String firstLine(String s) {
        if (s == null) return "no message";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static void check(int status, String call) {
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) throw new IllegalStateException(call + ": " + cublasStatus.stringFor(status));
    }

    @Override
    public String name() { return "cuBLAS 12 (JCublas2)"; }

    @Override
    public void setTf32(boolean on) {
        rt.makeCurrent();
        check(JCublas2.cublasSetMathMode(handle, on ? cublasMath.CUBLAS_TF32_TENSOR_OP_MATH : cublasMath.CUBLAS_DEFAULT_MATH),
                "cublasSetMathMode");
        tf32 = on;
    }

    @Override
    void product(long C, long A, long B, int M, int N, int K, int lda, int ldb, int ldc, boolean transA, boolean transB, boolean add) {
        int opB = transB ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        int opA = transA ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N;
        // every value the call depends on, so a replayed step can check it is the captured one
        long[] key = {C, A, B, M, N, K, lda, ldb, ldc, opA, opB, add ? 1 : 0, tf32 ? 1 : 0};
        rt.external("cublasSgemm", key, () -> {
            boolean timed = rt.beginTimed("cublasSgemm");   // cuBLAS's own kernels, as one region (augur bench --profile)
            int status = JCublas2.cublasSgemm(handle, opB, opA, N, M, K, one, rt.pointer(B), ldb, rt.pointer(A), lda,
                    add ? one : zero, rt.pointer(C), ldc);
            rt.endTimed(timed);
            check(status, "cublasSgemm");
        });
    }
}
