package io.augur.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.cuda.GpuTesting;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.Kernels;
import io.augur.backend.cuda.TuningTable;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code augur bench --smoke --device cuda} end to end (SKIPPED without a GPU; under the CPU
 * emulator it runs): BaseModel, DIN and DIEN train and evaluate with device-timed kernel shares,
 * peak device memory and the quick ceilings. A model the backend cannot build (a GRU wider than
 * a block) is reported as skipped when --smoke chose the models, and is an error when named
 * with --models.
 */
@Tag("gpu")
class BenchCudaSmokeTest {

    @Test
    void smokeOnTheCudaBackendMeasuresEveryModel() throws IOException {
        GpuTesting.assumeGpu();
        CliTest.Result r = CliTest.run("bench", "--smoke", "--device", "cuda", "--json");
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertTrue(j.path("cuda_graphs").asBoolean(), j.path("cuda_graphs").toString());
        assertTrue(j.path("ceilings").path("fp32_flops_per_s").asDouble() > 0, j.path("ceilings").toString());
        assertTrue(j.path("ceilings").path("how").asText().contains("512x512x512"), j.path("ceilings").toString());
        assertTrue(j.path("device_profiling").asText().contains("kernel times"), j.path("device_profiling").toString());
        assertTrue(j.path("skipped").isMissingNode(), j.path("skipped").toString());

        List<String> models = new ArrayList<>();
        for (JsonNode x : j.path("results")) {
            String what = x.path("model").asText() + " batch " + x.path("batch_size").asInt();
            models.add(x.path("model").asText());
            assertTrue(x.path("train_samples_per_s").asDouble() > 0, what);
            assertTrue(x.path("eval_samples_per_s").asDouble() > 0, what);
            assertEquals(5, x.path("steps_per_run").asInt(), what);
            assertTrue(x.path("peak_device_mib").asDouble() > 0, what + ": " + x.path("peak_device_mib"));
            List<String> ops = new ArrayList<>();
            x.path("op_profile").path("ops").forEach(op -> ops.add(op.path("op").asText()));
            // a training step's lookups, with its dense gradients cleared in the same launch; their backward in DIN's reduce launch
            boolean din = x.path("model").asText().equals("din");
            assertTrue(ops.contains(Kernels.EMBEDDING_GATHER_MULTI_FORWARD_ZERO)
                    && ops.contains(din ? Kernels.ACTIVATION_UNIT_REDUCE_GATHER : Kernels.EMBEDDING_GATHER_MULTI_BACKWARD), what + ": " + ops);
            if (din) {
                assertTrue((ops.contains(Kernels.ACTIVATION_UNIT_FORWARD) || ops.contains(Kernels.ACTIVATION_UNIT_FORWARD_SPLIT))
                        && (ops.contains(Kernels.ACTIVATION_UNIT_BACKWARD) || ops.contains(Kernels.ACTIVATION_UNIT_BACKWARD_3BLOCKS)), what + ": " + ops);
            }
            if (x.path("model").asText().equals("dien")) {
                assertTrue(ops.containsAll(List.of(Kernels.RECURRENCE_FORWARD, Kernels.RECURRENCE_BACKWARD, Kernels.RECURRENCE_WEIGHT_GRAD,
                        Kernels.AUX_PAIRS_FORWARD)), what + ": " + ops);
            }
        }
        assertEquals(List.of("base", "din", "dien"), models);
    }

