package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Chooses the backend for {@code --device auto|cpu|cuda} and says why. The CUDA backend is not
 * part of this build yet: {@code cuda} fails with a clear message and {@code auto} logs that it
 * runs on the CPU and why.
 */
public final class Backends {
    private static final Logger LOG = LogManager.getLogger(Backends.class);

    private Backends() {}

    /** Why the GPU path cannot run here, or null if it could. */
    public static String cudaUnavailableReason() {
        StringBuilder why = new StringBuilder("the CUDA backend is not part of this build yet (it lands with the CUDA-backend issue)");
        Path libcuda = findLibcuda();
        why.append("; libcuda.so.1 ").append(libcuda == null ? "not found" : "found at " + libcuda);
        why.append("; kernels ").append(Backends.class.getResource("/cuda/augur.fatbin") == null
                ? "not in this build (nvcc was absent)" : "built (cuda/augur.fatbin)");
        return why.toString();
    }

    /** The first libcuda.so.1 on the usual library paths, or null. */
    public static Path findLibcuda() {
        String ld = System.getenv().getOrDefault("LD_LIBRARY_PATH", "");
        List<String> dirs = new java.util.ArrayList<>(List.of(ld.split(":")));
        dirs.addAll(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64", "/usr/lib/wsl/lib", "/usr/local/cuda/compat"));
        for (String d : dirs) {
            if (d.isBlank()) continue;
            Path p = Path.of(d, "libcuda.so.1");
            if (Files.exists(p)) return p;
        }
        return null;
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
            case "auto":
                LOG.info("device auto: using the CPU ({} threads) because {}", n, cudaUnavailableReason());
                return new CpuBackend(false, n);
            case "cuda":
                throw new IllegalArgumentException("--device cuda cannot run: " + cudaUnavailableReason() + ". Use --device cpu or auto.");
            default:
                throw new IllegalArgumentException("unknown device '" + device + "' (expected auto, cpu, cpu-reference or cuda)");
        }
    }
}
