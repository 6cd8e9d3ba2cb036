package io.augur.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Dataset;
import io.augur.data.SyntheticWorld;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BaseModel and DIN trained end to end through {@link Trainer#run()} on a tiny synthetic world
 * (300 users, 200 items, ~8 behaviours each, T = 10) with a tiny model on the fast CPU path with 2
 * threads: what the run folder holds, that the best checkpoint restores the trained model exactly,
 * and that the whole pipeline (generation, shuffling, initialisation, training, evaluation) is
 * deterministic for a given seed.
 */
class TrainerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BATCH = 32, EVAL_BATCH = 256, EPOCHS = 2;
    private static final long SEED = 7;

    @TempDir
    static Path shared;
    static Path dataDir, noNegDir;

    @BeforeAll
    static void generateWorld() throws IOException {
        System.setProperty("java.awt.headless", "true");
        dataDir = shared.resolve("world");
        // maxBehaviours must stay below items (every user needs items left over as negatives)
        WorldConfig.Builder world = WorldConfig.builder().users(300).items(200).categories(10).meanHistory(8).maxBehaviours(40)
                .historyLength(10);
        SyntheticWorld.generate(world.build(), dataDir);
        noNegDir = shared.resolve("world-without-neg-columns");
        SyntheticWorld.generate(world.negHistory(false).build(), noNegDir);
    }

    static ModelConfig tinyModel(ModelConfig.Kind kind) {
        ModelConfig d = ModelConfig.defaults(kind);
        return new ModelConfig(kind, 4, List.of(8, 4), d.attActivation(), d.attSoftmax(), List.of(8, 4), d.mlpActivation(), d.bnEps(),
                d.diceEps(), d.momentum(), d.embInitStd(), new ModelConfig.Sequence(8, ModelConfig.Evolution.AUGRU, 1f, List.of(8, 4)));
    }

    /** 2 epochs, lr 0.01 (10x the default, so that ~190 steps of a tiny model learn something), 2 threads. */
    static TrainConfig trainConfig(long seed, int batch) {
        TrainConfig d = TrainConfig.defaults();
        return new TrainConfig(EPOCHS, batch, EVAL_BATCH, 0.01f, SparseOptimizer.Kind.ADAM, 0.01f, d.mbarLambda(), 0f, d.beta1(), d.beta2(),
                d.adamEps(), d.patience(), seed, 2);
    }

    /** A finished run: the trained model (holding the best checkpoint's parameters) and its trainer. */
    record Run(Backend be, CtrModel model, Trainer trainer, RunSummary summary, Path dir, Dataset ds, TrainConfig tcfg) implements AutoCloseable {
        @Override
        public void close() { be.close(); }
    }

    static Run train(ModelConfig.Kind kind, long seed, Path out) throws IOException {
        return train(kind, seed, BATCH, out);
    }

    static Run train(ModelConfig.Kind kind, long seed, int batch, Path out) throws IOException {
        return train(kind, seed, batch, out, dataDir);
    }

    static Run train(ModelConfig.Kind kind, long seed, int batch, Path out, Path data) throws IOException {
        Dataset ds = Dataset.open(data);
        TrainConfig tcfg = trainConfig(seed, batch);
        Backend be = new CpuBackend(false, 2);
        try {
            ModelConfig mcfg = tinyModel(kind);
            CtrModel model = Models.create(be, mcfg, Models.features(ds), Math.max(batch, EVAL_BATCH), seed);
            Trainer trainer = new Trainer(be, model, ds, tcfg, out, Map.of("model", mcfg, "train", tcfg));
            RunSummary s = trainer.run();
            return new Run(be, model, trainer, s, out, ds, tcfg);
        } catch (IOException | RuntimeException | Error e) {
            be.close();
            throw e;
        }
    }

    @ParameterizedTest
    @EnumSource(ModelConfig.Kind.class)
    void trainsEndToEndAndWritesTheRunFolder(ModelConfig.Kind kind, @TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("run");
        try (Run run = train(kind, SEED, out)) {
            // summary.json
            Path summaryFile = out.resolve(Trainer.SUMMARY);
            assertTrue(Files.isRegularFile(summaryFile), "no " + summaryFile);
            JsonNode s = JSON.readTree(summaryFile.toFile());
            assertEquals(kind.label(), s.path("model").asText(), s.toString());
            assertEquals("cpu", s.path("device").asText(), s.toString());
            for (String f : List.of("test_auc", "test_gauc", "test_logloss", "best_valid_auc", "best_epoch", "train_samples_per_s")) {
                assertTrue(s.path(f).isNumber(), f + " is not a number in " + s);
            }
            for (String f : List.of("test_auc", "test_gauc", "best_valid_auc")) {
                double v = s.get(f).asDouble();
                assertTrue(v > 0 && v < 1, f + " = " + v);
            }
            assertTrue(s.get("test_logloss").asDouble() > 0, s.toString());
            assertTrue(s.get("train_samples_per_s").asDouble() > 0, s.toString());
            int bestEpoch = s.get("best_epoch").asInt();
            assertTrue(bestEpoch >= 1 && bestEpoch <= EPOCHS, "best_epoch " + bestEpoch);
            // Measured on this world (2,982 train / 600 test rows), 2 epochs: seed 7 gives test AUC 0.681 (base) and
            // 0.674 (din); seeds 1..6 gave 0.63..0.70 for both. 0.55 leaves a wide margin (test AUC on 600 rows has a
            // standard error of about 0.02) while still failing a model that learns nothing (0.5).
            assertTrue(run.summary().testAuc() > 0.55, kind + " test AUC only " + run.summary().testAuc());
            assertEquals(run.summary().testAuc(), s.get("test_auc").asDouble(), 0.0);

            // best.ckpt holds every parameter (dense, embedding tables and buffers) with the model's current values
            Path ckpt = out.resolve(Trainer.CHECKPOINT);
            assertTrue(Files.isRegularFile(ckpt), "no " + ckpt);
            Checkpoint.Contents c = Checkpoint.read(ckpt);
            assertEquals(kind.label(), c.meta().path("model").asText());
            assertEquals(bestEpoch, c.meta().path("epoch").asInt());
            Set<String> names = new HashSet<>();
            for (Param p : run.model().params()) {
                names.add(p.name());
                NamedArray a = c.tensors().get(p.name());
                assertNotNull(a, "checkpoint lacks " + p.name() + "; it has " + c.tensors().keySet());
                assertArrayEquals(p.value().shape(), a.shape(), p.name());
                float[] v = new float[p.value().size()];
                run.be().download(p.value(), v, v.length);
                assertArrayEquals(v, a.floats(), p.name() + ": the trained model does not hold the best checkpoint");
            }
            assertEquals(names, c.tensors().keySet(), "checkpoint tensors vs model parameters");

            // a fresh model loaded from best.ckpt reproduces the trained model exactly
            Metrics trained = run.trainer().evaluate(run.ds().valid());
            assertEquals(s.get("best_valid_auc").asDouble(), trained.auc(), 0.0, "valid AUC of the restored best model vs summary");
            CtrModel fresh = Models.create(run.be(), run.model().config(), Models.features(run.ds()), Math.max(BATCH, EVAL_BATCH), SEED + 1000);
            Trainer freshTrainer = new Trainer(run.be(), fresh, run.ds(), run.tcfg(), tmp.resolve("unused"), Map.of());
            assertTrue(freshTrainer.evaluate(run.ds().valid()).logloss() != trained.logloss(), "an untrained model already matches");
            Trainer.loadInto(fresh, ckpt);
            Metrics reloaded = freshTrainer.evaluate(run.ds().valid());
            assertEquals(trained.count(), reloaded.count());
            assertEquals(trained.auc(), reloaded.auc(), 0.0, "valid AUC");
            assertEquals(trained.gauc(), reloaded.gauc(), 0.0, "valid GAUC");
            assertEquals(trained.logloss(), reloaded.logloss(), 0.0, "valid logloss");

            // metrics.jsonl: step, epoch, eval and summary records
            List<String> lines = Files.readAllLines(out.resolve(Trainer.METRICS));
            Set<String> kinds = new HashSet<>();
            int evals = 0, epochs = 0;
            for (String line : lines) {
                JsonNode r = JSON.readTree(line);
                String k = r.path("kind").asText();
                kinds.add(k);
                if (k.equals("eval")) {
                    evals++;
                    assertEquals("valid", r.path("split").asText(), line);
                    assertTrue(r.path("auc").isNumber(), line);
                }
                if (k.equals("epoch")) epochs++;
                if (k.equals("step")) {
                    // DIEN logs its auxiliary loss (about 2 ln 2 = 1.39 untrained, two BCE terms per pair); the others have none
                    if (kind == ModelConfig.Kind.DIEN) {
                        double aux = r.path("aux_loss").asDouble(Double.NaN);
                        assertTrue(aux > 0 && aux < 3, "aux_loss in " + line);
                    } else {
                        assertTrue(r.path("aux_loss").isMissingNode() || r.path("aux_loss").isNull(), line);
                    }
                }
                if (k.equals("summary")) {
                    assertEquals("test", r.path("split").asText(), line);
                    assertEquals(run.summary().testAuc(), r.path("auc").asDouble(), 0.0, line);
                }
            }
            assertEquals(Set.of("step", "epoch", "eval", "summary"), kinds, "record kinds in metrics.jsonl");
            assertEquals(run.summary().epochs(), epochs, "epoch records");
            assertEquals(run.summary().epochs(), evals, "eval records");
            assertTrue(lines.get(lines.size() - 1).contains("\"summary\""), "the summary record comes last");

            // loss.png and valid.png
            for (String png : List.of("loss.png", "valid.png")) {
                Path f = out.resolve(png);
                assertTrue(Files.isRegularFile(f), "no " + f);
                byte[] head = Arrays.copyOf(Files.readAllBytes(f), 8);
                assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head, png + " is not a PNG");
            }
        }
    }

    /**
     * The same seed gives bit-identical results on the fast path with 2 threads: same test metrics
     * and the same best checkpoint. CpuThreads cuts every parallel loop into chunks that depend only
     * on (n, grain, threads) and reductions combine chunk partials in chunk order, so scheduling
     * cannot change a bit. At batch 32 only the activation unit's per-sample loops split into 2
     * chunks; batch 2048 also splits the BatchNorm/Dice batch statistics, the Linear layers and the
     * pooling over both threads.
     */
    @ParameterizedTest
    @ValueSource(ints = {BATCH, 2048})
    void sameSeedSameResult(int batch, @TempDir Path tmp) throws IOException {
        RunSummary a, b;
        Checkpoint.Contents ca, cb;
        try (Run r = train(ModelConfig.Kind.DIN, SEED, batch, tmp.resolve("a"))) {
            a = r.summary();
            ca = Checkpoint.read(tmp.resolve("a").resolve(Trainer.CHECKPOINT));
        }
        try (Run r = train(ModelConfig.Kind.DIN, SEED, batch, tmp.resolve("b"))) {
            b = r.summary();
            cb = Checkpoint.read(tmp.resolve("b").resolve(Trainer.CHECKPOINT));
        }
        assertEquals(a.testAuc(), b.testAuc(), 0.0, "test AUC");
        assertEquals(a.testGauc(), b.testGauc(), 0.0, "test GAUC");
        assertEquals(a.testLogloss(), b.testLogloss(), 0.0, "test logloss");
        assertEquals(a.bestValidAuc(), b.bestValidAuc(), 0.0, "best valid AUC");
        assertEquals(a.bestEpoch(), b.bestEpoch(), "best epoch");
        assertEquals(ca.tensors().keySet(), cb.tensors().keySet());
        for (String name : ca.tensors().keySet()) {
            assertArrayEquals(ca.tensor(name).floats(), cb.tensor(name).floats(), name);
        }
    }

    /**
     * DIEN on a dataset without neg_hist columns: the trainer samples the auxiliary negatives
     * (uniformly, seeded), learns, and a rerun with the same seed is bit-identical.
     */
    @Test
    void dienSamplesItsNegativesWhenTheDatasetHasNone(@TempDir Path tmp) throws IOException {
        RunSummary a, b;
        Checkpoint.Contents ca, cb;
        try (Run r = train(ModelConfig.Kind.DIEN, SEED, BATCH, tmp.resolve("a"), noNegDir)) {
            assertTrue(!r.ds().schema().hasNegHist(), "the world must lack neg columns");
            a = r.summary();
            ca = Checkpoint.read(tmp.resolve("a").resolve(Trainer.CHECKPOINT));
        }
        try (Run r = train(ModelConfig.Kind.DIEN, SEED, BATCH, tmp.resolve("b"), noNegDir)) {
            b = r.summary();
            cb = Checkpoint.read(tmp.resolve("b").resolve(Trainer.CHECKPOINT));
        }
        assertTrue(a.testAuc() > 0.55, "DIEN with sampled negatives: test AUC only " + a.testAuc());
        assertEquals(a.testAuc(), b.testAuc(), 0.0, "test AUC of the rerun");
        for (String name : ca.tensors().keySet()) assertArrayEquals(ca.tensor(name).floats(), cb.tensor(name).floats(), name);
    }
}
