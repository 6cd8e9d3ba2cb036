package io.augur.backend.cuda;

import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.Tensor;
import io.augur.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Assumptions;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Helpers of the GPU tests. {@link #assumeGpu()} skips a test (SKIPPED, with the reason) where
 * the CUDA backend cannot run, so {@code mvn test} passes on machines without a GPU and runs
 * everything where one is. One backend is opened per JVM and shared (a context costs time).
 */
public final class GpuTesting {
    private GpuTesting() {}

    private static CudaProbe.Outcome outcome;

    /** The shared CUDA backend (GEMM provider per -Daugur.gemm), or null with {@link #reason()}. */
    public static synchronized CudaBackend backend() {
        if (outcome == null) outcome = Backends.probeCuda();
        return outcome.backend();
    }

    public static synchronized String reason() {
        backend();
        return outcome.available() ? "GPU available" : outcome.reason();
    }

    public static boolean available() { return backend() != null; }

    /**
     * A backend of its own on the shared context (not to be closed) whose GEMM provider is the built-in kernels
     * behind {@link LibraryGemm} ({@link BuiltinBehindLibrary}): the paths that a library provider, cuBLAS, takes.
     */
    public static CudaBackend libraryGemmBackend() {
        return new CudaBackend(backend().runtime(), "builtin", BuiltinBehindLibrary::wrap);
    }

    /** Skips the calling test where there is no usable GPU. */
    public static void assumeGpu() {
        Assumptions.assumeTrue(available(), () -> "no GPU: " + reason());
        Assumptions.assumeFalse(Boolean.getBoolean("augur.test.emulator") && !emulated(),
                "this test run is the one against the CPU emulator, and the device found is not it (the emulator was not built here)");
    }

    /** assumeGpu, and a GPU with TF32 tensor cores (compute capability 8.0 and newer). */
    public static void assumeTensorCores() {
        assumeGpu();
        CudaRuntime rt = backend().runtime();
        Assumptions.assumeTrue(rt.ccMajor >= 8, () -> rt.name + " (compute capability " + rt.computeCapability() + ") has no TF32 tensor cores");
    }

    /**
     * Whether the device is the CPU emulator of the driver (cuda/emu, scripts/emu-test.sh): it runs
     * every kernel with CUDA's semantics but at CPU speed, so what measures speed skips there.
     */
    public static boolean emulated() {
        CudaBackend be = backend();
        return be != null && be.runtime().name.contains("emulator");
    }

    /** Skips the calling test unless a real GPU runs it (why: what the emulator cannot stand in for). */
    public static void assumeRealGpu(String why) {
        assumeGpu();
        Assumptions.assumeFalse(emulated(), () -> "the CUDA emulator runs this device: " + why);
    }

    /**
     * {@code main} of a test class in a JVM of its own (skipped unless the device is the CPU emulator), every tensor
     * its own allocation as in the emulated test run, with {@code env} added to the environment; its output (stdout
     * and stderr together), once it has ended within {@code seconds} with exit status 0. For the emulator's checks
     * that leave a CUDA context unusable, or that an environment variable read once switches.
     */
    public static String emulatedJvm(Class<?> main, java.util.Map<String, String> env, int seconds, String... args)
            throws java.io.IOException, InterruptedException {
        assumeGpu();
        Assumptions.assumeTrue(emulated(), "a check of the CPU emulator's");
        String sep = java.io.File.separator, launcher = System.getProperty("java.home") + sep + "bin" + sep + "java";
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(launcher, "-cp", System.getProperty("java.class.path")));
        // the module flags this JVM runs with (Arrow's buffers need java.nio opened), so a probe may read datasets
        for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
            if (a.startsWith("--add-opens") || a.startsWith("--add-modules") || a.startsWith("--enable-native-access")) cmd.add(a);
        cmd.add("-D" + CudaBackend.SEPARATE_ALLOCATIONS + "=true");
        cmd.add(main.getName());
        cmd.addAll(java.util.List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        org.junit.jupiter.api.Assertions.assertTrue(p.waitFor(seconds, java.util.concurrent.TimeUnit.SECONDS), main.getSimpleName() + " did not end:\n" + out);
        org.junit.jupiter.api.Assertions.assertEquals(0, p.exitValue(), main.getSimpleName() + "'s JVM ended abnormally:\n" + out);
        return out;
    }

    /** A quiet NaN with a recognisable payload: outputs start poisoned, so an element nobody wrote shows. */
    public static final float POISON = Float.intBitsToFloat(0x7fc00bad);

    /**
     * Runs {@code body} with one of {@code be}'s kernel settings changed (a property of {@link KernelTuning} and its
     * value, as -D would give it), and puts the settings back after it, whatever happens.
     */
    public static void withSetting(CudaBackend be, String property, String value, Runnable body) {
        KernelTuning before = be.tuning();
        be.setTuning(before.with(property, value));
        try {
            body.run();
        } finally {
            be.setTuning(before);
        }
    }

    /** The same tensor on the CPU reference and on the GPU. */
    public record Pair(Tensor cpu, Tensor gpu) {
        public Tensor on(Backend be) { return be instanceof CudaBackend ? gpu : cpu; }
    }

    /** Runs each op on the CPU reference and on a GPU backend, and compares what they wrote. */
    public static final class Twin implements AutoCloseable {
        public final CpuBackend cpu = CpuBackend.reference();
        public final CudaBackend gpu;

        public Twin(CudaBackend gpu) { this.gpu = gpu; }

        public Pair floats(String name, float[] data) {
            Pair p = new Pair(cpu.floats(name, data.length), gpu.floats(name, data.length));
            cpu.upload(p.cpu, data, data.length);
            gpu.upload(p.gpu, data, data.length);
            return p;
        }

        public Pair poisoned(String name, int n) {
            float[] a = new float[n];
            Arrays.fill(a, POISON);
            return floats(name, a);
        }

        public Pair ints(String name, int[] data) {
            Pair p = new Pair(cpu.ints(name, Math.max(1, data.length)), gpu.ints(name, Math.max(1, data.length)));
            cpu.upload(p.cpu, data, data.length);
            gpu.upload(p.gpu, data, data.length);
            return p;
        }

        /** Runs op on both backends. */
        public void both(Consumer<Backend> op) {
            op.accept(cpu);
            op.accept(gpu);
        }

        /**
         * Compares all of p: an element the reference left poisoned must be poisoned on the GPU too
         * (never written), every other element within atol + rtol |expected|.
         */
        public void assertClose(String what, Pair p, double atol, double rtol) {
            int n = p.cpu.size();
            float[] e = new float[n], a = new float[n];
            cpu.download(p.cpu, e, n);
            gpu.download(p.gpu, a, n);
            compare(what, e, a, atol, rtol);
        }

        @Override
        public void close() { cpu.close(); }
    }

    public static void compare(String what, float[] e, float[] a, double atol, double rtol) {
        int poison = Float.floatToRawIntBits(POISON), failed = 0;
        StringBuilder bad = new StringBuilder();
        for (int i = 0; i < e.length; i++) {
            boolean ok;
            if (Float.floatToRawIntBits(e[i]) == poison) ok = Float.floatToRawIntBits(a[i]) == poison;
            else ok = Math.abs((double) e[i] - a[i]) <= atol + rtol * Math.abs(e[i]);
            if (!ok && failed++ < 8) bad.append(String.format(Locale.ROOT, "\n  [%d] expected %.8g, got %.8g", i, e[i], a[i]));
        }
        if (failed > 0) {
            throw new AssertionError(String.format(Locale.ROOT, "%s: %d of %d elements outside %.1e + %.1e |expected| (or written where they should not be)%s",
                    what, failed, e.length, atol, rtol, bad));
        }
    }

    public static float[] uniform(SplittableRandom rng, int n, float lo, float hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * (float) rng.nextDouble();
        return a;
    }

    /** n values, the first `valid` random and the rest poisoned (rows past the batch). */
    public static float[] uniformPoisoned(SplittableRandom rng, int valid, int n, float lo, float hi) {
        float[] a = uniform(rng, n, lo, hi);
        Arrays.fill(a, valid, n, POISON);
        return a;
    }

    /** Lengths of B samples: 0, 1 and T first, then uniform in [0, T]. */
    public static int[] lengths(SplittableRandom rng, int B, int T) {
        int[] len = new int[B];
        for (int b = 0; b < B; b++) len[b] = b == 0 ? 0 : b == 1 ? 1 : b == 2 ? T : rng.nextInt(T + 1);
        return len;
    }

    public static int[] ids(SplittableRandom rng, int n, int V) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = rng.nextInt(V);
        return a;
    }
}
