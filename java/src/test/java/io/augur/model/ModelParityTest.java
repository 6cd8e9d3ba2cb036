package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.Backend;
import io.augur.backend.Param;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.train.Optimizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole training steps, fast path against the reference: the same model, data and optimizer on
 * both CPU backends give the same losses and parameters after several steps, batches of varying
 * size included (the last partial batch).
 */
class ModelParityTest {

    static final Features FEATURES = new Features(List.of(new Features.Field("user_id", "user", 40)), 60, 9, 8);

    @ParameterizedTest
    @EnumSource(ModelConfig.Kind.class)
    void trainingStepsMatch(ModelConfig.Kind kind) {
        // DIN with the paper's unnormalised weights here; the recurrent models' attention is always softmaxed
        ModelConfig cfg = new ModelConfig(kind, 6, List.of(16, 8), Activation.SIGMOID, kind.recurrent(), List.of(20, 10), null, 1e-5f, 1e-8f,
                0.99f, 0.05f, new ModelConfig.Sequence(7, ModelConfig.Evolution.AUGRU, 1f, List.of(12, 6)));
        assertStepsMatch(cfg);
    }

    /** Every DIEN evolution layer, with and without the auxiliary loss. */
    @ParameterizedTest
    @EnumSource(ModelConfig.Evolution.class)
    void dienVariantsMatch(ModelConfig.Evolution evolution) {
        for (float auxWeight : new float[] {0f, 0.5f}) {
            ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIEN, 6, List.of(16, 8), Activation.SIGMOID, true, List.of(20, 10), null, 1e-5f,
                    1e-8f, 0.99f, 0.05f, new ModelConfig.Sequence(5, evolution, auxWeight, List.of(12, 6)));
            assertStepsMatch(cfg);
        }
    }

    private static void assertStepsMatch(ModelConfig cfg) {
        float[][] ref = train(CpuBackend.reference(), cfg), fast = train(new CpuBackend(false, 2), cfg);
        float[] refLoss = ref[0], fastLoss = fast[0];
        for (int s = 0; s < refLoss.length; s++) {
            // fp32 with different summation orders; five Adam steps amplify the last bits a little
            assertEquals(refLoss[s], fastLoss[s], 1e-4 + 1e-4 * Math.abs(refLoss[s]), "loss at step " + s);
        }
        for (int k = 0; k < ref[1].length; k++) {
            assertEquals(ref[1][k], fast[1][k], 1e-4 + 1e-3 * Math.abs(ref[1][k]), "parameter value " + k);
        }
    }

    @Test
    void lossDecreasesOnALearnableBatch() {
        ModelConfig cfg = new ModelConfig(ModelConfig.Kind.DIN, 6, List.of(16, 8), Activation.SIGMOID, false, List.of(20, 10), null, 1e-5f, 1e-8f, 0.99f, 0.05f);
        try (CpuBackend be = new CpuBackend(false, 2)) {
            Din m = new Din(be, cfg, FEATURES, 32, 3);
            Optimizer opt = optimizer(be, m, TrainConfig.defaults());
            Data d = data(32, 11);
            float first = 0, last = 0;
            for (int s = 0; s < 60; s++) {
                load(be, m, d, 32);
                m.zeroGrads();
                m.forward(true);
                float l = m.loss();
                m.backward();
                opt.step();
                if (s == 0) first = l;
                last = l;
            }
            assertTrue(last < 0.5f * first, "loss should fall when one batch is fitted: " + first + " -> " + last);
        }
    }

    /** Returns {losses of 5 steps, all parameter values afterwards}. */
    static float[][] train(CpuBackend be, ModelConfig cfg) {
        try (be) {
            CtrModel m = Models.create(be, cfg, FEATURES, 16, 5);
            Optimizer opt = optimizer(be, m, TrainConfig.defaults());
            int[] sizes = {16, 16, 11, 16, 3};
            float[] losses = new float[sizes.length];
            for (int s = 0; s < sizes.length; s++) {
                load(be, m, data(sizes[s], 100 + s), sizes[s]);
                m.zeroGrads();
                m.forward(true);
                losses[s] = m.loss();
                m.backward();
                opt.step();
            }
            int total = 0;
            for (Param p : m.params()) total += p.value().size();
            float[] all = new float[total];
            int off = 0;
            for (Param p : m.params()) {
                float[] v = new float[p.value().size()];
                be.download(p.value(), v, v.length);
                System.arraycopy(v, 0, all, off, v.length);
                off += v.length;
            }
            return new float[][] {losses, all};
        }
    }

    static Optimizer optimizer(Backend be, CtrModel m, TrainConfig cfg) {
        Map<String, int[]> counts = new HashMap<>();
        for (Param p : m.embeddingTables()) {
            int[] c = new int[p.value().dim(0)];
            java.util.Arrays.fill(c, 3);
            counts.put(p.name(), c);
        }
        return new Optimizer(be, m.params(), counts, cfg);
    }

    record Data(float[] labels, int[] users, int[] items, int[] cates, int[] histItems, int[] histCates, int[] negItems, int[] negCates,
                int[] lengths) {}

    /** Random samples where the label is 1 exactly when the target's category occurs in the history. */
    static Data data(int B, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int T = FEATURES.T();
        Data d = new Data(new float[B], new int[B], new int[B], new int[B], new int[B * T], new int[B * T], new int[B * T], new int[B * T],
                new int[B]);
        for (int b = 0; b < B; b++) {
            d.users[b] = 1 + r.nextInt(39);
            d.items[b] = 1 + r.nextInt(59);
            d.cates[b] = 1 + d.items[b] % 8;
            d.lengths[b] = r.nextInt(T + 1);
            boolean hit = false;
            for (int t = 0; t < d.lengths[b]; t++) {
                int it = 1 + r.nextInt(59);
                d.histItems[b * T + t] = it;
                d.histCates[b * T + t] = 1 + it % 8;
                hit |= d.histCates[b * T + t] == d.cates[b];
                int neg = 1 + (it + 1 + r.nextInt(57)) % 59;   // never the clicked item
                d.negItems[b * T + t] = neg;
                d.negCates[b * T + t] = 1 + neg % 8;
            }
            d.labels[b] = hit ? 1f : 0f;
        }
        return d;
    }

    static void load(Backend be, CtrModel m, Data d, int B) {
        m.batch.load(be, B, d.labels, new int[][] {d.users}, d.items, d.cates, d.histItems, d.histCates, d.negItems, d.negCates, d.lengths);
    }
}
