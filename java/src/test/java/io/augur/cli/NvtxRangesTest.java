package io.augur.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.augur.backend.cuda.GpuTesting;
import io.augur.backend.cuda.Nvtx;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NVTX ranges (Nvtx) as a profiler receives them. A JVM of its own is started with
 * NVTX_INJECTION64_PATH naming libaugur_nvtx_probe.so (java/src/test/native/nvtx_probe.c, built
 * beside libaugur_launch.so by scripts/build-native.sh where the CUDA toolkit's nvtx3 headers are),
 * which NVTX loads as it would load Nsight Systems' library, and which writes every call it gets to
 * a file. Skipped where the probe was not built.
 */
class NvtxRangesTest {

    @TempDir
    static Path shared;
    static Path data;

    @BeforeAll
    static void generate() {
        data = shared.resolve("world");
        CliTest.Result r = CliTest.run(CliTest.args(new String[] {"generate", "--out", data.toString()}, CliTest.TINY_WORLD));
        assertEquals(0, r.code(), r.toString());
    }

    /** One call the probe received: push, pop or mark, on its numbered thread. */
    record Call(String kind, int thread, String name, String argb) {
        static Call parse(String line) {
            String[] t = line.split(" ");
            if (t[0].equals("pop")) return new Call("pop", Integer.parseInt(t[2]), null, null);
            String name = String.join(" ", List.of(t).subList(3, t.length - 1));
            return new Call(t[0], Integer.parseInt(t[2]), name, t[t.length - 1]);
        }
    }

    /** What a child JVM printed, and the calls its NVTX tool received (null: the tool was never loaded). */
    record Child(String out, List<String> lines) {
        List<Call> calls() {
            return lines.stream().filter(l -> !l.startsWith("domain ")).map(Call::parse).toList();
        }
    }

    private static Path probe() {
        String p = System.getProperty("augur.nvtxProbe");
        Assumptions.assumeTrue(p != null && Files.isRegularFile(Path.of(p)),
                "no libaugur_nvtx_probe.so (built where the CUDA toolkit's nvtx3 headers are): " + p);
        return Path.of(p);
    }

    /** {@code main} with {@code args} in a JVM of its own with the probe attached; its options and the test JVM's --add-* flags. */
    private static Child run(Path tmp, List<String> options, Class<?> main, String... args) throws IOException, InterruptedException {
        Path probe = probe(), calls = tmp.resolve("nvtx-calls.txt");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) if (a.startsWith("--add-")) cmd.add(a);
        cmd.addAll(options);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put(Nvtx.INJECTION, probe.toString());
        pb.environment().put("AUGUR_NVTX_PROBE_OUT", calls.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the child JVM did not end:\n" + out);
        assertEquals(0, p.exitValue(), "the child JVM failed:\n" + out);
        return new Child(out, Files.exists(calls) ? Files.readAllLines(calls) : null);
    }

    /** What {@link #rangesReachAnAttachedTool} runs: ranges registered and named, nested, on two threads, and a mark. */
    public static final class Probe {
        public static void main(String[] args) throws InterruptedException {
            System.out.println("nvtx: " + Nvtx.describe());
            Nvtx.Range outer = Nvtx.range("outer", 0xff112233);
            try (Nvtx.Scope a = outer.open(); Nvtx.Scope b = Nvtx.push("dynamic 7", 0xff445566)) {
                Nvtx.mark("instant", 0xff778899);
            }
            Thread other = new Thread(() -> {
                try (Nvtx.Scope s = Nvtx.range("other thread", 0xffaabbcc).open()) {
                    Nvtx.mark("inside", 0xff000000);
                }
            });
            other.start();
            other.join();
            try (Nvtx.Scope a = outer.open()) {
                System.out.println("outer again");
            }
        }
    }

    @Test
    void rangesReachAnAttachedTool(@TempDir Path tmp) throws Exception {
        Child c = run(tmp, List.of(), Probe.class);
        assertTrue(c.out().contains("nvtx: on (domain augur"), c.out());
        assertEquals(List.of("domain augur",
                "push augur 1 outer ff112233", "push augur 1 dynamic 7 ff445566", "mark augur 1 instant ff778899", "pop augur 1", "pop augur 1",
                "push augur 2 other thread ffaabbcc", "mark augur 2 inside ff000000", "pop augur 2",
                "push augur 1 outer ff112233", "pop augur 1"), c.lines(), c.out());
    }

    @Test
    void offMakesNoNvtxCallAtAll(@TempDir Path tmp) throws Exception {
        Child c = run(tmp, List.of("-D" + Nvtx.PROPERTY + "=off"), Probe.class);
        assertTrue(c.out().contains("nvtx: off: -Daugur.nvtx=off"), c.out());
        assertEquals(null, c.lines(), "the tool was loaded, so some NVTX call was made");
    }

    @Test
    void aBadSettingIsNamedAndTurnsThemOff(@TempDir Path tmp) throws Exception {
        Child c = run(tmp, List.of("-D" + Nvtx.PROPERTY + "=yes"), Probe.class);
        assertTrue(c.out().contains("nvtx: off: -Daugur.nvtx=yes is not auto, on or off"), c.out());
        assertTrue(c.out().contains("WARN"), "no warning in the log:\n" + c.out());
        assertEquals(null, c.lines());
    }

    /** This JVM has no tool attached: auto pushes nothing and says why. */
    @Test
    void withoutAToolAutoIsOff() {
        Assumptions.assumeTrue(System.getenv(Nvtx.INJECTION) == null && System.getProperty(Nvtx.PROPERTY) == null, "a tool is attached to the tests");
        assertFalse(Nvtx.on());
        assertTrue(Nvtx.describe().startsWith("off: no NVTX tool attached (NVTX_INJECTION64_PATH unset"), Nvtx.describe());
        try (Nvtx.Scope s = Nvtx.range("nothing", 0).open()) {
            Nvtx.mark("nothing either", 0);
        }
    }

    @Test
    void trainingOnTheCpuShowsItsStepsAndItsData(@TempDir Path tmp) throws Exception {
        Child c = run(tmp, List.of(), Augur.class, train("cpu", tmp));
        Map<Integer, List<List<String>>> stacks = checkedStacks(c);
        int main = threadOf(stacks, "epoch 1/1");
        List<List<String>> onMain = stacks.get(main);
        assertTrue(onMain.contains(List.of("epoch 1/1", "train step", "load batch")), "no batch load inside a step");
        for (String part : List.of("forward", "backward", "update")) {
            assertTrue(onMain.contains(List.of("epoch 1/1", "train step", part)), part + " is not inside a training step");
        }
        assertTrue(onMain.stream().anyMatch(s -> s.equals(List.of("epoch 1/1", "wait for step"))), "no wait for a step's loss");
        assertTrue(onMain.stream().anyMatch(s -> s.size() == 1 && s.get(0).startsWith("evaluate ")), "no evaluation");
        assertTrue(onMain.contains(List.of("checkpoint")), "no checkpoint");
        assertTrue(stacks.entrySet().stream().anyMatch(e -> e.getKey() != main && e.getValue().contains(List.of("fill batch"))),
                "no prefetch thread filled a batch");
        long steps = onMain.stream().filter(s -> s.equals(List.of("epoch 1/1", "train step"))).count();
        assertTrue(steps >= 50, steps + " training steps; the tiny world at batch 32 has about 90");
    }

    /** On the GPU (here its emulator) a step shows as eager, then captured into a CUDA graph, then replayed. */
    @Test
    @Tag("emulator")
    void cudaStepsShowTheirGraphs(@TempDir Path tmp) throws Exception {
        GpuTesting.assumeGpu();
        Assumptions.assumeTrue(GpuTesting.emulated(), "the emulator's run (a GPU's tests run from the bundle, which has no probe)");
        // as the emulated test run: every tensor its own allocation (AUGUR_EMU_TENSOR_ALLOCATIONS, inherited, expects it)
        Child c = run(tmp, List.of("-D" + io.augur.backend.cuda.CudaBackend.SEPARATE_ALLOCATIONS + "=true"), Augur.class, train("cuda", tmp));
        Map<Integer, List<List<String>>> stacks = checkedStacks(c);
        List<List<String>> onMain = stacks.get(threadOf(stacks, "epoch 1/1"));
        String key = onMain.stream().filter(s -> s.size() == 3 && s.get(2).endsWith(" (replay)")).map(s -> s.get(2)).findFirst()
                .orElseThrow(() -> new AssertionError("no replayed step:\n" + c.out()));
        String step = key.substring(0, key.length() - " (replay)".length());
        assertTrue(step.matches("step din#\\d+/train/32"), step);
        List<String> inReplay = List.of("epoch 1/1", "train step", key);
        assertTrue(onMain.contains(List.of("epoch 1/1", "train step", step + " (eager)")), "the first step is not eager");
        assertTrue(onMain.contains(List.of("epoch 1/1", "train step", step + " (capture)")), "no capture");
        for (String part : List.of("forward", "backward", "update")) {
            List<String> s = new ArrayList<>(inReplay);
            s.add(part);
            assertTrue(onMain.contains(s), part + " is not inside a replay (the graph's dry run)");
        }
        long replays = onMain.stream().filter(inReplay::equals).count();
        assertTrue(replays >= 50, replays + " replays");
    }

    private static String[] train(String device, Path tmp) {
        return CliTest.args(new String[] {"train", "--device", device, "--data", data.toString(), "--out", tmp.resolve("run").toString(), "--model",
                "din", "--epochs", "1", "--batch-size", "32", "--eval-batch-size", "256", "--threads", "2"}, CliTest.TINY_MODEL);
    }

    /**
     * Replays the calls per thread: every pop has its push, every thread ends with nothing open.
     * Returns, per thread, the stack (outermost first) after each push.
     */
    private static Map<Integer, List<List<String>>> checkedStacks(Child c) {
        assertTrue(c.lines() != null && !c.lines().isEmpty() && c.lines().get(0).equals("domain augur"), "the tool got no domain:\n" + c.out());
        Map<Integer, Deque<String>> open = new HashMap<>();
        Map<Integer, List<List<String>>> seen = new HashMap<>();
        for (Call call : c.calls()) {
            Deque<String> stack = open.computeIfAbsent(call.thread(), t -> new ArrayDeque<>());
            switch (call.kind()) {
                case "push" -> {
                    stack.addLast(call.name());
                    seen.computeIfAbsent(call.thread(), t -> new ArrayList<>()).add(List.copyOf(stack));
                }
                case "pop" -> assertFalse(stack.isEmpty(), "a pop with nothing pushed on thread " + call.thread());
                default -> { }
            }
            if (call.kind().equals("pop")) stack.removeLast();
        }
        open.forEach((t, s) -> assertTrue(s.isEmpty(), "thread " + t + " ended with " + s.size() + " ranges open, the innermost " + s.peekLast()));
        return seen;
    }

    private static int threadOf(Map<Integer, List<List<String>>> stacks, String outermost) {
        return stacks.entrySet().stream().filter(e -> e.getValue().contains(List.of(outermost))).map(Map.Entry::getKey).findFirst()
                .orElseThrow(() -> new AssertionError("no thread pushed " + outermost));
    }
}
