package io.augur.backend.cuda;

import jcuda.driver.CUresult;

/**
 * A failed CUDA driver call, named by the call and, for launches and the calls that follow one,
 * the kernel: {@code cuLaunchKernel(activation_unit_forward_kernel): CUDA_ERROR_INVALID_VALUE (1)}.
 * Kernels run asynchronously, so an error raised inside a kernel (an illegal address, say) is
 * reported by the next call that waits for the device; {@link #message} then names the last
 * kernel launched, the likeliest culprit.
 */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String call;
    private final String kernel;

    public CudaException(int code, String call, String kernel) {
        super(message(code, call, kernel));
        this.code = code;
        this.call = call;
        this.kernel = kernel;
    }

    /** The CUresult code. */
    public int code() { return code; }

    /** The driver call that failed, e.g. "cuLaunchKernel". */
    public String call() { return call; }

    /** The kernel the call concerned (or the last one launched), or null. */
    public String kernel() { return kernel; }

    /** Throws a {@link CudaException} unless {@code code} is CUDA_SUCCESS. */
    public static void check(int code, String call, String kernel) {
        if (code != CUresult.CUDA_SUCCESS) throw new CudaException(code, call, kernel);
    }

    public static void check(int code, String call) {
        check(code, call, null);
    }

    static String message(int code, String call, String kernel) {
        StringBuilder sb = new StringBuilder(call);
        if (kernel != null) sb.append('(').append(kernel).append(')');
        sb.append(": ").append(name(code)).append(" (").append(code).append(')');
        if (isSticky(code)) {
            sb.append("; the CUDA context is now unusable (a kernel faulted");
            if (kernel != null) sb.append(", probably ").append(kernel).append(" or a kernel launched just before it");
            sb.append("; compute-sanitizer names the faulting access)");
        } else if (code == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            sb.append("; the device has too little free memory for the planned arena (lower the batch size)");
        } else if (code == CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU || code == CUresult.CUDA_ERROR_INVALID_PTX
                || code == CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION) {
            sb.append("; the fatbin has no code this GPU and driver can run (rebuild with its architecture in CMakeLists.txt)");
        }
        return sb.toString();
    }

    /** CUDA_ERROR_CONTAINED and CUDA_ERROR_TENSOR_MEMORY_LEAK (CUDA 12.x), which JCuda 12.6's CUresult does not name. */
    static final int CONTAINED = 226, TENSOR_MEMORY_LEAK = 721;

    /**
     * Errors after which the context cannot be used any more (every later call fails too): those cuda.h documents
     * with "any further CUDA work will return the same error", and an uncorrectable ECC error.
     */
    static boolean isSticky(int code) {
        return code == CUresult.CUDA_ERROR_ILLEGAL_ADDRESS || code == CUresult.CUDA_ERROR_LAUNCH_FAILED
                || code == CUresult.CUDA_ERROR_MISALIGNED_ADDRESS || code == CUresult.CUDA_ERROR_ILLEGAL_INSTRUCTION
                || code == CUresult.CUDA_ERROR_INVALID_ADDRESS_SPACE || code == CUresult.CUDA_ERROR_INVALID_PC
                || code == CUresult.CUDA_ERROR_HARDWARE_STACK_ERROR || code == CUresult.CUDA_ERROR_ASSERT
                || code == CUresult.CUDA_ERROR_LAUNCH_TIMEOUT || code == CUresult.CUDA_ERROR_EXTERNAL_DEVICE
                || code == CUresult.CUDA_ERROR_ECC_UNCORRECTABLE || code == CONTAINED || code == TENSOR_MEMORY_LEAK;
    }

    /** The error's name, also for the codes JCuda 12.6 does not know. */
    static String name(int code) {
        return code == CONTAINED ? "CUDA_ERROR_CONTAINED" : code == TENSOR_MEMORY_LEAK ? "CUDA_ERROR_TENSOR_MEMORY_LEAK" : CUresult.stringFor(code);
    }
}