    /**
     * {@code --autotune}: before DIN's runs, a trial under the starting settings and under each other value of the
     * settings DIN's step consulted (the activation unit's, the fused tower's, PDL on a device that has it; not the
     * small GEMM's: DIN's fused step runs no GEMM), from the built-in settings (--tuning off: the shipped table's H200
     * entry at batch 128 has the tower layer by layer, whose GEMMs would make the start consult the small GEMM's rule;
     * the device run of 2026-11-26 failed so), every trial measured or failed with its reason, the start and a
     * choice away from it run again; the runs then use the settings chosen, which the record names.
     */
    @Test
    void autotuneTriesTheSettingsTheStepConsults(@TempDir Path tmp) throws IOException {
        GpuTesting.assumeGpu();
        Path table = tmp.resolve("tuning.json");
        CliTest.Result r = CliTest.run("bench", "--smoke", "--device", "cuda", "--models", "din", "--autotune", "--autotune-seconds", "0.05", "--json",
                "--tuning", "off", "--save-tuning", table.toString());
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        JsonNode x = j.path("results").path(0), t = x.path("autotune");
        assertEquals(0.05, j.path("settings").path("autotune").path("seconds_per_trial").asDouble(), 1e-12);
        List<String> changes = new ArrayList<>();
        List<String> consulted = null, first = null;
        for (JsonNode trial : t.path("trials")) {
            String change = trial.path("change").asText();
            changes.add(change);
            assertTrue(trial.path("samples_per_s").asDouble() > 0 || !trial.path("error").isNull(), trial.toString());
            // each setting is tried only where the best run so far consulted it
            List<String> c = consulted;
            if (c != null && !change.startsWith("(")) assertTrue(c.stream().anyMatch(p -> change.startsWith("-D" + p + "=")), change + " not in " + c);
            if (trial.path("kept").asBoolean()) {
                consulted = new ArrayList<>();
                for (JsonNode p : trial.path("consulted")) consulted.add(p.asText());
                if (first == null) first = consulted;
            }
        }
        assertTrue(first.containsAll(List.of("augur.attention.fused", "augur.attention.rowsBackward", "augur.attention.partialsOnChip", "augur.tower.fused")),
                first.toString());
        assertFalse(first.contains("augur.gemm.small"), "DIN's step with the tower fused runs no GEMM: " + first);
        assertEquals("(start)", changes.get(0));
        if (!t.path("chosen_changes").isEmpty())
            assertEquals(List.of("(start, again)", "(chosen, again)"), changes.subList(changes.size() - 2, changes.size()));
        assertTrue(changes.contains("-Daugur.tower.fused=off") && changes.contains("-Daugur.attention.partialsOnChip=false"), changes.toString());
        assertTrue(changes.size() >= 8, changes.toString());
        assertEquals(t.path("chosen").asText(), x.path("kernel_settings").asText());
        assertTrue(x.path("train_samples_per_s").asDouble() > 0, x.toString());
        assertTrue(x.path("kernel_settings_from").asText().startsWith("--autotune, starting from built-in settings (no entry in "),
                x.path("kernel_settings_from").asText());

        // --save-tuning: the choice, keyed by the device, the model's shape, the precision and the batch size
        TuningTable saved = TuningTable.read(table);
        assertEquals(1, saved.entries().size(), saved.toJson());
        TuningTable.Entry e = saved.entries().get(0);
        CudaBackend be = GpuTesting.backend();
        assertEquals(new TuningTable.Key(be.runtime().name, be.runtime().computeCapability(), be.gemm().name(), "fp32", "din",
                "D18 att80-40 sigmoid softmax mlp200-80 dice", 16), e.key());
        List<String> chosen = new ArrayList<>();
        t.path("chosen_changes").forEach(c -> chosen.add(c.asText()));
        assertEquals(chosen, e.settings(), "the start was the built-in settings, so the changes from them are the choice's");
        assertEquals(x.path("train_samples_per_s").asDouble(), ((Number) e.measured().get("train_samples_per_s")).doubleValue());
        assertEquals(t.path("trials").size(), ((Number) e.measured().get("autotune_trials")).intValue());
    }

