package io.augur.model;

import io.augur.backend.Activation;
import io.augur.backend.cpu.CpuBackend;
import io.augur.config.ModelConfig;
import io.augur.config.TrainConfig;
import io.augur.train.Optimizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.management.ManagementFactory;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A training step of the fast path allocates no buffers: every array is planned when the model is
 * built. What remains per op call is the thread team's small job record and the loop body's
 * lambda (tens of bytes each), so the bytes allocated per step are small and do not grow with the
 * batch size. Measured with the JVM's per-thread allocation counters over every live thread.
 */
class StepAllocationTest {

    /** DIN, and DIEN (more ops per step: two recurrences, the auxiliary network, the negatives). */
    @ParameterizedTest
    @EnumSource(value = ModelConfig.Kind.class, names = {"DIN", "DIEN"})
    void stepAllocatesNoBuffers(ModelConfig.Kind kind) {
        long small = bytesPerStep(kind, 32), large = bytesPerStep(kind, 256);
        // an array of even one batch-sized activation would be 256 * 18 * 4 = 18 KiB
        assertTrue(large < 16 * 1024, "a " + kind.label() + " step at B=256 allocates " + large + " bytes");
        assertTrue(large < small + 4 * 1024, "allocation grows with the batch: " + small + " bytes at B=32, " + large + " at B=256");
    }

    static long bytesPerStep(ModelConfig.Kind kind, int B) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ModelConfig cfg = new ModelConfig(kind, 18, List.of(80, 40), Activation.SIGMOID, true, List.of(200, 80), null,
                1e-5f, 1e-8f, 0.99f, 0.01f);
        Features features = new Features(List.of(new Features.Field("user_id", "user", 500)), 800, 40, 20);
        try (CpuBackend be = new CpuBackend(false, 2)) {
            CtrModel m = Models.create(be, cfg, features, B, 1);
            Optimizer opt = ModelParityTest.optimizer(be, m, TrainConfig.defaults());
            ModelParityTest.Data d = data(B, features);
            m.batch.load(be, B, d.labels(), new int[][] {d.users()}, d.items(), d.cates(), d.histItems(), d.histCates(), d.negItems(), d.negCates(),
                    d.lengths());
            for (int s = 0; s < 40; s++) step(m, opt);
            long[] ids = mx.getAllThreadIds();
            long before = sum(mx.getThreadAllocatedBytes(ids));
            int steps = 20;
            for (int s = 0; s < steps; s++) step(m, opt);
            long after = sum(mx.getThreadAllocatedBytes(ids));
            return (after - before) / steps;
        }
    }

    static void step(CtrModel m, Optimizer opt) {
        m.zeroGrads();
        m.forward(true);
        m.loss();
        m.backward();
        opt.step();
    }

    static long sum(long[] a) {
        long s = 0;
        for (long v : a) if (v > 0) s += v;
        return s;
    }

    static ModelParityTest.Data data(int B, Features f) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(5);
        int T = f.T();
        ModelParityTest.Data d = new ModelParityTest.Data(new float[B], new int[B], new int[B], new int[B], new int[B * T], new int[B * T], new int[B * T], new int[B * T],
                new int[B]);
        for (int b = 0; b < B; b++) {
            d.labels()[b] = r.nextInt(2);
            d.users()[b] = 1 + r.nextInt(499);
            d.items()[b] = 1 + r.nextInt(799);
            d.cates()[b] = 1 + r.nextInt(39);
            d.lengths()[b] = r.nextInt(T + 1);
            for (int t = 0; t < d.lengths()[b]; t++) {
                d.histItems()[b * T + t] = 1 + r.nextInt(799);
                d.histCates()[b * T + t] = 1 + r.nextInt(39);
                d.negItems()[b * T + t] = 1 + (d.histItems()[b * T + t] + r.nextInt(797)) % 799;
                d.negCates()[b * T + t] = 1 + r.nextInt(39);
            }
        }
        return d;
    }
}
