package io.augur.jmh;

import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.Tensor;
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
 * Linear layers (y = x W + b and its backward: dx, dW +=, db +=) at the shapes the models run:
 * the top MLP's first and second layers (DIN's 162 -> 200, 200 -> 80) and DIEN's auxiliary
 * network's first layer (72 -> 100, over 2P rows: about 2 * 17 rows per sample), for rows = batch.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LinearBench {
    /** in x out: top1 = 162x200, top2 = 200x80, aux1 = 72x100. */
    @Param({"top1", "top2", "aux1"})
    public String layer;

    @Param({"128", "1024"})
    public int batch;

    @Param({"cpu"})
    public String device;

    @Param({"0"})
    public int threads;

    Backend be;
    Tensor x, w, b, y, dy, dx, dw, db;
    int rows, in, out;

    @Setup(Level.Trial)
    public void setup() {
        switch (layer) {
            case "top1" -> { in = 162; out = 200; rows = batch; }
            case "top2" -> { in = 200; out = 80; rows = batch; }
            case "aux1" -> { in = 72; out = 100; rows = 34 * batch; }
            default -> throw new IllegalArgumentException("unknown layer " + layer);
        }
        be = Backends.create(device, threads);
        SplittableRandom rng = new SplittableRandom(17);
        x = BenchData.uniform(be, rng, "x", -1, 1, rows, in);
        w = BenchData.uniform(be, rng, "w", -0.1f, 0.1f, in, out);
        b = BenchData.uniform(be, rng, "b", -0.1f, 0.1f, out);
        y = be.floats("y", rows, out);
        dy = BenchData.uniform(be, rng, "dy", -0.1f, 0.1f, rows, out);
        dx = be.floats("dx", rows, in);
        dw = be.floats("dw", in, out);
        db = be.floats("db", out);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }

    @Benchmark
    public Tensor forward() {
        be.linear(y, x, w, b, rows, in, out);
        be.synchronize();
        return y;
    }

    @Benchmark
    public Tensor backward() {
        be.linearBackward(dx, dw, db, dy, x, w, rows, in, out);
        be.synchronize();
        return dx;
    }
}
