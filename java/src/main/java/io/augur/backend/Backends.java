package io.augur.backend;

import io.augur.backend.cpu.CpuBackend;
import io.augur.backend.cuda.CudaProbe;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.util.Locale;

/**
 * Chooses the backend for {@code --device auto|cpu|cpu-reference|cuda|cuda:N} and says why.
 * {@code auto} takes the GPU (device 0) when libcuda.so.1, a device and our kernels all load
 * ({@link CudaProbe}), else the CPU, and logs the reason; {@code cuda} is device 0 and
 * {@code cuda:N} device N, numbered as the driver numbers the devices that CUDA_VISIBLE_DEVICES
 * leaves visible (as PyTorch's {@code torch.device("cuda:N")}); either fails with the reason where
 * it cannot run. The GEMM provider of the GPU path is chosen by the system property
 * {@code augur.gemm} (auto, cublas, builtin).
 */
public final class Backends {
    private static final Logger LOG = LogManager.getLogger(Backends.class);

    private Backends() {}

    /** A parsed {@code --device} value: kind auto, cpu, cpu-reference or cuda, and for cuda the device number. */
    public record Device(String kind, int ordinal) {}

    /**
     * Parses a {@code --device} value (case-insensitive); throws IllegalArgumentException naming the value and
     * the forms expected. No device is opened, so commands check it before they read or write anything.
     */
    public static Device parse(String device) {
        String d = device.trim().toLowerCase(Locale.ROOT);
        switch (d) {
            case "auto", "cpu", "cpu-reference", "cuda":
                return new Device(d, 0);
            default:
                if (d.startsWith("cuda:")) {
                    String n = d.substring("cuda:".length());
                    if (!n.isEmpty() && n.length() <= 4 && n.chars().allMatch(Character::isDigit)) return new Device("cuda", Integer.parseInt(n));
                    throw new IllegalArgumentException("unknown device '" + device + "': after cuda: comes a device number (0, 1, ...; augur info lists them)");
                }
                throw new IllegalArgumentException("unknown device '" + device + "' (expected auto, cpu, cpu-reference, cuda or cuda:N)");
        }
    }

    /** Opens the CUDA backend on device 0, or says why it cannot run here. */
    public static CudaProbe.Outcome probeCuda() { return probeCuda(0); }

    /** Opens the CUDA backend on device {@code ordinal}, or says why it cannot run here. */
    public static CudaProbe.Outcome probeCuda(int ordinal) {
        return CudaProbe.open(CudaProbe.system(CudaProbe.gemmChoice()), ordinal);
    }

    /**
     * @param device  auto, cpu, cpu-reference, cuda or cuda:N
     * @param threads CPU threads (0 = all cores)
     */
    public static Backend create(String device, int threads) {
        Device dev = parse(device);
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        switch (dev.kind()) {
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
            default: {   // cuda
                CudaProbe.Outcome o = probeCuda(dev.ordinal());
                if (o.available()) return o.backend();
                throw new IllegalArgumentException("--device " + device + " cannot run: the CUDA backend is unavailable: " + o.reason()
                        + ". Use --device cpu or auto.");
            }
        }
    }
}
