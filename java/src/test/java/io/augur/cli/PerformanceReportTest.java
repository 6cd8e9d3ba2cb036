package io.augur.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.augur.data.SyntheticWorld;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * scripts/perf_report.py, which writes docs/PERFORMANCE.md from the records in docs/perf/: the page
 * in the repository is what the script makes of the records there (so nobody edits it by hand),
 * and on a fresh record of {@code augur bench} next to a PyTorch record the page shows both
 * figures, their ratio against the 2x target, the cost model's figures, and "no device measured
 * yet" for the GPU; a newer record on another world (other history lengths) goes to its own section,
 * not into the comparison. Skipped where no python3 is on the PATH (the script needs only the standard
 * library).
 */
class PerformanceReportTest {
    static final Path SCRIPT = Path.of("scripts", "perf_report.py");

    record Proc(int code, String out) {}

    static Proc python(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", SCRIPT.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "perf_report.py did not finish");
        return new Proc(p.exitValue(), out);
    }

    static boolean havePython() {
        try {
            Process p = new ProcessBuilder("python3", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 && Files.isRegularFile(SCRIPT);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** A smoke world at {@code world} and a short CPU {@code augur bench} of DIN at batch 16 on it, its record at {@code out}. */
    static void smokeBench(Path world, Path out) throws Exception {
        SyntheticWorld.generate(BenchCommand.SMOKE_WORLD, world);
        CliTest.Result b = CliTest.run("bench", "--data", world.toString(), "--models", "din", "--batch-sizes", "16", "--repeats", "1",
                "--steps", "3", "--warmup-steps", "1", "--warmup-seconds", "0", "--eval-steps", "1", "--threads", "2", "--json",
                "--out", out.toString());
        assertEquals(0, b.code(), b.toString());
    }

    /** A committed record of docs/perf copied into {@code perf} under its name; its content. */
    static JsonNode copyRecord(ObjectMapper om, Path perf, String name) throws IOException {
        JsonNode rec = om.readTree(Path.of("docs", "perf", name).toFile());
        om.writeValue(perf.resolve(name).toFile(), rec);
        return rec;
    }

    /** One result of a torch_ref.py record: its measured fields, as the script writes them. */
    static Map<String, Object> torchResult(String model, int batch, String mode, double sps, Double peakDeviceMib, String layout) {
        Map<String, Object> res = new LinkedHashMap<>();
        res.put("model", model);
        res.put("batch_size", batch);
        res.put("mode", mode);
        res.put("train_samples_per_s", sps);
        res.put("runs_train_samples_per_s", List.of(sps));
        res.put("step_ms", Map.of("p50", 1.0, "p90", 2.0, "p99", 3.0, "mean", 1.5));
        res.put("eval_samples_per_s", 100.0);
        res.put("peak_host_rss_mib", 500.0);
        res.put("peak_device_mib", peakDeviceMib);
        res.put("att_layout", layout);
        return res;
    }

    /** A torch_ref.py record around {@code results}, on the npy export of {@code world}, dated 2026-01-01. */
    static Map<String, Object> torchRecord(String device, List<Map<String, Object>> results, int repeats, Path world, Path tmp,
                                           Map<String, Object> machine, String command) {
        Map<String, Object> torch = new LinkedHashMap<>();
        torch.put("schema", BenchCommand.SCHEMA);
        torch.put("tool", "pytorch");
        torch.put("device", device);
        torch.put("results", results);
        torch.put("settings", Map.of("repeats", repeats, "threads", machine.get("cores")));
        torch.put("dataset", Map.of("dir", tmp.resolve("world-npy").toString(), "source", world.toString(), "mean_history", 5.0));
        torch.put("machine", machine);
        torch.put("command", command);
        torch.put("date", "2026-01-01T00:00:00+00:00");
        return torch;
    }

    @Test
    void theCommittedPageIsWhatTheScriptMakesOfTheRecords() throws Exception {
        assumeTrue(havePython(), "no python3 on the PATH");
        Proc r = python("--check");
        assertEquals(0, r.code(), "docs/PERFORMANCE.md differs from `python3 scripts/perf_report.py` output: run it and commit\n" + r.out());
    }

    /**
     * Runs off the default kernel settings never stand in for the default run: a record with the tower layer by
     * layer (-Daugur.tower.fused=off), one whose settings --autotune chose and one under a tuning table of its own
     * (--tuning FILE) are variants of their own, beside the default record of the same model and batch size (the
     * first H200 run's DIN record, copied); a run under the shipped table (--tuning auto) is a default run.
     */
    @Test
    void settingsOffTheDefaultsAndAutotunedRunsAreVariantsOfTheirOwn(@TempDir Path tmp) throws Exception {
        assumeTrue(havePython(), "no python3 on the PATH");
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Path perf = Files.createDirectories(tmp.resolve("perf"));
        JsonNode din = copyRecord(om, perf, "2026-11-24-cuda-din.json");
        com.fasterxml.jackson.databind.node.ObjectNode layered = din.deepCopy(), tuned = din.deepCopy();
        layered.putObject("system_properties").put("augur.tower.fused", "off");
        for (JsonNode r : layered.path("results")) ((com.fasterxml.jackson.databind.node.ObjectNode) r).put("train_samples_per_s", 111111.0);
        for (JsonNode r : tuned.path("results")) {
            com.fasterxml.jackson.databind.node.ObjectNode o = (com.fasterxml.jackson.databind.node.ObjectNode) r;
            o.put("train_samples_per_s", 222222.0);
            o.putObject("autotune").put("chosen", "-Daugur.tower.cluster=4");
        }
        // a table of the run's own (--tuning FILE) is a variant too; the shipped one (auto) is the default
        com.fasterxml.jackson.databind.node.ObjectNode ownTable = din.deepCopy(), shipped = din.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) ownTable.get("settings")).put("tuning", "/tmp/sweep/tuning.json");
        for (JsonNode r : ownTable.path("results")) ((com.fasterxml.jackson.databind.node.ObjectNode) r).put("train_samples_per_s", 333333.0);
        ((com.fasterxml.jackson.databind.node.ObjectNode) shipped.get("settings")).put("tuning", "auto");
        for (JsonNode r : shipped.path("results")) ((com.fasterxml.jackson.databind.node.ObjectNode) r).put("train_samples_per_s", 444444.0);
        layered.put("date", "2099-01-01T00:00:00Z");
        tuned.put("date", "2099-01-02T00:00:00Z");
        ownTable.put("date", "2099-01-03T00:00:00Z");
        shipped.put("date", "2099-01-04T00:00:00Z");
        om.writeValue(perf.resolve("2099-01-01-cuda-din-towerLayered.json").toFile(), layered);
        om.writeValue(perf.resolve("2099-01-02-cuda-din-autotune.json").toFile(), tuned);
        om.writeValue(perf.resolve("2099-01-03-cuda-din-tuned.json").toFile(), ownTable);
        Path page = tmp.resolve("PERFORMANCE.md");
        Proc r = python("--perf-dir", perf.toString(), "--out", page.toString());
        assertEquals(0, r.code(), r.out());
        String md = Files.readString(page);
        assertTrue(md.contains("| augur | cuda | augur | DIN | 128 | 308,420 |"), "the default run keeps its row\n" + md);
        assertTrue(md.contains("| augur | cuda | augur/tower.fused=off | DIN | 128 | 111,111 |"), md);
        assertTrue(md.contains("| augur | cuda | augur/autotune | DIN | 2048 | 222,222 |"), md);
        assertTrue(md.contains("| augur | cuda | augur/tuning=tuning.json | DIN | 128 | 333,333 |"), md);

        om.writeValue(perf.resolve("2099-01-04-cuda-din.json").toFile(), shipped);
        r = python("--perf-dir", perf.toString(), "--out", page.toString());
        assertEquals(0, r.code(), r.out());
        md = Files.readString(page);
        assertTrue(md.contains("| augur | cuda | augur | DIN | 128 | 444,444 |"), "the shipped table's run is the newer default run\n" + md);
    }

    /**
     * A newer profiled record of the same run (the first H200 run's DIEN record, copied, one op faster, one gone, one
     * new): a table of each op's time per step in both, largest first, the change in microseconds.
     */
    @Test
    void aNewerProfiledRecordIsComparedOpByOpWithTheOneBefore(@TempDir Path tmp) throws Exception {
        assumeTrue(havePython(), "no python3 on the PATH");
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Path perf = Files.createDirectories(tmp.resolve("perf"));
        JsonNode dien = copyRecord(om, perf, "2026-11-24-cuda-dien.json");
        com.fasterxml.jackson.databind.node.ObjectNode newer = dien.deepCopy();
        newer.put("date", "2099-01-01T00:00:00Z");
        newer.put("git_commit", "abcdef1234");
        for (JsonNode r : newer.path("results")) {
            if (r.path("batch_size").asInt() != 2048) continue;
            com.fasterxml.jackson.databind.node.ObjectNode prof = (com.fasterxml.jackson.databind.node.ObjectNode) r.get("op_profile");
            prof.put("step_ms", 7.0);
            com.fasterxml.jackson.databind.node.ArrayNode ops = (com.fasterxml.jackson.databind.node.ArrayNode) prof.get("ops");
            for (int i = ops.size() - 1; i >= 0; i--) {
                com.fasterxml.jackson.databind.node.ObjectNode o = (com.fasterxml.jackson.databind.node.ObjectNode) ops.get(i);
                if (o.path("op").asText().equals("bce_with_logits_kernel")) o.put("ms_per_step", 0.0125);
                if (o.path("op").asText().equals("recurrence_weight_grad_kernel")) ops.remove(i);
            }
            ops.addObject().put("op", "optimizer_step_kernel").put("calls_per_step", 1.0).put("ms_per_step", 0.05).put("share", 0.007);
        }
        om.writeValue(perf.resolve("2099-01-01-cuda-dien.json").toFile(), newer);
        Path page = tmp.resolve("PERFORMANCE.md");
        Proc r = python("--perf-dir", perf.toString(), "--out", page.toString());
        assertEquals(0, r.code(), r.out());
        String md = Files.readString(page);
        assertTrue(md.contains("### Each op against the record before"), md);
        assertTrue(md.contains("**DIEN at batch 2048** (augur, cuda): step 8.363 → 7.000 ms; `"), md);
        assertTrue(md.contains("(2026-11-24, commit not recorded) → `") && md.contains("(2099-01-01, abcdef1234)"), md);
        assertTrue(md.contains("| gemm_kernel | 21.0 → 21.0 | 1,614.2 → 1,614.2 | +0.0 µs |"), md);
        assertTrue(md.contains("| recurrence_weight_grad_kernel | 4.0 → – | 1,459.7 → – | gone |"), md);
        assertTrue(md.contains("| bce_with_logits_kernel | 2.0 → 2.0 | 279.7 → 12.5 | -267.2 µs |"), md);
        assertTrue(md.contains("| (22 more) | | | |"), md);
        // the 12 largest by the larger time: the new op (50 us) is not among them at 2048, so no "new" row there
        int at2048 = md.indexOf("**DIEN at batch 2048**"), next = md.indexOf("**", at2048 + 30);
        assertTrue(md.indexOf("| new |", at2048) < 0 || (next > 0 && md.indexOf("| new |", at2048) > next), md);
        // batch 128's profile did not change: its table shows no change
        assertTrue(md.contains("**DIEN at batch 128** (augur, cuda): step 2.260 → 2.260 ms"), md);
    }

    @Test
    void aBenchRecordAndAPyTorchRecordMakeASideBySideRow(@TempDir Path tmp) throws Exception {
        assumeTrue(havePython(), "no python3 on the PATH");
        Path world = tmp.resolve("world");
        Path perf = Files.createDirectories(tmp.resolve("perf"));
        Path augurFile = perf.resolve("2026-01-01-cpu-augur-b16.json");
        smokeBench(world, augurFile);
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        JsonNode augur = om.readTree(augurFile.toFile());
        JsonNode din = augur.path("results").path(0);
        double augurSps = din.path("train_samples_per_s").asDouble();
        assertTrue(augurSps > 0, din.toString());
        double torchSps = augurSps / 4;

        Map<String, Object> res = torchResult("din", 16, "eager", torchSps, null, "packed");
        Map<String, Object> skipped = new LinkedHashMap<>();
        skipped.put("model", "din");
        skipped.put("batch_size", 16);
        skipped.put("mode", "compile");
        skipped.put("train_samples_per_s", null);
        skipped.put("skipped", "not available: torch 1.13 has no torch.compile");
        Map<String, Object> torch = torchRecord("cpu", List.of(res, skipped), 1, world, tmp,
                Map.of("cpu", "a test CPU", "cores", 2, "torch", "1.13", "host", "test"), "python3 scripts/torch_ref.py (a record made by the test)");
        om.writeValue(perf.resolve("2026-01-01-cpu-torch-b16.json").toFile(), torch);

        // a newer Augur record on another world (longer histories) stays out of the side-by-side row
        com.fasterxml.jackson.databind.node.ObjectNode longer = augur.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) longer.path("dataset")).put("dir", tmp.resolve("world-long").toString())
                .put("mean_history", 90.5);
        ((com.fasterxml.jackson.databind.node.ObjectNode) longer.path("results").path(0)).put("train_samples_per_s", 12.5);
        longer.put("date", "2099-01-01T00:00:00Z");
        om.writeValue(perf.resolve("2099-01-01-cpu-augur-long.json").toFile(), longer);

