package io.augur.cli;

import io.augur.backend.Backends;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.CudaProbe;
import io.augur.backend.cuda.CudaRuntime;
import io.augur.backend.cuda.Nvtx;
import io.augur.backend.cuda.TuningTable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code augur info}: the JVM, the CPU, and which backends can run here (and if not, why); on a GPU, the devices the
 * driver shows, and for one of them (cuda:0, or {@code --device cuda:N}) its driver, compute capability, memory and
 * GEMM provider.
 */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Show the JVM, the CPU and which backends are available.")
public final class InfoCommand implements Callable<Integer> {

    @Option(names = "--device", defaultValue = "cuda", description = "the GPU whose details to show: cuda or cuda:N (default: ${DEFAULT-VALUE}, "
            + "which is cuda:0)")
    String device;

    @Override
    public Integer call() {
        Backends.Device dev = Backends.parse(device);
        if (!dev.kind().equals("cuda")) throw new IllegalArgumentException("--device " + device + ": augur info shows a GPU's details: cuda or cuda:N");
        Runtime rt = Runtime.getRuntime();
        System.out.printf("augur      0.1.0%n");
        System.out.printf("jvm        %s %s (%s), max heap %,d MiB%n", System.getProperty("java.vm.name"), System.getProperty("java.version"),
                System.getProperty("java.vendor"), rt.maxMemory() >> 20);
        System.out.printf("os         %s %s %s%n", System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("os.arch"));
        System.out.printf("cpu        %s, %d cores available%n", cpuModel(), rt.availableProcessors());
        System.out.printf("backend    cpu: available (fast path, %d threads; --device cpu-reference runs the plain-loop specification)%n",
                rt.availableProcessors());
        CudaProbe.Outcome cuda = Backends.probeCuda(dev.ordinal());
        if (cuda.available()) {
            try (CudaBackend be = cuda.backend()) {
                CudaRuntime gpu = be.runtime();
                long[] mem = gpu.memoryInfo();
                System.out.printf("backend    cuda: available%n");
                List<CudaRuntime.DeviceInfo> all = CudaRuntime.visibleDevices();
                for (CudaRuntime.DeviceInfo d : all)
                    System.out.printf("device     %s%s%n", line(d), all.size() > 1 && d.ordinal() == gpu.ordinal() ? " (below)" : "");
                System.out.printf("gpu        cuda:%d %s, compute capability %s, %d SMs, %.1f GiB (%.1f GiB free)%n", gpu.ordinal(), gpu.name,
                        gpu.computeCapability(), gpu.multiprocessors, mem[1] / (double) (1L << 30), mem[0] / (double) (1L << 30));
                System.out.printf("driver     CUDA %s (libcuda.so.1 at %s)%n", gpu.driverVersionString(), CudaProbe.findLibcuda());
                System.out.printf("gemm       %s (-Daugur.gemm=auto|cublas|builtin)%n", be.gemm().name());
                System.out.printf("pdl        %s (-Daugur.cuda.pdl=auto|off)%n", gpu.programmaticLaunch());
                System.out.printf("kernels    %s (-Daugur.attention.*, -Daugur.tower.*, -Daugur.gemm.small; augur bench --autotune chooses them)%n",
                        be.tuning());
                System.out.printf("tuning     %s%n", tuningLine(be));
                System.out.printf("precision  fp32 (default); tf32, tf32x3 %s%n", gpu.ccMajor >= 8
                        ? "available (--precision tf32 or tf32x3: TF32 tensor cores)" : "not available (no TF32 tensor cores below compute capability 8.0)");
            }
        } else {
            System.out.printf("backend    cuda: not available: %s%n", cuda.reason());
            if (cuda.visible() > 0)   // the driver answered, but the device asked for is not there: list what is
                for (CudaRuntime.DeviceInfo d : CudaRuntime.visibleDevices()) System.out.printf("device     %s%n", line(d));
        }
        System.out.printf("nvtx       %s (-D%s=auto|on|off)%n", Nvtx.describe(), Nvtx.PROPERTY);
        return 0;
    }

    /** The shipped tuning table's entries for this device (train and bench apply them; --tuning picks another table). */
    static String tuningLine(CudaBackend be) {
        try {
            TuningTable t = TuningTable.shipped();
            long mine = t.entriesFor(be);
            return String.format("%s: %d entries, %d for this device (train and bench apply the entry for their model and batch size; "
                    + "--tuning FILE|off)", t.source(), t.entries().size(), mine);
        } catch (RuntimeException e) {
            return "the shipped table cannot be read: " + e.getMessage();
        }
    }

    private static String line(CudaRuntime.DeviceInfo d) {
        return String.format("cuda:%d %s, compute capability %s, %d SMs, %.1f GiB", d.ordinal(), d.name(), d.computeCapability(), d.multiprocessors(),
                d.totalMemory() / (double) (1L << 30));
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or unreadable: fall through
        }
        return System.getProperty("os.arch");
    }
}
