package io.augur.backend.cuda;

import io.augur.cli.CliTest;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by {@link DeviceMemoryTest} in a JVM of its own on an emulated device of AUGUR_EMU_MEMORY_MIB. {@code plan}:
 * {@link DeviceMemoryTest#planLargerThanTheDevice} (its assertions end the JVM abnormally if one fails). {@code train}:
 * generates the tiny world, trains DIN on it at a batch whose plan does not fit, and prints the exit status and each
 * line of the command's error output ("err: ..."). {@code bench}: the same world, DIN benchmarked at batches 16, 20,000
 * (too large) and 32; the exit status and the output on one line ("out: ...", lines joined by '|').
 */
final class DeviceMemoryProbe {
    private DeviceMemoryProbe() {}

    public static void main(String[] args) throws Exception {
        if (args[0].equals("plan")) {
            DeviceMemoryTest.planLargerThanTheDevice(GpuTesting.backend());
            System.out.println("plan check passed");
            return;
        }
        Path tmp = Files.createTempDirectory("augur-oom");
        Path data = tmp.resolve("world");
        CliTest.Result g = CliTest.run(CliTest.args(new String[] {"generate", "--out", data.toString()}, CliTest.TINY_WORLD));
        if (g.code() != 0) throw new IllegalStateException("generate failed: " + g);
        CliTest.Result r = args[0].equals("bench")
                ? CliTest.run(CliTest.args(new String[] {"bench", "--device", "cuda", "--data", data.toString(), "--models", "din", "--batch-sizes",
                        "16,20000,32", "--repeats", "1", "--steps", "2", "--warmup-steps", "1", "--warmup-seconds", "0", "--eval-steps", "1"},
                        CliTest.TINY_MODEL))
                : CliTest.run(CliTest.args(new String[] {"train", "--device", "cuda", "--data", data.toString(), "--out",
                        tmp.resolve("run").toString(), "--model", "din", "--epochs", "1", "--batch-size", "20000"}, CliTest.TINY_MODEL));
        System.out.println("exit " + r.code());
        r.err().lines().forEach(l -> System.out.println("err: " + l));
        System.out.println("out: " + r.out().replace('\n', '|'));
    }
}