        Path page = tmp.resolve("PERFORMANCE.md");
        Proc r = python("--perf-dir", perf.toString(), "--out", page.toString());
        assertEquals(0, r.code(), r.out());
        String md = Files.readString(page);
        String row = md.lines().filter(l -> l.startsWith("| DIN | 16 | ") && l.contains("not available")).findFirst().orElse("");
        assertTrue(row.contains(String.format(Locale.ROOT, "| %,.0f | %,.0f | not available | 4.00× | met |", augurSps, torchSps)),
                "side-by-side row: " + row + "\n" + md);
        assertTrue(row.contains("2026-01-01-cpu-augur-b16.json") && row.contains("2026-01-01-cpu-torch-b16.json"), row);
        double mflop = din.path("cost").path("flops_per_sample").asDouble() / 1e6;
        assertTrue(md.lines().anyMatch(l -> l.startsWith("| DIN | 16 | ") && l.contains(String.format(Locale.ROOT, "| %.3f |", mflop))),
                "cost row with " + mflop + " MFLOP per sample\n" + md);
        assertTrue(md.lines().anyMatch(l -> l.startsWith("| DIN | 16 | `world-long` | 90.5 | 12 | ")
                        && l.contains(String.format(Locale.ROOT, "| %,.0f (", augurSps)) && l.contains("2099-01-01-cpu-augur-long.json")),
                "the other world's run, beside the same model on the compared world\n" + md);
        assertTrue(md.contains("| DIN | 128 | no device measured yet | no device measured yet | no device measured yet |"), md);
        assertTrue(md.contains("| DIEN | 2048 | no device measured yet |"), md);
        assertTrue(md.contains("python3 scripts/torch_ref.py (a record made by the test)") && md.contains("augur bench --data"),
                "the records' commands are listed\n" + md);
    }

    @Test
    void aGpuPyTorchRecordCutShortStillFillsTheGpuTableAndSaysSo(@TempDir Path tmp) throws Exception {
        assumeTrue(havePython(), "no python3 on the PATH");
        Path world = tmp.resolve("world");
        Path perf = Files.createDirectories(tmp.resolve("perf"));
        Path augurFile = perf.resolve("2026-01-01-cuda-augur-b16.json");
        smokeBench(world, augurFile);
        // the CPU run stands in for a GPU one: the page reads the record's device field, not how it was made
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        com.fasterxml.jackson.databind.node.ObjectNode augur = (com.fasterxml.jackson.databind.node.ObjectNode) om.readTree(augurFile.toFile());
        augur.put("device", "cuda");
        om.writeValue(augurFile.toFile(), augur);
        double augurSps = augur.path("results").path(0).path("train_samples_per_s").asDouble();
        assertTrue(augurSps > 0, augur.toString());

        // gpu-sweep.sh's torch part stopped by its budget after DIN's first batch size: torch_ref.py's
        // record as rewritten after each result, "complete": false
        double torchSps = augurSps / 20;
        Map<String, Object> res = torchResult("din", 16, "eager", torchSps, 300.0, "dense");
        Map<String, Object> torch = torchRecord("cuda", List.of(res), 3, world, tmp,
                Map.of("cpu", "a test CPU", "cores", 16, "torch", "2.11", "host", "test", "gpu", "a test GPU"),
                "python3 torch_ref.py --device cuda (a record made by the test)");
        torch.put("complete", false);
        om.writeValue(perf.resolve("2026-01-01-cuda-torch-din-eager.json").toFile(), torch);

        Path page = tmp.resolve("PERFORMANCE.md");
        Proc r = python("--perf-dir", perf.toString(), "--out", page.toString());
        assertEquals(0, r.code(), r.out());
        String md = Files.readString(page);
        String gpu = md.substring(md.indexOf("## GPU"));
        assertTrue(gpu.contains(String.format(Locale.ROOT, "| DIN | 16 | %,.0f | %,.0f | no device measured yet | 20.00× (met) | – |",
                augurSps, torchSps)), "the GPU table's row\n" + gpu);
        assertTrue(md.lines().anyMatch(l -> l.contains("2026-01-01-cuda-torch-din-eager.json") && l.contains("3 runs, cut short after 1 results")
                        && l.contains("GPU a test GPU")), "the record list says it was cut short\n" + md);
        assertTrue(md.lines().noneMatch(l -> l.contains("2026-01-01-cuda-augur-b16.json") && l.contains("cut short")), md);
    }
}
