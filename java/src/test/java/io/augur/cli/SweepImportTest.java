package io.augur.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * scripts/sweep_import.py: two device calls' OUT folders, as gpu-sweep.sh packs them, filed into a
 * perf folder under the names docs/perf/README.md uses; what cannot be filed is named, not
 * dropped silently; a target with other content is refused without --force; the last call's
 * tuning.json goes to the table. Skipped where python3 or tar with xz is missing.
 */
class SweepImportTest {
    static final Path SCRIPT = Path.of("scripts", "sweep_import.py");
    /** A real device record (the first H200 run's DIN benchmark), as the sweep would bring it back. */
    static final Path DIN_RECORD = Path.of("docs", "perf", "2026-11-24-cuda-din.json");

    static PerformanceReportTest.Proc run(List<String> cmd, Path dir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) pb.directory(dir.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd + " did not finish");
        return new PerformanceReportTest.Proc(p.exitValue(), out);
    }

    static PerformanceReportTest.Proc importer(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        return run(cmd, null);
    }

    static boolean haveTools() {
        try {
            return PerformanceReportTest.havePython() && Files.isRegularFile(SCRIPT) && Files.isRegularFile(DIN_RECORD)
                    && run(List.of("sh", "-c", "tar --version && xz --version"), null).code() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** One call's OUT: the parts' folders packed into sweep.tar.xz as gpu-sweep.sh's pack() does, beside summary.txt. */
    static Path call(Path root, String name, String summary, String... pathAndContent) throws Exception {
        Path res = Files.createDirectories(root.resolve(name + "-res"));
        for (int i = 0; i < pathAndContent.length; i += 2) {
            Path f = res.resolve(pathAndContent[i]);
            Files.createDirectories(f.getParent());
            Files.writeString(f, pathAndContent[i + 1]);
        }
        Path out = Files.createDirectories(root.resolve(name));
        PerformanceReportTest.Proc t = run(List.of("tar", "cJf", out.resolve("sweep.tar.xz").toString(), "-C", res.toString(), "."), null);
        assertEquals(0, t.code(), t.out());
        Files.writeString(out.resolve("summary.txt"), summary);
        return out;
    }

    @Test
    void twoCallsAreFiledUnderTheirNamesAndWhatCannotBeIsNamed(@TempDir Path tmp) throws Exception {
        assumeTrue(haveTools(), "no python3, or no tar with xz");
        String din = Files.readString(DIN_RECORD);
        String torch = "{\"schema\": \"augur-bench/2\", \"tool\": \"pytorch\", \"device\": \"cuda\", \"date\": \"2026-11-24T05:00:00+00:00\","
                + " \"complete\": false, \"results\": [{\"model\": \"din\", \"batch_size\": 128, \"mode\": \"eager\", \"train_samples_per_s\": 25000.0}]}";
        String ncuLog = "$ ncu --csv ...\n\"ID\",\"Kernel Name\",\"gpu__time_duration\"\n\"0\",\"gemm_kernel\",\"12.5\"\n==PROF== done\n";
        Path first = call(tmp, "call1", "[gpu-sweep] check\n",
                "gc/bench-din.json", din,
                "gc/bench-base.json", "{ cut off",
                "gc/env.txt", "nvidia-smi ...\n",
                "v1/bench-din.json", din,
                "v1/variant.txt", "-Daugur.attention.fused=off\n",
                "v2/bench-din.json", din,
                "torch/torch-din-eager.json", torch,
                "ncu128/profile.log", ncuLog,
                "ncu128/ncu-details.txt", "  gemm_kernel (8, 1, 1)x(256, 1, 1)\n",
                "ncu-unit128/ncu-details.txt", "  activation_unit_forward_kernel (396, 1, 1)x(256, 1, 1)\n",
                "ncu-unit2048/ncu-details.txt", "  activation_unit_backward_kernel (264, 1, 1)x(256, 1, 1)\n",
                "ncu-tower2048/ncu-details.txt", "  tower_forward_cluster8_kernel (104, 1, 1)x(256, 1, 1)\n",
                "ncu-tower2048/ncu-source-top.txt", "== tower_forward_cluster8_kernel: 900 instructions\n",
                "ncu-tower2048/ncu-source.csv", "\"# Address\",\"Source\"\n",
                "ncu-tower-warm2048/ncu-details.txt", "  tower_forward_cluster8_kernel (104, 1, 1)x(256, 1, 1)\n    Duration us 20.0\n",
                "nsys-din2048/nsys-stats.txt", "kernels ...\n",
                "nsys-din2048/nsys-steps.txt", "graph: 12 kernels a replay\n");
        Path second = call(tmp, "call2", "[gpu-sweep] tf32\n",
                "tf32/bench-din-tf32.json", din.replace("\"train_samples_per_s\"", "\"was_samples_per_s\""),
                "tf32/bench-din-resident.json", din.replace("NVIDIA H200", "Augur CPU emulator (not a GPU)"),
                "torch/torch-dien-eager.json", torch.replace("\"cuda\"", "\"cpu\""));
        Files.writeString(first.resolve("tuning.json"), "{\"entries\": [1]}");
        Files.writeString(second.resolve("tuning.json"), "{\"entries\": [1, 2]}");
        Path perf = Files.createDirectories(tmp.resolve("perf"));
        Path table = tmp.resolve("res").resolve("tuning.json");

        PerformanceReportTest.Proc r = importer(first.toString(), second.toString(), "--perf-dir", perf.toString(), "--tuning", table.toString());
        assertEquals(0, r.code(), r.out());
        // the date is the first record's UTC day
        assertEquals(din, Files.readString(perf.resolve("2026-11-24-cuda-din.json")), r.out());
        assertEquals(din, Files.readString(perf.resolve("2026-11-24-cuda-din-attention.fused-off.json")), r.out());
        assertEquals(torch, Files.readString(perf.resolve("2026-11-24-cuda-torch-din-eager.json")), r.out());
        assertEquals("nvidia-smi ...\n", Files.readString(perf.resolve("2026-11-24-cuda-gpu-check.txt")));
        assertEquals("kernels ...\n", Files.readString(perf.resolve("2026-11-24-cuda-nsys-din-b2048.txt")));
        assertEquals("graph: 12 kernels a replay\n", Files.readString(perf.resolve("2026-11-24-cuda-nsys-steps-din-b2048.txt")));
        assertEquals("[gpu-sweep] check\n", Files.readString(perf.resolve("2026-11-24-cuda-sweep-1.txt")));
        assertEquals("[gpu-sweep] tf32\n", Files.readString(perf.resolve("2026-11-24-cuda-sweep-2.txt")));
        List<String> csv = Files.readAllLines(perf.resolve("2026-11-24-cuda-ncu-din-b128.csv"));
        assertTrue(csv.get(0).startsWith("# ncu on one DIN training step at batch 128"), csv.toString());
        assertEquals(List.of("\"ID\",\"Kernel Name\",\"gpu__time_duration\"", "\"0\",\"gemm_kernel\",\"12.5\""), csv.subList(1, csv.size()));
        assertEquals("  gemm_kernel (8, 1, 1)x(256, 1, 1)\n", Files.readString(perf.resolve("2026-11-24-cuda-ncu-din-b128-details.txt")));
        assertEquals("  activation_unit_forward_kernel (396, 1, 1)x(256, 1, 1)\n", Files.readString(perf.resolve("2026-11-24-cuda-ncu-unit-b128.txt")));
        assertEquals("  activation_unit_backward_kernel (264, 1, 1)x(256, 1, 1)\n", Files.readString(perf.resolve("2026-11-24-cuda-ncu-unit-b2048.txt")));
        assertEquals("  tower_forward_cluster8_kernel (104, 1, 1)x(256, 1, 1)\n", Files.readString(perf.resolve("2026-11-24-cuda-ncu-tower-b2048.txt")));
        assertEquals("== tower_forward_cluster8_kernel: 900 instructions\n", Files.readString(perf.resolve("2026-11-24-cuda-ncu-tower-b2048-source.txt")));
        assertEquals("  tower_forward_cluster8_kernel (104, 1, 1)x(256, 1, 1)\n    Duration us 20.0\n",
                Files.readString(perf.resolve("2026-11-24-cuda-ncu-tower-warm-b2048.txt")));
        // the last call's table, which holds the first's choices too
        assertEquals("{\"entries\": [1, 2]}", Files.readString(table));
        // what is not filed is named, with why
        assertTrue(r.out().contains("gc/bench-base.json: not JSON"), r.out());
        assertTrue(r.out().contains("v2/bench-din.json: a variant's record without its variant.txt"), r.out());
        assertTrue(r.out().contains("tf32/bench-din-tf32.json: no result with samples/s"), r.out());
        assertTrue(r.out().contains("tf32/bench-din-resident.json: ran on the CPU emulator"), r.out());
        assertTrue(r.out().contains("torch/torch-dien-eager.json: device 'cpu', not cuda"), r.out());
        assertFalse(Files.exists(perf.resolve("2026-11-24-cuda-base.json")));
        assertFalse(Files.exists(perf.resolve("2026-11-24-cuda-din-tf32.json")));
        try (var files = Files.list(perf)) {
            assertEquals(15, files.count(), "fifteen files: two bench records, the torch record, the ncu table, its details, the unit's "
                    + "at 128 and 2048, the tower's, its source summary (not the source page itself) and its warm-cache details, env.txt, "
                    + "the nsys stats and steps, two summaries");
        }

        // again: the same content is left as it is
        r = importer(first.toString(), second.toString(), "--perf-dir", perf.toString(), "--tuning", "none");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("same as before: " + perf.resolve("2026-11-24-cuda-din.json")), r.out());

        // a target with other content is refused, nothing written, until --force
        Path dinTarget = perf.resolve("2026-11-24-cuda-din.json");
        Files.writeString(dinTarget, "{\"edited\": true}");
        byte[] torchBefore = Files.readAllBytes(perf.resolve("2026-11-24-cuda-torch-din-eager.json"));
        Files.delete(perf.resolve("2026-11-24-cuda-torch-din-eager.json"));
        r = importer(first.toString(), "--perf-dir", perf.toString(), "--tuning", "none");
        assertNotEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("exist with other content") && r.out().contains(dinTarget.toString()), r.out());
        assertFalse(Files.exists(perf.resolve("2026-11-24-cuda-torch-din-eager.json")), "a refused import writes nothing");
        r = importer(first.toString(), "--perf-dir", perf.toString(), "--tuning", "none", "--force");
        assertEquals(0, r.code(), r.out());
        assertEquals(din, Files.readString(dinTarget));
        assertArrayEquals(torchBefore, Files.readAllBytes(perf.resolve("2026-11-24-cuda-torch-din-eager.json")));

        // a folder that is not a call's OUT
        r = importer(tmp.resolve("perf").toString(), "--perf-dir", perf.toString());
        assertNotEquals(0, r.code());
        assertTrue(r.out().contains("sweep.tar.xz: missing"), r.out());
    }
}
