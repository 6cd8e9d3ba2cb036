package io.augur.backend.cuda;

import io.augur.cli.CliTest;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run by {@link DeviceMemoryTest} in a JVM of its own on an emulated device of AUGUR_EMU_MEMORY_MIB. {@code plan}:
 * {@link DeviceMemoryTest#planLargerThanTheDevice} (its assertions end the JVM abnormally if one fails). {@code train}:
 * generates the tiny world, trains DIN on it at a batch whose plan does not fit, and prints the exit status and each
 * line of the command's error output ("err: ...").
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
        CliTest.Result r = CliTest.run(CliTest.args(new String[] {"train", "--device", "cuda", "--data", data.toString(), "--out",
                tmp.resolve("run").toString(), "--model", "din", "--epochs", "1", "--batch-size", "20000"}, CliTest.TINY_MODEL));
        System.out.println("exit " + r.code());
        r.err().lines().forEach(l -> System.out.println("err: " + l));
        System.out.println("out: " + r.out().replace('\n', '|'));
    }
}
