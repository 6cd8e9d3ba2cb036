package io.augur.train;

import io.augur.backend.Activation;
import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.GpuTesting;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.config.WorldConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SyntheticWorld;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code train --resident-data} on the GPU: the training file's histories uploaded once and each
 * batch gathered on the device from its row numbers. Two models from the same seed, one fed as
 * usual and one from resident histories, over the same shuffled batches (a partial last one
 * included): every step's loss is the same to the bit, for DIN and for DIEN with the auxiliary
 * loss's negatives taken from the file's neg_hist columns (resident too). SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaResidentDataTest {
    @TempDir
    static Path dir;
    static Dataset ds;

    @BeforeAll
    static void world() throws java.io.IOException {
        SyntheticWorld.generate(WorldConfig.builder().users(120).items(150).categories(8).meanHistory(8).maxBehaviours(30).historyLength(10).build(),
                dir.resolve("world"));
        ds = Dataset.open(dir.resolve("world"));
    }

    @ParameterizedTest
    @EnumSource(value = ModelConfig.Kind.class, names = {"DIN", "DIEN"})
    void residentHistoriesTrainTheSameSteps(ModelConfig.Kind kind) {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        ModelConfig mcfg = new ModelConfig(kind, 6, List.of(16, 8), Activation.SIGMOID, kind == ModelConfig.Kind.DIEN, List.of(20, 10), null,
                1e-5f, 1e-8f, 0.99f, 0.05f);
        if (kind == ModelConfig.Kind.DIEN) mcfg = mcfg.withSequence(new ModelConfig.Sequence(8, ModelConfig.Evolution.AUGRU, 1f, List.of(12, 6)));
        TrainConfig tcfg = TrainConfig.defaults().withBatch(48, 48);
        float[] copied = losses(be, mcfg, tcfg, false);
        float[] resident = losses(be, mcfg, tcfg, true);
        assertArrayEquals(copied, resident, kind + ": the losses with resident histories");
    }

    private static float[] losses(CudaBackend be, ModelConfig mcfg, TrainConfig tcfg, boolean resident) {
        CtrModel model = Models.create(be, mcfg, Models.features(ds), tcfg.batchSize(), 11);
        Optimizer opt = new Optimizer(be, model.params(), Trainer.countsByTable(model, ds), tcfg);
        Trainer trainer = new Trainer(be, model, ds, tcfg, dir.resolve("run"), Map.of());
        trainer.setResidentData(resident);
        float[] out = new float[ds.train().rows() / tcfg.batchSize() + 1];
        int n = 0;
        try (BatchReader r = trainer.trainBatches(tcfg.batchSize(), 7L, 1, false)) {
            for (Batch b; (b = r.next()) != null; ) {
                assertTrue(b.hasHistories() != resident, "batches carry histories only when they are not resident");
                out[n++] = trainer.trainStep(opt, b);
            }
        }
        if (resident) assertNotNull(trainer.residentHistories(), "the histories were made resident");
        else assertNull(trainer.residentHistories());
        assertFalse(n < 4, "steps: " + n);
        assertTrue(ds.train().rows() % tcfg.batchSize() != 0, "a partial last batch");
        return java.util.Arrays.copyOf(out, n);
    }
}
