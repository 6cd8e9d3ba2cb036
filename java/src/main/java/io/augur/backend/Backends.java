package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import io.augur.backend.cuda.CudaProbe;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.util.Locale;

/**
 * Chooses the backend for {@code --device auto|cpu|cpu-reference|cuda} and says why.
 * {@code auto} takes the GPU when libcuda.so.1, a device and our kernels all load
 * ({@link CudaProbe}), else the CPU, and logs the reason; {@code cuda} fails with that reason.
 * The GEMM provider of the GPU path is chosen by the system property {@code augur.gemm}
 * (auto, cublas, builtin).
 */
public final class Backends {
    private static final Logger LOG = LogManager.getLogger(Backends.class);

    private Backends() {}

    /** Opens the CUDA backend, or says why it cannot run here. */
    public static CudaProbe.Outcome probeCuda() {
        return CudaProbe.open(CudaProbe.system(CudaProbe.gemmChoice()));
    }

    /**
     * @param device  auto, cpu, cpu-reference or cuda
     * @param threads CPU threads (0 = all cores)
     */
    public static Backend create(String device, int threads) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        switch (device.toLowerCase(Locale.ROOT)) {
            case "cpu":
                return new CpuBackend(false, n);
            case "cpu-reference":
                return CpuBackend.reference();
            case "auto": {
                CudaProbe.Outcome o = probeCuda();
                if (o.available()) {
                    LOG.info("device auto: using the GPU: {}", o.backend().describe());
                    return o.backend();
                }
                LOG.info("device auto: using the CPU ({} threads) because {}", n, o.reason());
                return new CpuBackend(false, n);
            }
            case "cuda": {
                CudaProbe.Outcome o = probeCuda();
                if (o.available()) return o.backend();
                throw new IllegalArgumentException("--device cuda cannot run: the CUDA backend is unavailable: " + o.reason() + ". Use --device cpu or auto.");
            }
            default:
                throw new IllegalArgumentException("unknown device '" + device + "' (expected auto, cpu, cpu-reference or cuda)");
        }
    }
}
