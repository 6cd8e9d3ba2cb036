package io.augur.jmh;

import io.augur.backend.Activation;
import io.augur.backend.AttentionParams;
import io.augur.backend.AttentionSpec;
import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.Tensor;
import io.augur.backend.Workspace;
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
 * DIN's activation unit (DESIGN.md §3) at the Amazon config: width 36, hidden 80-40, sigmoid,
 * softmax over the valid positions, pooled output; B samples of T = 100 positions with ~18 valid.
 * {@code forward} is the training forward; {@code forwardBackward} adds the backward from the
 * pooled output (gradients into the query, the keys and the parameters).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ActivationUnitBench {
    @Param({"128", "1024"})
    public int batch;

    /** cpu (the fast path) or cpu-reference (the plain-loop specification). */
    @Param({"cpu"})
    public String device;

    /** CPU threads; 0 = all cores. */
    @Param({"0"})
    public int threads;

    Backend be;
    AttentionSpec spec;
    AttentionParams params, grads;
    Workspace ws;
    Tensor out, weights, query, keys, lengths, dOut, dQuery, dKeys;

    @Setup(Level.Trial)
    public void setup() {
        int B = batch, T = BenchData.T, W = BenchData.E;
        be = Backends.create(device, threads);
        SplittableRandom rng = new SplittableRandom(11);
        spec = new AttentionSpec(W, 80, 40, Activation.SIGMOID, true, 0.99f, 1e-8f);
        int in = spec.inputWidth();
        params = new AttentionParams(BenchData.uniform(be, rng, "w1", -0.1f, 0.1f, in, 80), BenchData.uniform(be, rng, "b1", -0.1f, 0.1f, 80), null,
                BenchData.uniform(be, rng, "w2", -0.1f, 0.1f, 80, 40), BenchData.uniform(be, rng, "b2", -0.1f, 0.1f, 40), null,
                BenchData.uniform(be, rng, "w3", -0.1f, 0.1f, 40, 1), BenchData.uniform(be, rng, "b3", -0.1f, 0.1f, 1), null, null, null, null);
        grads = new AttentionParams(be.floats("gw1", in, 80), be.floats("gb1", 80), null, be.floats("gw2", 80, 40), be.floats("gb2", 40), null,
                be.floats("gw3", 40, 1), be.floats("gb3", 1), null, null, null, null);
        ws = be.attentionWorkspace("ws", spec, B, T);
        out = be.floats("out", B, W);
        weights = be.floats("weights", B, T);
        query = BenchData.uniform(be, rng, "query", -0.5f, 0.5f, B, W);
        keys = BenchData.uniform(be, rng, "keys", -0.5f, 0.5f, B * T, W);
        lengths = BenchData.ints(be, "lengths", BenchData.lengths(rng, B, BenchData.MEAN_LENGTH), B);
        dOut = BenchData.uniform(be, rng, "dOut", -0.1f, 0.1f, B, W);
        dQuery = be.floats("dQuery", B, W);
        dKeys = be.floats("dKeys", B * T, W);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }

    @Benchmark
    public Tensor forward() {
        be.activationUnit(out, weights, ws, query, keys, lengths, params, spec, batch, BenchData.T, true);
        be.synchronize();
        return out;
    }

    @Benchmark
    public Tensor forwardBackward() {
        be.activationUnit(out, weights, ws, query, keys, lengths, params, spec, batch, BenchData.T, true);
        be.activationUnitBackward(dQuery, dKeys, grads, dOut, null, weights, ws, query, keys, lengths, params, spec, batch, BenchData.T);
        be.synchronize();
        return dKeys;
    }
}
