package io.augur.jmh;

import io.augur.backend.Backend;
import io.augur.backend.Backends;
import io.augur.backend.Recurrence;
import io.augur.backend.RecurrenceParams;
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
 * DIEN's recurrences at the Amazon config: GRU (the interest extractor, input E = 36) and AUGRU
 * (the interest evolution, input H = 36, attention-gated), hidden H = 36, over B samples of
 * T = 100 positions with ~18 valid. Forward writes every state and the last one; backward takes
 * gradients for both.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RecurrenceBench {
    @Param({"GRU", "AUGRU"})
    public Recurrence kind;

    @Param({"128", "1024"})
    public int batch;

    @Param({"cpu"})
    public String device;

    @Param({"0"})
    public int threads;

    Backend be;
    RecurrenceParams params, grads;
    Workspace ws;
    Tensor hOut, hLast, x, att, lengths, dHOut, dHLast, dx, dAtt;
    int in;

    @Setup(Level.Trial)
    public void setup() {
        int B = batch, T = BenchData.T, H = BenchData.H, G = 3 * H;
        in = kind == Recurrence.GRU ? BenchData.E : H;
        be = Backends.create(device, threads);
        SplittableRandom rng = new SplittableRandom(13);
        float r = (float) (1 / Math.sqrt(H));
        params = new RecurrenceParams(BenchData.uniform(be, rng, "wx", -r, r, in, G), BenchData.uniform(be, rng, "wh", -r, r, H, G),
                BenchData.uniform(be, rng, "bx", -r, r, G), BenchData.uniform(be, rng, "bh", -r, r, G));
        grads = new RecurrenceParams(be.floats("gwx", in, G), be.floats("gwh", H, G), be.floats("gbx", G), be.floats("gbh", G));
        ws = be.recurrenceWorkspace("ws", B, T, in, H);
        hOut = be.floats("hOut", B * T, H);
        hLast = be.floats("hLast", B, H);
        x = BenchData.uniform(be, rng, "x", -1, 1, B * T, in);
        att = kind.usesAttention() ? BenchData.uniform(be, rng, "att", 0, 0.2f, B, T) : null;
        lengths = BenchData.ints(be, "lengths", BenchData.lengths(rng, B, BenchData.MEAN_LENGTH), B);
        dHOut = BenchData.uniform(be, rng, "dHOut", -0.1f, 0.1f, B * T, H);
        dHLast = BenchData.uniform(be, rng, "dHLast", -0.1f, 0.1f, B, H);
        dx = be.floats("dx", B * T, in);
        dAtt = kind.usesAttention() ? be.floats("dAtt", B, T) : null;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        be.close();
    }

    @Benchmark
    public Tensor forward() {
        be.recurrence(hOut, hLast, ws, x, att, lengths, params, kind, batch, BenchData.T, in, BenchData.H);
        be.synchronize();
        return hLast;
    }

    @Benchmark
    public Tensor forwardBackward() {
        be.recurrence(hOut, hLast, ws, x, att, lengths, params, kind, batch, BenchData.T, in, BenchData.H);
        be.recurrenceBackward(dx, dAtt, grads, dHOut, dHLast, ws, x, att, lengths, params, kind, batch, BenchData.T, in, BenchData.H);
        be.synchronize();
        return dx;
    }
}
