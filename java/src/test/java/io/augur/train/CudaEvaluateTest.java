package io.augur.train;

import io.augur.backend.cuda.CudaBackend;
import io.augur.backend.cuda.GpuTesting;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.data.Batch;
import io.augur.data.BatchReader;
import io.augur.data.Dataset;
import io.augur.data.SampleFile;
import io.augur.data.SyntheticWorld;
import io.augur.config.WorldConfig;
import io.augur.model.CtrModel;
import io.augur.model.Models;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trainer's evaluation on the GPU, which reads batch i's probabilities after issuing batch
 * i + 1, gives exactly the metrics of predicting batch by batch and waiting for each (partial last
 * batch included). SKIPPED where no GPU is usable.
 */
@Tag("gpu")
class CudaEvaluateTest {

    @Test
    void pipelinedEvaluationMatchesBatchByBatch(@TempDir Path tmp) throws java.io.IOException {
        GpuTesting.assumeGpu();
        CudaBackend be = GpuTesting.backend();
        Path dir = tmp.resolve("world");
        SyntheticWorld.generate(WorldConfig.builder().users(120).items(150).categories(8).meanHistory(8).maxBehaviours(30).historyLength(10).build(), dir);
        Dataset ds = Dataset.open(dir);
        ModelConfig mcfg = new ModelConfig(ModelConfig.Kind.DIN, 6, java.util.List.of(16, 8), io.augur.backend.Activation.SIGMOID, true,
                java.util.List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        TrainConfig tcfg = TrainConfig.defaults().withBatch(32, 50);
        CtrModel model = Models.create(be, mcfg, Models.features(ds), 50, 3);
        Trainer trainer = new Trainer(be, model, ds, tcfg, tmp.resolve("run"), Map.of());
        SampleFile valid = ds.valid();
        assertTrue(valid.rows() % 50 != 0, "the split ends in a partial batch: " + valid.rows());

        Metrics pipelined = trainer.evaluate(valid);

        Metrics waiting = new Metrics(valid.rows());
        float[] probs = new float[50];
        try (BatchReader r = valid.batches(50, false, 0L, 0, false, false)) {
            for (Batch b; (b = r.next()) != null; ) {
                model.batch.load(be, b.size, b.labels, b.profile, b.items, b.cates, b.histItems, b.histCates, null, null, b.lengths);
                model.predictStep(probs);
                waiting.addAll(b.profile[0], b.labels, probs, b.size);
            }
        }
        assertEquals(valid.rows(), pipelined.count());
        assertEquals(waiting.count(), pipelined.count());
        assertEquals(waiting.auc(), pipelined.auc());
        assertEquals(waiting.logloss(), pipelined.logloss());
    }
}
