package io.augur.jmh;

import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.SparseGrad;
import io.augur.backend.SparseOptimizer;
import io.augur.backend.Tensor;
import io.augur.config.TrainConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * The embedding path of one step on the item table (63,001 x 18, the Amazon catalog): the
 * history's gather, its backward into the sparse gradient, and the sparse update (lazy Adam with
 * MBAR, lambda 0.01) of the touched rows. Ids are skewed (popular items repeat) and padded
 * positions are masked, as in training.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SparseUpdateBench {
    @Param({"128", "1024"})
    public int batch;

    @Param({"cpu"})
    public String device;

    @Param({"0"})
    public int threads;

    static final int V = 63_001;

    Backend be;
    Tensor table, m, v, counts, ids, lengths, out, dOut;
    SparseGrad grad;
    SparseOptimizer opt;
    int rows, step;

    @Setup(Level.Trial)
    public void setup() {
        int B = batch, T = BenchData.T, D = BenchData.D, E = BenchData.E;
        be = Backends.create(device, threads);
        SplittableRandom rng = new SplittableRandom(19);
        rows = B * T;
        int[] id = new int[rows], cnt = new int[V];
        for (int r = 0; r < rows; r++) id[r] = 1 + (int) Math.min(V - 2, Math.abs(rng.nextGaussian()) * 8000);
        for (int j = 1; j < V; j++) cnt[j] = 1 + rng.nextInt(50);
        table = BenchData.uniform(be, rng, "table", -0.01f, 0.01f, V, D);
        m = be.floats("m", V, D);
        v = be.floats("v", V, D);
        counts = BenchData.ints(be, "counts", cnt, V);
        ids = BenchData.ints(be, "ids", id, rows);
        lengths = BenchData.ints(be, "lengths", BenchData.lengths(rng, B, BenchData.MEAN_LENGTH), B);
        out = be.floats("out", rows, E);
        dOut = BenchData.uniform(be, rng, "dOut", -0.1f, 0.1f, rows, E);
        grad = be.sparseGrad("grad", V, D, rows);
        opt = TrainConfig.defaults().sparseOptimizer();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }

    @Benchmark
    public Tensor gather() {
        be.embeddingGather(out, ids, lengths, table, rows, BenchData.T, BenchData.D, BenchData.E, 0);
        be.synchronize();
        return out;
    }

    /** The gradient scatter and the update of the rows it touched (which clears the gradient). */
    @Benchmark
    public Tensor backwardAndUpdate() {
        be.embeddingGatherBackward(grad, dOut, ids, lengths, rows, BenchData.T, BenchData.D, BenchData.E, 0);
        be.sparseUpdate(table, m, v, grad, counts, opt, ++step);
        be.synchronize();
        return table;
    }
}
