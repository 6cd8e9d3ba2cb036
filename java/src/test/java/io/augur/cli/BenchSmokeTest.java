package io.augur.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.augur.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code augur bench --smoke}, the benchmark harness end to end in a few seconds (CI): a tiny
 * generated world, BaseModel, DIN and DIEN, training and evaluation throughput, step percentiles,
 * peak memory, the cost model, ceilings and the per-op profile, in the JSON layout
 * scripts/perf_report.py reads.
 */
class BenchSmokeTest {

    @Test
    void smokeRunReportsEveryFigureForEveryModel(@TempDir Path tmp) throws IOException {
        Path file = tmp.resolve("bench.json");
        CliTest.Result r = run("bench", "--smoke", "--json", "--threads", "2", "--out", file.toString());
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(j, new ObjectMapper().readTree(file.toFile()), "--out holds what --json printed");
        assertEquals(BenchCommand.SCHEMA, j.path("schema").asText());
        assertEquals("augur", j.path("tool").asText());
        assertTrue(j.path("settings").path("smoke").asBoolean());
        assertTrue(j.path("machine").path("cores").asInt() > 0, r.toString());
        assertTrue(j.path("command").asText().startsWith("augur bench --smoke"), j.path("command").toString());
        assertTrue(j.path("ceilings").path("fp32_flops_per_s").asDouble() > 0, j.path("ceilings").toString());
        assertTrue(j.path("device_profiling").asText().contains("n/a on this backend"), j.path("device_profiling").toString());

        List<String> models = new ArrayList<>();
        for (JsonNode x : j.path("results")) {
            String what = x.path("model").asText() + " batch " + x.path("batch_size").asInt();
            models.add(x.path("model").asText());
            assertEquals(16, x.path("batch_size").asInt(), what);
            assertTrue(x.path("train_samples_per_s").asDouble() > 0, what);
            assertTrue(x.path("eval_samples_per_s").asDouble() > 0, what);
            assertEquals(5, x.path("steps_per_run").asInt(), what);
            JsonNode st = x.path("step_ms");
            assertTrue(st.path("p50").asDouble() > 0 && st.path("p50").asDouble() <= st.path("p90").asDouble()
                    && st.path("p90").asDouble() <= st.path("p99").asDouble(), what + ": " + st);
            JsonNode is = x.path("issue_ms");
            assertTrue(is.path("p50").asDouble() > 0 && is.path("p50").asDouble() <= is.path("p90").asDouble(), what + ": " + is);
            assertTrue(is.path("p50").asDouble() <= st.path("p90").asDouble(), what + ": the issue is part of the step: " + is + " " + st);
            assertTrue(x.path("peak_heap_mib").asDouble() > 0, what);
            assertTrue(x.path("peak_device_mib").isNull() && x.path("peak_device_note").asText().contains("n/a"), what);
            assertTrue(x.path("cost").path("flops_per_sample").asDouble() > 0, what);
            assertTrue(x.path("cost").path("bytes_per_sample").asDouble() > 0, what);
            assertTrue(x.path("achieved").path("of_flops_ceiling").asDouble() > 0, what);
            JsonNode p = x.path("op_profile");
            double sum = p.path("unattributed_share").asDouble();
            assertFalse(p.path("ops").isEmpty(), what + ": no ops profiled");
            for (JsonNode op : p.path("ops")) {
                double s = op.path("share").asDouble();
                assertTrue(s >= 0 && s <= 1, what + ": " + op);
                sum += s;
            }
            assertEquals(1.0, sum, 0.02, what + ": op shares and the unattributed rest add up to the step");
        }
        assertEquals(List.of("base", "din", "dien"), models);
        JsonNode dien = j.path("results").path(2).path("op_profile").path("ops");
        List<String> ops = new ArrayList<>();
        dien.forEach(op -> ops.add(op.path("op").asText()));
        // the optimizer's step is one op (the tables' sparse update and Adam)
        assertTrue(ops.containsAll(List.of("recurrence", "recurrenceBackward", "activationUnit", "auxPairs", "optimizerStep")), ops.toString());
    }

    @Test
    void tablePrintsOneLinePerModelAndBatch() {
        CliTest.Result r = run("bench", "--smoke", "--models", "base", "--batch-sizes", "8,16", "--threads", "2");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("base") && l.contains(" 8 ")), r.toString());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("base") && l.contains(" 16 ")), r.toString());
        assertTrue(r.out().contains("op shares base batch 16"), r.toString());
    }

    @Test
    void costOnlyTrainsNothingAndGivesTheCostOfEveryModelAndBatch() throws IOException {
        CliTest.Result r = run("bench", "--smoke", "--cost-only", "--json", "--threads", "2", "--batch-sizes", "16,64");
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.path("settings").path("cost_only").asBoolean());
        assertEquals(6, j.path("results").size(), j.path("results").toString());
        double dinFlops16 = 0, dinBytes16 = 0, dinBytes64 = 0, baseFlops = 0, dienFlops = 0;
        for (JsonNode x : j.path("results")) {
            String what = x.path("model").asText() + " batch " + x.path("batch_size").asInt();
            assertTrue(x.path("train_samples_per_s").isNull(), what + ": cost only, no throughput");
            assertTrue(x.path("step_ms").isMissingNode() && x.path("op_profile").isMissingNode(), what + ": nothing was trained");
            double f = x.path("cost").path("flops_per_sample").asDouble(), b = x.path("cost").path("bytes_per_sample").asDouble();
            assertTrue(f > 0 && b > 0, what);
            assertTrue(x.path("floor_samples_per_s").asDouble() > 0, what + ": --smoke measures ceilings, so a floor is given");
            assertTrue(x.path("workload").path("mean_length").asDouble() > 0, what);
            int B = x.path("batch_size").asInt();
            switch (x.path("model").asText()) {
                case "din" -> { if (B == 16) { dinFlops16 = f; dinBytes16 = b; } else { dinBytes64 = b; assertEquals(dinFlops16, f, 1e-6 * f, "FLOPs per sample do not depend on B"); } }
                case "base" -> baseFlops = f;
                case "dien" -> dienFlops = f;
                default -> throw new AssertionError(what);
            }
        }
        assertTrue(baseFlops < dinFlops16 && dinFlops16 < dienFlops, "base < din < dien in FLOPs: " + baseFlops + ", " + dinFlops16 + ", " + dienFlops);
        assertTrue(dinBytes64 < dinBytes16, "dense parameter traffic is shared by a larger batch: " + dinBytes16 + " vs " + dinBytes64);
    }

    @Test
    void badSettingsFailWithOneLine() {
        CliTest.Result r = run("bench", "--smoke", "--models", "lstm");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("lstm"), r.toString());
        r = run("bench", "--repeats", "0", "--data", "nowhere");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("--repeats"), r.toString());
    }
}