    /**
     * --tuning FILE: train and bench take the entry for their device, model and shape at the nearest batch size,
     * and say where the settings came from; --tuning off gives the built-in settings. (A bad file: CliTest; the
     * command line's settings winning over the table's: TuningTableTest.)
     */
    @Test
    void trainAndBenchTakeTheirSettingsFromATuningTable(@TempDir Path tmp) throws IOException {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Path data = tmp.resolve("world");
        assertEquals(0, CliTest.run(CliTest.args(new String[] {"generate", "--out", data.toString()}, CliTest.TINY_WORLD)).code());
        String shape = "D4 att8-4 sigmoid softmax mlp8-4 dice";
        Path table = tmp.resolve("tuning.json");
        TuningTable.empty(table.toString())
                .with(new TuningTable.Entry(new TuningTable.Key(be.runtime().name, be.runtime().computeCapability(), be.gemm().name(), "fp32", "din",
                        shape, 32), List.of("-Daugur.attention.rowsBackward=16", "-Daugur.tower.cols=8"), java.util.Map.of()))
                .with(new TuningTable.Entry(new TuningTable.Key(be.runtime().name, be.runtime().computeCapability(), be.gemm().name(), "fp32", "din",
                        shape, 1024), List.of("-Daugur.tower.fused=off"), java.util.Map.of()))
                .write(table);

        Path run = tmp.resolve("run");
        CliTest.Result r = CliTest.run(CliTest.args(new String[] {"train", "--device", "cuda", "--data", data.toString(), "--out", run.toString(),
                "--model", "din", "--epochs", "1", "--batch-size", "64", "--eval-batch-size", "256", "--tuning", table.toString()}, CliTest.TINY_MODEL));
        assertEquals(0, r.code(), r.toString());
        JsonNode summary = new ObjectMapper().readTree(run.resolve("summary.json").toFile()), config = summary.path("config");
        assertTrue(summary.path("device_memory_mib").asDouble() > 0, "Augur's device memory: " + summary);
        assertEquals("-Daugur.attention.rowsBackward=16 -Daugur.tower.cols=8", config.path("kernel_settings").asText(), config.toString());
        assertEquals("from " + table + ", din measured at batch 32, the nearest to 64", config.path("kernel_settings_from").asText());

        CliTest.Result b = CliTest.run(CliTest.args(new String[] {"bench", "--smoke", "--device", "cuda", "--models", "din", "--batch-sizes", "16,512",
                "--data", data.toString(), "--json", "--tuning", table.toString()}, CliTest.TINY_MODEL));
        assertEquals(0, b.code(), b.toString());
        JsonNode results = new ObjectMapper().readTree(b.out()).path("results");
        assertEquals("-Daugur.attention.rowsBackward=16 -Daugur.tower.cols=8", results.path(0).path("kernel_settings").asText());
        assertEquals("-Daugur.tower.fused=off", results.path(1).path("kernel_settings").asText());
        assertEquals("from " + table + ", din measured at batch 1024, the nearest to 512", results.path(1).path("kernel_settings_from").asText());

        CliTest.Result off = CliTest.run(CliTest.args(new String[] {"bench", "--smoke", "--device", "cuda", "--models", "din", "--data", data.toString(),
                "--json", "--tuning", "off"}, CliTest.TINY_MODEL));
        assertEquals(0, off.code(), off.toString());
        assertEquals("built-in settings", new ObjectMapper().readTree(off.out()).path("results").path(0).path("kernel_settings").asText());

    }

    /**
     * DIN with Dice in the activation unit runs (layer by layer); a DIEN whose GRU needs more
     * threads than a block holds (3H = 1200) is skipped under --smoke, and an error when named.
     */
    @Test
    void aModelTheBackendCannotBuildIsSkippedUnderSmokeAndAnErrorWhenNamed() throws IOException {
        GpuTesting.assumeGpu();
        CliTest.Result r = CliTest.run("bench", "--smoke", "--device", "cuda", "--att-activation", "dice", "--gru-hidden", "400", "--json");
        assertEquals(0, r.code(), r.toString());
        JsonNode j = new ObjectMapper().readTree(r.out());
        List<String> measured = new ArrayList<>(), skipped = new ArrayList<>();
        j.path("results").forEach(x -> {
            measured.add(x.path("model").asText());
            assertTrue(x.path("train_samples_per_s").asDouble() > 0, x.toString());
        });
        j.path("skipped").forEach(x -> {
            skipped.add(x.path("model").asText());
            assertTrue(x.path("reason").asText().contains("1024"), x.toString());
        });
        assertEquals(List.of("base", "din"), measured, "measured " + measured + ", skipped " + skipped);
        assertEquals(List.of("dien"), skipped, "measured " + measured + ", skipped " + skipped);

        CliTest.Result named = CliTest.run("bench", "--smoke", "--device", "cuda", "--models", "dien", "--gru-hidden", "400", "--json");
        assertTrue(named.code() != 0, named.toString());
        assertTrue(named.err().contains("1024"), named.toString());
    }
}
