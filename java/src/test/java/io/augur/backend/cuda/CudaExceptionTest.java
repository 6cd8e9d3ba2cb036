package io.augur.backend.cuda;

import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
