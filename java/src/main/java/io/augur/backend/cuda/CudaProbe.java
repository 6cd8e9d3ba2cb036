package io.augur.backend.cuda;

import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether the GPU path can run here, and if not, why (DESIGN.md §5): it needs libcuda.so.1 (the
 * NVIDIA driver), our kernels in this build, JCuda's driver binding, a device, and the fatbin
 * loading on that device. The checks run cheapest first and stop at the first that fails, so a
 * machine without a driver never loads a native library. {@code --device auto} takes the CPU
 * with the reason; {@code --device cuda} fails with it.
 */
public final class CudaProbe {
    private CudaProbe() {}

    /** Class-path resource of the fatbin that Maven packs (scripts/build-kernels.sh). */
    public static final String FATBIN = "/cuda/augur.fatbin";

    /** The steps, each replaceable in tests. */
    public interface Checks {
        /** Where libcuda.so.1 is, or null. */
        Path findLibcuda();
        /** The fatbin's bytes, or null when this build has none. */
        byte[] fatbin();
        /** Loads JCuda's driver binding; throws (UnsatisfiedLinkError, ...) when it cannot. */
        void loadBinding();
        /** cuInit's CUresult. */
        int initDriver();
        /** Devices visible (after a successful init). */
        int deviceCount();
        /** Opens the backend on device {@code ordinal} with the fatbin; throws CudaException naming the failing call. */
        CudaBackend open(byte[] fatbin, int ordinal);
    }

    /** The backend, or the reason there is none; {@code visible}: where the device asked for is past them, the devices the driver counted, else -1. */
    public record Outcome(CudaBackend backend, String reason, int visible) {
        Outcome(CudaBackend backend, String reason) { this(backend, reason, -1); }

        public boolean available() { return backend != null; }
    }

    /** {@link #open(Checks, int)} on device 0. */
    public static Outcome open(Checks c) { return open(c, 0); }

    /**
     * Runs the checks in order and opens the backend on device {@code ordinal} (cuda:N; the driver numbers the
     * devices CUDA_VISIBLE_DEVICES leaves visible from 0), or says which check failed.
     */
    public static Outcome open(Checks c, int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("device number " + ordinal + ": expected 0 or more");
        Path lib = c.findLibcuda();
        if (lib == null) {
            return new Outcome(null, "libcuda.so.1 (the NVIDIA driver) was not found on LD_LIBRARY_PATH, in the ld.so cache or in the usual driver folders");
        }
        byte[] fatbin = c.fatbin();
        if (fatbin == null) {
            return new Outcome(null, "this build has no CUDA kernels (nvcc was not on the PATH when it was built; install the CUDA toolkit and rebuild)");
        }
        try {
            c.loadBinding();
        } catch (Throwable t) {
            return new Outcome(null, "JCuda's driver binding did not load (" + t.getClass().getSimpleName() + ": " + t.getMessage() + ")");
        }
        int init = c.initDriver();
        if (init != CUresult.CUDA_SUCCESS) {
            String what = init == CUresult.CUDA_ERROR_NO_DEVICE ? "no CUDA device is visible (check CUDA_VISIBLE_DEVICES and the driver)"
                    : init == CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ? "the NVIDIA kernel driver and " + lib + " do not match"
                    : "the driver did not initialise";
            return new Outcome(null, what + ": cuInit returned " + CUresult.stringFor(init) + " (" + init + ")");
        }
        int n = c.deviceCount();
        if (n < 1) return new Outcome(null, "no CUDA device is visible (cuDeviceGetCount = " + n + "; check CUDA_VISIBLE_DEVICES)");
        if (ordinal >= n) {
            String visible = System.getenv("CUDA_VISIBLE_DEVICES");
            return new Outcome(null, "device cuda:" + ordinal + " does not exist: " + n + " CUDA device" + (n == 1 ? " is" : "s are") + " visible ("
                    + (n == 1 ? "cuda:0" : "cuda:0 to cuda:" + (n - 1)) + (visible != null ? "; CUDA_VISIBLE_DEVICES=" + visible : "")
                    + "; augur info lists them)", n);
        }
        try {
            return new Outcome(c.open(fatbin, ordinal), null);
        } catch (RuntimeException | LinkageError e) {
            return new Outcome(null, "the CUDA backend could not start: " + e.getMessage());
        }
    }

    /** The real machine's checks. */
    public static Checks system(String gemm) {
        return new Checks() {
            @Override public Path findLibcuda() { return CudaProbe.findLibcuda(); }
            @Override public byte[] fatbin() { return readFatbin(); }
            @Override public void loadBinding() { JCudaDriver.setExceptionsEnabled(false); }
            @Override public int initDriver() { return JCudaDriver.cuInit(0); }
            @Override public int deviceCount() {
                int[] n = new int[1];
                int r = JCudaDriver.cuDeviceGetCount(n);
                return r == CUresult.CUDA_SUCCESS ? n[0] : 0;
            }
            @Override public CudaBackend open(byte[] fatbin, int ordinal) {
                CudaRuntime rt = CudaRuntime.open(ordinal, fatbin);
                try {
                    return new CudaBackend(rt, gemm);
                } catch (RuntimeException e) {
                    rt.close();
                    throw e;
                }
            }
        };
    }

    /** The GEMM provider choice: system property augur.gemm (auto, cublas, builtin), auto by default. */
    public static String gemmChoice() {
        return System.getProperty("augur.gemm", "auto").trim().toLowerCase(java.util.Locale.ROOT);
    }

    /** The fatbin packed into this build, or null. */
    public static byte[] readFatbin() {
        try (InputStream in = CudaProbe.class.getResourceAsStream(FATBIN)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    /** Folders where drivers put libcuda.so.1, after LD_LIBRARY_PATH. */
    static final List<String> DRIVER_DIRS = List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/wsl/lib", "/usr/local/cuda/compat", "/usr/lib/aarch64-linux-gnu");

    /** The first libcuda.so.1 on LD_LIBRARY_PATH, in the ld.so cache or in {@link #DRIVER_DIRS}, or null. */
    public static Path findLibcuda() {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("LD_LIBRARY_PATH", "").split(":")));
        dirs.addAll(DRIVER_DIRS);
        for (String d : dirs) {
            if (d.isBlank()) continue;
            Path p = Path.of(d, "libcuda.so.1");
            if (Files.exists(p)) return p;
        }
        return fromLdCache(Path.of("/etc/ld.so.cache"));
    }

    /** The path of libcuda.so.1 recorded in an ld.so cache file, or null. */
    static Path fromLdCache(Path cache) {
        try {
            if (!Files.isRegularFile(cache)) return null;
            String text = new String(Files.readAllBytes(cache), StandardCharsets.ISO_8859_1);
            for (String s : text.split("\0")) {
                if (s.startsWith("/") && s.endsWith("/libcuda.so.1") && Files.exists(Path.of(s))) return Path.of(s);
            }
        } catch (IOException | RuntimeException e) {
            // unreadable cache: not found
        }
        return null;
    }
}
