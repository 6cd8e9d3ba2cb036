package io.augur.backend.cuda;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The device cannot hold what was planned: an arena segment's allocation failed with
 * CUDA_ERROR_OUT_OF_MEMORY. The message says which device, how much the plan asked for in one
 * piece, what the device had free of its total and how much of it Augur already held, the
 * largest planned tensors by name, and what to lower:
 * <pre>
 * cuda:0 NVIDIA H200: out of device memory: the planned tensors need 21.49 GiB in one allocation,
 * the device has 14.87 GiB free of 16.00 GiB (Augur holds 120.0 MiB of it). The largest planned:
 * aux.x 8.20 GiB, ... (5 of 312 tensors, 84% of the 21.49 GiB). Lower the batch size (train's
 * --batch-size and --eval-batch-size, bench's --batch-sizes): a step's activations and workspaces
 * grow with it.
 * </pre>
 * An {@link IllegalStateException}, so the command line ends with that one line and exit status 2
 * instead of a stack trace. The context stays usable (an allocation that fails is not a fault).
 */
public final class DeviceMemoryException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /** How many of the largest planned tensors the message names. */
    static final int NAMED = 5;

    private final long requested, free, total;

    DeviceMemoryException(String device, long requested, long free, long total, long held, List<Arena.Slice> planned, CudaException cause) {
        super(message(device, requested, free, total, held, planned), cause);
        this.requested = requested;
        this.free = free;
        this.total = total;
    }

    /** Bytes the failed allocation asked for. */
    public long requested() { return requested; }

    /** The device's free bytes after the failure, as cuMemGetInfo gave them. */
    public long free() { return free; }

    /** The device's total bytes. */
    public long total() { return total; }

    static String message(String device, long requested, long free, long total, long held, List<Arena.Slice> planned) {
        StringBuilder sb = new StringBuilder(device).append(": out of device memory: the planned tensors need ").append(amount(requested))
                .append(" in one allocation, the device has ").append(amount(free)).append(" free of ").append(amount(total));
        if (held > 0) sb.append(" (Augur holds ").append(amount(held)).append(" of it)");
        sb.append('.');
        if (!planned.isEmpty()) {
            List<Arena.Slice> largest = new ArrayList<>(planned);
            largest.sort(Comparator.comparingLong(Arena.Slice::bytes).reversed());   // stable: ties keep the plan's order
            largest = largest.subList(0, Math.min(NAMED, largest.size()));
            long named = 0;
            List<String> parts = new ArrayList<>();
            for (Arena.Slice s : largest) {
                parts.add(s.name() + " " + amount(s.bytes()));
                named += s.bytes();
            }
            sb.append(" The largest planned: ").append(String.join(", ", parts)).append(" (").append(largest.size()).append(" of ")
                    .append(planned.size()).append(planned.size() == 1 ? " tensor, " : " tensors, ")
                    .append(Math.round(100.0 * named / Math.max(1, requested))).append("% of the ").append(amount(requested)).append(").");
        }
        sb.append(" Lower the batch size (train's --batch-size and --eval-batch-size, bench's --batch-sizes): a step's activations and")
                .append(" workspaces grow with it.");
        return sb.toString();
    }

    /** Bytes in GiB with two decimals ("21.49 GiB"); under 1 GiB in MiB with one ("62.3 MiB"). */
    static String amount(long bytes) {
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20));
    }
}
