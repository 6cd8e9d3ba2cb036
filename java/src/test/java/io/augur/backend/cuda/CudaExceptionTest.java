package io.augur.backend.cuda;

import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Driver errors become exceptions that name the call, the kernel and the error (no GPU needed: CUresult is plain Java). */
class CudaExceptionTest {

    @Test
    void namesCallKernelAndError() {
        CudaException e = assertThrows(CudaException.class,
                () -> CudaException.check(CUresult.CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel", Kernels.ACTIVATION_UNIT_FORWARD));
        assertEquals("cuLaunchKernel(activation_unit_forward_kernel): CUDA_ERROR_INVALID_VALUE (1)", e.getMessage());
        assertEquals(Kernels.ACTIVATION_UNIT_FORWARD, e.kernel());
        assertEquals("cuLaunchKernel", e.call());
        assertEquals(1, e.code());
        assertDoesNotThrow(() -> CudaException.check(CUresult.CUDA_SUCCESS, "cuInit"));
    }

    @Test
    void aFaultSaysTheContextIsLostAndSuspectsTheLastKernel() {
        String m = new CudaException(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, "cuStreamSynchronize(compute)", Kernels.GEMM).getMessage();
        assertTrue(m.startsWith("cuStreamSynchronize(compute)(gemm_kernel): CUDA_ERROR_ILLEGAL_ADDRESS (700)"), m);
        assertTrue(m.contains("unusable") && m.contains("probably gemm_kernel"), m);
    }

    /**
     * cuda.h's other codes after which "any further CUDA work will return the same error": each one says the
     * context is lost (and a programmatic launch that gets one does not take it for a refusal), including the two
     * JCuda 12.6 does not name; a refusal such as CUDA_ERROR_NOT_SUPPORTED is not sticky.
     */
    @Test
    void everyCodeThatLosesTheContextIsSticky() {
        for (int code : new int[] {CUresult.CUDA_ERROR_MISALIGNED_ADDRESS, CUresult.CUDA_ERROR_LAUNCH_TIMEOUT, CUresult.CUDA_ERROR_EXTERNAL_DEVICE,
                CudaException.CONTAINED, CudaException.TENSOR_MEMORY_LEAK, CUresult.CUDA_ERROR_ECC_UNCORRECTABLE}) {
            assertTrue(CudaException.isSticky(code), "code " + code);
            assertTrue(new CudaException(code, "cuLaunchKernelEx", Kernels.OPTIMIZER_STEP).getMessage().contains("unusable"), "code " + code);
        }
        String m = new CudaException(CudaException.CONTAINED, "cuStreamSynchronize(compute)", null).getMessage();
        assertTrue(m.startsWith("cuStreamSynchronize(compute): CUDA_ERROR_CONTAINED (226)"), m);
        assertFalse(CudaException.isSticky(CUresult.CUDA_ERROR_NOT_SUPPORTED));
        assertFalse(CudaException.isSticky(CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED));
    }

    @Test
    void outOfMemoryAndMissingBinaryGiveAdvice() {
        assertTrue(new CudaException(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(1 bytes)", null).getMessage().contains("batch size"));
        String m = new CudaException(CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, "cuModuleLoadData(cuda/augur.fatbin)", null).getMessage();
        assertTrue(m.startsWith("cuModuleLoadData(cuda/augur.fatbin): CUDA_ERROR_NO_BINARY_FOR_GPU"), m);
        assertTrue(m.contains("CMakeLists.txt"), m);
    }

    @Test
    void statusBitsAreDescribed() {
        assertEquals("", DeviceStatus.describe(0));
        String m = DeviceStatus.describe(DeviceStatus.BAD_ID | DeviceStatus.SPARSE_OVERFLOW | 64);
        assertTrue(m.contains("embedding id outside its table"), m);
        assertTrue(m.contains("maxIdsPerStep"), m);
        assertTrue(m.contains("unknown status bits 0x40"), m);
        assertTrue(DeviceStatus.describe(DeviceStatus.BAD_LENGTH).contains("[0, T]"));
        assertTrue(DeviceStatus.describe(DeviceStatus.NONFINITE_GRAD).contains("NaN"));
        assertTrue(DeviceStatus.describe(DeviceStatus.BAD_ROW).contains("row number outside the resident training file"));
    }
}
