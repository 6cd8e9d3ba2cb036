package io.augur.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The machine a benchmark ran on, and the process's peak memory (Linux /proc, with fallbacks). */
final class HostInfo {
    private HostInfo() {}

    /** CPU, cores, memory, JVM, OS, host name and the load average now. */
    static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("host", hostName());
        m.put("cpu", InfoCommand.cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("memory_gib", Math.round(procKib("/proc/meminfo", "MemTotal:") / 1048576.0 * 10) / 10.0);
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("load_average_1m", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        return m;
    }

    static String hostName() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
        } catch (IOException | RuntimeException e) {
            String h = System.getenv("HOSTNAME");
            return h != null ? h : "unknown";
        }
    }

    /**
     * The source tree's commit (git rev-parse --short HEAD, with "+dirty" when files changed), or, where there is no
     * git (the bundle of scripts/dist.sh, whose launcher sets it), the system property augur.build.commit; or null.
     */
    static String gitCommit() {
        String built = System.getProperty("augur.build.commit");
        if (built != null && !built.isBlank()) return built.trim();
        try {
            String head = run("git", "rev-parse", "--short", "HEAD");
            if (head == null || head.isBlank()) return null;
            String status = run("git", "status", "--porcelain", "--untracked-files=no");
            return head.trim() + (status != null && !status.isBlank() ? "+dirty" : "");
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) return null;
            return out;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /**
     * Starts a new peak-memory window: resets the kernel's peak resident set (VmHWM, by writing 5 to
     * /proc/self/clear_refs; needs Linux 4.0+) and the JVM heap pools' peaks.
     * @return whether the resident-set peak could be reset (if not, it is the process's lifetime peak)
     */
    static boolean resetPeaks() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) p.resetPeakUsage();
        }
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The peak resident set of this process (VmHWM) in MiB since the last reset, or -1 where /proc is missing. */
    static double peakRssMib() {
        long kib = procKib("/proc/self/status", "VmHWM:");
        return kib < 0 ? -1 : kib / 1024.0;
    }

    /** Sum of the heap pools' peak usage since the last reset, in MiB (an upper bound of the heap's peak). */
    static double peakHeapMib() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) sum += p.getPeakUsage().getUsed();
        }
        return sum / 1048576.0;
    }

    /** A "Key:   123 kB" line's number from a /proc file, or -1. */
    private static long procKib(String file, String key) {
        try {
            for (String line : Files.readAllLines(Path.of(file))) {
                if (line.startsWith(key)) {
                    String v = line.substring(key.length()).trim();
                    return Long.parseLong(v.split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return -1;
    }
}
